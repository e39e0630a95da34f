import Foundation
import RecTransport

/// Why an `ipc://` endpoint could not be bound for a reason of the file system (exit 73, `EX_CANTCREAT`), or nil when
/// the failure is one a later start may not meet (another broker listening on the socket: exit 69).
///
/// libzmq binds a Unix socket by unlinking a stale one first; on a folder it may not write, or with a directory or
/// file in the socket's place, that unlink fails and the bind reports `EADDRINUSE`, as it does for a socket in use.
/// The path itself tells them apart.
enum IPCEndpointProblem {
    /// The problem in words, naming the path; nil for a `tcp://` endpoint or a socket that is only in use.
    static func describe(endpoint: String, error: ZMQError) -> String? {
        guard endpoint.hasPrefix("ipc://") else { return nil }
        let path = String(endpoint.dropFirst("ipc://".count))
        guard !path.hasPrefix("@") else { return nil }  // an abstract socket has no file
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        // First: a start that created the state folder removes it again before this runs, so the checks below would
        // blame a missing folder for a path no folder could make bindable.
        let limit = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
        if error.code == ENAMETOOLONG || path.utf8.count > limit {
            return "the socket path is \(path.utf8.count) bytes, more than the \(limit) a Unix socket's path may hold: use a "
                + "shorter path (a shorter --state-dir for recpool local, whose backend is STATE/workers.ipc)"
        }
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFSOCK {
            let kind = info.st_mode & S_IFMT
            let what =
                kind == S_IFDIR ? "a directory" : kind == S_IFLNK ? "a symbolic link" : "a file that is not a socket"
            return "\(path) is \(what): move it away (the socket is created in its place)"
        }
        var folderInfo = stat()
        if stat(folder, &folderInfo) != 0 || folderInfo.st_mode & S_IFMT != S_IFDIR {
            return "the folder \(folder) does not exist"
        }
        if access(folder, W_OK | X_OK) != 0 {
            return "the folder \(folder) is not writable (\(String(cString: strerror(errno)))): the socket cannot be created there"
        }
        switch error.code {
        case EACCES, EPERM, EROFS, ENOENT, ENOTDIR, ENAMETOOLONG:
            return "\(String(cString: strerror(error.code))) (\(path))"
        default:
            return nil
        }
    }
}
