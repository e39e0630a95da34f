#if canImport(Glibc)
    import Glibc
#endif

/// An error reported by libzmq, keeping its numeric `errno` code.
///
/// Modelled on swift-system's `Errno`: a value type with named constants for the codes RecPool
/// handles specially. `EINTR` never surfaces (the wrappers retry it) and `EAGAIN` surfaces as a
/// value (`nil` or `false`) rather than an error, so callers meet this type only for real failures.
public struct ZMQError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `errno` value libzmq reported (`zmq_errno()`).
    public let code: Int32
    /// The libzmq call that failed, such as `zmq_bind`.
    public let operation: String

    /// Creates an error from a code and the call that produced it.
    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// libzmq's own description of the code (`zmq_strerror`).
    public var message: String { LibZMQ.describe(code) }

    public var description: String { "\(operation): \(message) (errno \(code))" }

    /// The context was terminated (`ETERM`): the owning thread should close its socket and exit.
    public var isTerminated: Bool { code == LibZMQ.etermCode }
    /// A ROUTER with `ZMQ_ROUTER_MANDATORY` could not route to the named peer (`EHOSTUNREACH`).
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    /// An endpoint string was malformed or names an unsupported transport (`EINVAL`, `EPROTONOSUPPORT`).
    public var isInvalidEndpoint: Bool { code == EINVAL || code == EPROTONOSUPPORT || code == ENOCOMPATPROTO_ }
    /// The address is already bound by someone else (`EADDRINUSE`).
    public var isAddressInUse: Bool { code == EADDRINUSE }

    private var ENOCOMPATPROTO_: Int32 { LibZMQ.enocompatprotoCode }
}
