import Foundation
import RecTransport

#if canImport(Glibc)
    import Glibc
#endif

/// What is at an `ipc://` endpoint's path before the broker binds it: libzmq unlinks whatever is there first, so a
/// bind took over a socket another broker was listening on (its workers, reconnecting, reached nobody) and deleted a
/// regular file in the socket's place (`--frontend ipc://recpool.toml` replaced the configuration file).
///
/// A bind is refused, as libzmq refuses a TCP address in use (`EADDRINUSE`), when the path holds anything but a socket
/// (the broker then names it: exit 73) or a socket that accepts a connection (another process listens on it: exit 69).
/// A socket nobody accepts on is a stale one, left by a broker that was killed: libzmq replaces it, as before.
enum IPCBindCheck {
    /// The error of binding `endpoint` when its path is occupied, or nil (a `tcp://` endpoint, an abstract socket, a
    /// free path or a stale socket).
    static func occupied(_ endpoint: String) -> ZMQError? {
        guard endpoint.hasPrefix("ipc://") else { return nil }
        let path = String(endpoint.dropFirst("ipc://".count))
        guard !path.isEmpty, !path.hasPrefix("@"), path != "*" else { return nil }
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let inUse = ZMQError(code: EADDRINUSE, operation: "zmq_bind")
        guard info.st_mode & S_IFMT == S_IFSOCK else { return inUse }
        return accepts(path) ? inUse : nil
    }

    /// Whether a Unix stream socket at `path` accepts a connection now.
    private static func accepts(_ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }  // too long to bind either: the bind names that
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}
