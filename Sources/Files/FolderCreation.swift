import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates a folder and its missing parents one at a time, as `mkdir -p` does (POSIX.1-2017, mkdir(1)), so that a
/// failure names the path it failed on: a file in the way three levels up, or a parent without write permission.
/// Foundation's `createDirectory(withIntermediateDirectories:)` reported either as "The operation could not be
/// completed (NSCocoaErrorDomain error 512)" about the folder asked for.
public enum FolderCreation {
    /// The ``FileFailure/operation`` when a path that must be a folder is another kind of file.
    public static let fileInTheWayOperation = "create a folder at: a file of that name is in the way"

    /// Creates `path` (mode 0777 less the umask, as `mkdir -p` and Foundation create folders) and each missing parent; a folder that exists already, or a
    /// symbolic link to one, is left as it is.
    /// - Parameter path: the folder, absolute or relative to the working directory; empty is refused.
    /// - Throws: ``FileFailure`` naming the first path that failed: ``fileInTheWayOperation`` when it exists and
    ///   is not a folder, `create a folder at: it is a symbolic link to …, which does not exist` for a dangling link,
    ///   `create a folder at` with the system's error for a `mkdir(2)` that failed
    ///   (EACCES, EROFS, ENOSPC, ELOOP, ENAMETOOLONG), `inspect` for a `stat(2)` that failed otherwise than ENOENT.
    public static func create(_ path: String) throws(FileFailure) {
        guard !path.isEmpty else { throw FileFailure(operation: "create a folder at", path: path, errno: .noSuchFileOrDirectory) }
        for prefix in prefixes(of: path) {
            var info = stat()
            if stat(prefix, &info) == 0 {
                if info.st_mode & S_IFMT == S_IFDIR { continue }
                throw FileFailure(operation: fileInTheWayOperation, path: prefix, errno: .fileExists)
            }
            let statError = errno
            guard statError == ENOENT else {
                throw FileFailure(operation: "inspect", path: prefix, errno: Errno(rawValue: statError))
            }
            if mkdir(prefix, 0o777) != 0 {
                let error = errno
                // Another process created it between the stat and the mkdir: a folder is what was wanted.
                if error == EEXIST, stat(prefix, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { continue }
                // A symbolic link whose target does not exist (a disk not mounted): named as one, with its target.
                if error == EEXIST, lstat(prefix, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                    var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let length = readlink(prefix, &target, Int(PATH_MAX))
                    let destination = length > 0 ? String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
                    throw FileFailure(
                        operation: "create a folder at: it is a symbolic link to \(destination), which does not exist",
                        path: prefix, errno: .fileExists)
                }
                throw FileFailure(operation: "create a folder at", path: prefix, errno: Errno(rawValue: error))
            }
        }
    }

    /// `a`, `a/b`, `a/b/c` for `a/b/c`; `/x`, `/x/y` for `/x/y`. Repeated and trailing slashes and `.` components
    /// add no prefix; `..` is kept as written (its parent is what the system resolves it to).
    static func prefixes(of path: String) -> [String] {
        let absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        var out: [String] = []
        var current = absolute ? "" : nil as String?
        for part in parts {
            current = current.map { "\($0)/\(part)" } ?? String(part)
            out.append(current!)
        }
        return out
    }
}
