import Foundation

/// What a broker's start creates for its `--state-dir`, so that a start that fails (a port in use) leaves the file
/// system as it found it (docs/OPERATIONS.md, exit 69): the outermost folder of the path that did not exist
/// (`a/` for a missing `a/b/c`, not only `c`), or, for a folder that existed empty, what the start put in it.
public struct StateDirectoryCreation: Sendable {
    /// The outermost folder the start creates, or nil when the state directory exists.
    public let createdRoot: String?
    /// The state directory when it existed and was empty (its contents are the start's).
    public let emptied: String?

    /// Records what exists before the start.
    public init(stateDirectory: String) {
        let manager = FileManager.default
        if manager.fileExists(atPath: stateDirectory) {
            createdRoot = nil
            let contents = (try? manager.contentsOfDirectory(atPath: stateDirectory)) ?? ["?"]
            emptied = contents.isEmpty ? stateDirectory : nil
        } else {
            var root = URL(fileURLWithPath: stateDirectory).standardizedFileURL
            while case let parent = root.deletingLastPathComponent(), parent.path != root.path,
                !manager.fileExists(atPath: parent.path)
            {
                root = parent
            }
            createdRoot = root.path
            emptied = nil
        }
    }

    /// Removes what the start created.
    public func undo() {
        let manager = FileManager.default
        if let createdRoot { try? manager.removeItem(atPath: createdRoot) }
        if let emptied, let contents = try? manager.contentsOfDirectory(atPath: emptied) {
            for item in contents { try? manager.removeItem(atPath: "\(emptied)/\(item)") }
        }
    }
}
