/// A libzmq context: the I/O threads and the registry of sockets.
///
/// This is the only ZeroMQ type that crosses threads. libzmq documents contexts as thread safe
/// ("A ØMQ context is thread safe and may be shared among as many application threads as
/// necessary"), which is why it alone is `@unchecked Sendable`. Sockets are not, and each one lives
/// on the thread that created it.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context.
    public init() {
        handle = LibZMQ.newContext()
    }

    /// Makes every blocking call on this context's sockets return `ETERM`, so owning threads can
    /// close their sockets and exit. Safe to call from any thread, and more than once.
    public func shutdown() {
        LibZMQ.shutdownContext(handle)
    }

    deinit {
        LibZMQ.shutdownContext(handle)
        LibZMQ.terminateContext(handle)
    }

    /// The libzmq version in use, such as `4.3.4`.
    public static var libraryVersion: String {
        let v = LibZMQ.version()
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// Whether libzmq was built with a capability, such as `"curve"` (`zmq_has`).
    public static func has(_ capability: String) -> Bool { LibZMQ.has(capability) }

    /// Generates a new CURVE key pair (`zmq_curve_keypair`).
    public static func generateCurveKeyPair() throws(ZMQError) -> CurveKeyPair { try LibZMQ.curveKeyPair() }

    /// Derives the public key from a Z85 secret key (`zmq_curve_public`).
    public static func curvePublicKey(fromSecret secret: String) throws(ZMQError) -> String {
        try LibZMQ.curvePublicKey(fromSecret: secret)
    }

    /// Z85-encodes binary key material (`zmq_z85_encode`), as a ZAP handler needs for the 32-byte
    /// CURVE public key it is given. Returns `nil` unless the length is a non-zero multiple of 4.
    public static func z85Encode(_ bytes: [UInt8]) -> String? { LibZMQ.z85Encode(bytes) }
}
