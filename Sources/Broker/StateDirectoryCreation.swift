import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a broker's start creates for its `--state-dir`, so that a start that fails (a port in use) leaves the file
/// system as it found it (docs/OPERATIONS.md, exit 69): the outermost folder of the path that did not exist
/// (`a/` for a missing `a/b/c`, not only `c`), or, for a folder that existed empty, what the start put in it.
public struct StateDirectoryCreation: Sendable {
    /// The outermost folder the start creates, or nil when the state directory exists.
    public let createdRoot: String?
    /// The state directory when it existed and was empty (its contents are the start's).
    public let emptied: String?

    /// Whether anything is at `path`, a symbolic link included whatever it points to: only a lookup that finds no entry
    /// (ENOENT, or ENOTDIR under a file) says nothing is there. `fileExists` follows links, so a dangling link (a disk
    /// not mounted under `/srv/recpool`) or a looping one read as missing, was recorded as the start's, and a failed
    /// start deleted the operator's link.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        if lstat(path, &info) == 0 { return true }
        return errno != ENOENT && errno != ENOTDIR
    }

    /// Records what exists before the start.
    public init(stateDirectory: String) {
        let manager = FileManager.default
        if Self.exists(stateDirectory) {
            createdRoot = nil
            let contents = (try? manager.contentsOfDirectory(atPath: stateDirectory)) ?? ["?"]
            emptied = contents.isEmpty ? stateDirectory : nil
        } else {
            var root = URL(fileURLWithPath: stateDirectory).standardizedFileURL
            while case let parent = root.deletingLastPathComponent(), parent.path != root.path,
                !Self.exists(parent.path)
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
