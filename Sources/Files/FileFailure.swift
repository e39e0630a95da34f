import SystemPackage

/// A failed file operation: what was attempted, on which path, and the system's error.
public struct FileFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The operation that failed: `open`, `read`, `create`, `write`, `fsync`, `close` or `rename onto`.
    public var operation: String
    /// The path it failed on (for a write, the temporary file until the final rename).
    public var path: String
    /// The system's error code.
    public var errno: Errno

    /// Creates a failure.
    public init(operation: String, path: String, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// "cannot OPERATION PATH: <strerror> (errno N)"; an operation that explains itself (`open: it is a pipe (FIFO)
    /// and …`) is "cannot open PATH: it is a pipe (FIFO) and …", its errno left out.
    public var description: String {
        if let colon = operation.firstIndex(of: ":") {
            let verb = operation[..<colon]
            let why = operation[operation.index(after: colon)...].drop { $0 == " " }
            return "cannot \(verb) \(path): \(why)"
        }
        return "cannot \(operation) \(path): \(errno) (errno \(errno.rawValue))"
    }
}
