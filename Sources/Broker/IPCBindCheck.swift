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
/// (a file, a folder, a symbolic link: the broker then names it, exit 73) or a socket that is not known to be stale
/// (another process listens on it, or a probe cannot tell: exit 69). Only a socket whose connect is refused
/// (`ECONNREFUSED`: nobody listens, a broker that was killed left it) is left to libzmq to replace, as before. A path
/// too long for a Unix socket is refused (`ENAMETOOLONG`) before libzmq unlinks anything.
enum IPCBindCheck {
    /// The error of binding `endpoint` when its path is occupied, or nil (a `tcp://` endpoint, an abstract socket, a
    /// free path or a stale socket).
    static func occupied(_ endpoint: String) -> ZMQError? {
        guard endpoint.hasPrefix("ipc://") else { return nil }
        let path = String(endpoint.dropFirst("ipc://".count))
        // libzmq reads any path starting with `*` as a wildcard (a name of its own choosing), and `@` as abstract.
        guard !path.isEmpty, !path.hasPrefix("@"), !path.hasPrefix("*") else { return nil }
        var address = sockaddr_un()
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return ZMQError(code: ENAMETOOLONG, operation: "zmq_bind")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let inUse = ZMQError(code: EADDRINUSE, operation: "zmq_bind")
        guard info.st_mode & S_IFMT == S_IFSOCK else { return inUse }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        return isStale(&address) ? nil : inUse
    }

    /// Whether nobody listens on the socket at `address`: its connect is refused (or the file went away). A probe that
    /// connects, waits (a listener whose backlog is full), or fails otherwise (no permission to connect, a datagram
    /// socket) cannot call it stale. The probe never blocks.
    private static func isStale(_ address: inout sockaddr_un) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result != 0 && (errno == ECONNREFUSED || errno == ENOENT)
    }
}
