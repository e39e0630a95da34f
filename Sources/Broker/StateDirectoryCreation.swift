import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a broker's start creates for its `--state-dir`, so that a start that fails (a port in use) leaves the file
/// system as it found it (docs/OPERATIONS.md, exit 69): the folders `mkdir -p` makes for the path (`a` and `a/b` for a
/// missing `a/b/c`, each by its resolved path), and in the state directory only the store's own entries that were not
/// there before (`recpool.sqlite` and its companions, `recpool.lock`, `blobs`). Nothing else in an existing folder is
/// ever touched, and a folder is removed only once it is empty (`rmdir(2)`).
///
/// The path is read as the system reads it, never tidied as text: `link/../new` is the folder `new` beside the link's
/// target, `new/..` is the working directory (the store's files land there, and only they are removed), `a/../b` with
/// `a` missing creates `a` and then `b` beside it, and a dangling or looping symbolic link is something that exists,
/// never removed.
public struct StateDirectoryCreation: Sendable {
    /// The folders the start creates, as absolute resolved paths, outermost first: removed innermost first, each only
    /// if empty.
    public let createdFolders: [String]
    /// The state directory as the system resolves it once its folders exist (absolute), or nil when it cannot be
    /// resolved (a dangling or looping link, a file in the way, a folder that cannot be searched): the start then
    /// fails before writing into it.
    public let resolved: String?
    /// The store's entries that were in ``resolved`` before the start (or could not be looked up): never removed.
    public let preexisting: Set<String>

    /// The entries a start may create in the state directory (``RecStore``, its lock and its blob folder). The
    /// database's companions go with it: a database that existed keeps its log and shared memory whatever they are.
    static let storeEntries = [
        "recpool.sqlite", "recpool.sqlite-wal", "recpool.sqlite-shm", "recpool.sqlite-journal", "recpool.lock", "blobs",
    ]

    /// Records what exists before the start.
    /// - Parameter stateDirectory: the `--state-dir` as given, absolute or relative to the working directory.
    public init(stateDirectory: String) {
        let (folders, resolved) = Self.resolve(stateDirectory)
        createdFolders = folders
        self.resolved = resolved
        var existing = Set<String>()
        if let resolved, folders.last != resolved {
            var info = stat()
            for name in Self.storeEntries where lstat("\(resolved)/\(name)", &info) == 0 || errno != ENOENT {
                existing.insert(name)
            }
        }
        preexisting = existing
    }

    /// The folders `FolderCreation` will make for `path` and the folder `path` then names, both resolved as the
    /// system resolves them: an existing component through `realpath(3)` (links followed), a missing one appended (a
    /// folder the start makes is no link, so a `..` after it is its lexical parent).
    /// - Returns: the created folders outermost first, and the state directory, nil when a component is something
    ///   `mkdir -p` stops at (a file, a dangling or looping link, a folder that cannot be searched).
    static func resolve(_ path: String) -> (created: [String], resolved: String?) {
        guard !path.isEmpty, let start = realPath(path.hasPrefix("/") ? "/" : ".") else { return ([], nil) }
        var current = start
        var created: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".":
                continue
            case "..":
                if let slash = current.lastIndex(of: "/") {
                    current = slash == current.startIndex ? "/" : String(current[..<slash])
                }
            default:
                let candidate = current == "/" ? "/\(component)" : "\(current)/\(component)"
                var info = stat()
                if created.contains(candidate) {
                    current = candidate  // `a/../a` with `a` missing: made once
                } else if lstat(candidate, &info) != 0 {
                    guard errno == ENOENT else { return (created, nil) }
                    created.append(candidate)
                    current = candidate
                } else if info.st_mode & S_IFMT == S_IFDIR {
                    current = candidate
                } else if info.st_mode & S_IFMT == S_IFLNK, let target = realPath(candidate),
                    stat(target, &info) == 0, info.st_mode & S_IFMT == S_IFDIR
                {
                    current = target
                } else {
                    return (created, nil)
                }
            }
        }
        return (created, current)
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Removes what the start created: the store's entries that were not in the state directory before, then the created
    /// folders innermost first: the state directory with whatever the start put in it, the others only when empty.
    /// The store's entries are removed while this process holds the directory's lock (``StateDirectoryLock``'s record
    /// lock on `recpool.lock`), taken here: when another process holds it (a broker that started beside this one owns
    /// them), nothing of the store's is removed, and a broker starting meanwhile waits for it or is refused.
    public func undo() {
        let lock = resolved.map(lockAgainstOthers) ?? .none
        if case .heldElsewhere = lock {
            for folder in createdFolders.reversed() where folder != resolved { rmdir(folder) }
            return
        }
        defer { if case .held(let fd) = lock { close(fd) } }
        if let resolved {
            let newDatabase = !preexisting.contains("recpool.sqlite")
            for name in Self.storeEntries where !preexisting.contains(name) {
                if name.hasPrefix("recpool.sqlite") && !newDatabase { continue }
                let path = "\(resolved)/\(name)"
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFDIR {
                    try? FileManager.default.removeItem(atPath: path)
                } else {
                    unlink(path)
                }
            }
        }
        for folder in createdFolders.reversed() {
            if folder == resolved {
                try? FileManager.default.removeItem(atPath: folder)
            } else {
                rmdir(folder)
            }
        }
    }

    /// The state directory's lock as ``undo()`` finds it.
    private enum Lock {
        /// No lock file: nothing to lock.
        case none
        /// Taken by this process on this descriptor (closing it releases the lock).
        case held(Int32)
        /// Another process holds it.
        case heldElsewhere
    }

    /// Takes a write lock on the whole of `recpool.lock` (`fcntl(F_SETLK)`, the record lock ``StateDirectoryLock``
    /// takes; this process's own lock, from its store still being closed, does not conflict with it). Closing the
    /// descriptor later drops this process's record locks on the file, which a failed start no longer needs.
    private func lockAgainstOthers(_ directory: String) -> Lock {
        let fd = open("\(directory)/recpool.lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .none : .heldElsewhere }
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_SETLK, &request) == 0 else {
            close(fd)
            return .heldElsewhere
        }
        return .held(fd)
    }
}
