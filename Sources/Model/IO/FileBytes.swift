#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which operation and its `errno`.
struct SystemCallFailure: Error {
    var operation: String
    var errno: Int32
}

/// Reads a whole file with POSIX calls, keeping `errno` on failure.
/// - Returns: The bytes, or the failing operation and its errno.
func readWholeFile(_ path: String) -> Result<[UInt8], SystemCallFailure> {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return .failure(SystemCallFailure(operation: "open", errno: errno)) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return .failure(SystemCallFailure(operation: "read", errno: errno))
        }
        if n == 0 { return .success(out) }
        out.append(contentsOf: chunk[0..<n])
    }
}

/// Writes a whole file atomically: temporary file in the same directory, `fsync`, `rename`.
/// - Returns: `nil`, or the failing operation, path and errno.
func writeWholeFileAtomically(_ bytes: [UInt8], to path: String) -> (operation: String, path: String, errno: Int32)? {
    let temp = "\(path).tmp-\(getpid())"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return ("create", temp, errno) }
    var failure: (String, String, Int32)? = nil
    bytes.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                failure = ("write", temp, errno)
                return
            }
            written += n
        }
    }
    if failure == nil && fsync(fd) != 0 { failure = ("fsync", temp, errno) }
    if close(fd) != 0 && failure == nil { failure = ("close", temp, errno) }
    if failure == nil && rename(temp, path) != 0 { failure = ("rename onto", path, errno) }
    if failure != nil { unlink(temp) }
    return failure
}

/// `strerror` text for an errno value.
func errnoDescription(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return "\(String(cString: s)) (errno \(e))"
}
