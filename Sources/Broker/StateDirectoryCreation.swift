import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a broker's start creates for its `--state-dir`, so that a start that fails (a port in use) leaves the file
/// system as it found it (docs/OPERATIONS.md, exit 69): the outermost folder of the path that did not exist
/// (`a/` for a missing `a/b/c`, not only `c`), or, for a folder that existed empty, what the start put in it.
///
/// The path is read as the system reads it, never tidied as text: `link/../new` is the folder `new` beside the link's
/// target, and a dangling or looping symbolic link is something that exists. Tidied, `link/../new` was `./new`, and a
/// failed start removed an operator's folder of that name; a dangling link read as missing was removed too.
public struct StateDirectoryCreation: Sendable {
    /// The outermost folder the start creates, as written, or nil when the state directory exists.
    public let createdRoot: String?
    /// The state directory when it existed and was empty (its contents are the start's).
    public let emptied: String?

    /// `path` without trailing `/` and `/.` components, which make `lstat` follow a final symbolic link (`dangling/`
    /// reads as missing where `dangling` is a link); `/` stays `/`.
    static func entry(_ path: String) -> String {
        var entry = path
        while entry.count > 1 && (entry.hasSuffix("/") || entry.hasSuffix("/.")) {
            entry.removeLast(entry.hasSuffix("/") ? 1 : 2)
        }
        return entry
    }

    /// Whether anything is at `path`, a symbolic link included whatever it points to: only a lookup that finds no entry
    /// (ENOENT, or ENOTDIR under a file) says nothing is there. `fileExists` follows links, so a dangling link (a disk
    /// not mounted under `/srv/recpool`) or a looping one read as missing, was recorded as the start's, and a failed
    /// start deleted the operator's link.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        if lstat(entry(path), &info) == 0 { return true }
        return errno != ENOENT && errno != ENOTDIR
    }

    /// The folder `path` lies in, as written (`a/b` for `a/b/c`, `link/..` for `link/../new`), or nil for a path of one
    /// component, which lies in the working directory.
    static func parent(_ path: String) -> String? {
        let written = entry(path)
        guard let slash = written.lastIndex(of: "/") else { return nil }
        if slash == written.startIndex { return written == "/" ? nil : "/" }
        return String(written[..<slash])
    }

    /// Records what exists before the start.
    public init(stateDirectory: String) {
        let manager = FileManager.default
        if Self.exists(stateDirectory) {
            createdRoot = nil
            let contents = (try? manager.contentsOfDirectory(atPath: stateDirectory)) ?? ["?"]
            emptied = contents.isEmpty ? stateDirectory : nil
        } else {
            var root = Self.entry(stateDirectory)
            while let parent = Self.parent(root), !Self.exists(parent) { root = parent }
            createdRoot = root
            emptied = nil
        }
    }

    /// Removes what the start created: the created root as the system resolves it now (`realpath`), so a path written
    /// through a link removes the folder the start made there, and nothing when it does not resolve.
    public func undo() {
        let manager = FileManager.default
        if let createdRoot, let resolved = realpath(createdRoot, nil) {
            let path = String(cString: resolved)
            free(resolved)
            try? manager.removeItem(atPath: path)
        }
        if let emptied, let contents = try? manager.contentsOfDirectory(atPath: emptied) {
            for item in contents { try? manager.removeItem(atPath: "\(emptied)/\(item)") }
        }
    }
}
