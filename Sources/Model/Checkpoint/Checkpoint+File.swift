#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Checkpoint {
    /// Writes the checkpoint atomically: to a temporary file in the same directory, `fsync`,
    /// then `rename` over `path`, so a reader sees either the old file or the whole new one.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func write(toFile path: String) throws(CheckpointError) {
        let bytes = encoded()
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .io(path: temp, operation: "create", errno: errno) }
        var written = 0
        var failure: CheckpointError? = nil
        bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io(path: temp, operation: "write", errno: errno)
                    return
                }
                written += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = .io(path: temp, operation: "fsync", errno: errno) }
        if close(fd) != 0 && failure == nil { failure = .io(path: temp, operation: "close", errno: errno) }
        if failure == nil && rename(temp, path) != 0 { failure = .io(path: path, operation: "rename onto", errno: errno) }
        if let failure {
            unlink(temp)
            throw failure
        }
    }

    /// Reads and decodes a checkpoint file.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` if the file cannot be read, or any
    ///   decoding error from ``init(decoding:)``.
    public static func read(fromFile path: String) throws(CheckpointError) -> Checkpoint {
        try Checkpoint(decoding: readAllBytes(path))
    }

    static func readAllBytes(_ path: String) throws(CheckpointError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}

/// `strerror` text for an errno value.
func errnoDescription(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return "\(String(cString: s)) (errno \(e))"
}
