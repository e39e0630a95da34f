/// A socket option and its value. Each name stands for the libzmq macro it is documented with.
public enum SocketOption: Sendable, Hashable {
    /// The option names RecPool sets.
    public enum Name: Sendable, Hashable {
        /// `ZMQ_LINGER` (ms): how long unsent messages survive `zmq_close`. RecPool uses 0.
        case linger
        /// `ZMQ_ROUTER_MANDATORY`: an unroutable message is an error, not a silent drop.
        case routerMandatory
        /// `ZMQ_ROUTING_ID`: the identity a DEALER presents to a ROUTER.
        case routingId
        /// `ZMQ_SNDHWM`: the send queue's limit, in messages.
        case sendHighWaterMark
        /// `ZMQ_RCVHWM`: the receive queue's limit, in messages.
        case receiveHighWaterMark
        /// `ZMQ_MAXMSGSIZE`: the largest inbound frame, in bytes (checked per frame).
        case maxMessageSize
        /// `ZMQ_RECONNECT_IVL` (ms).
        case reconnectInterval
        /// `ZMQ_RECONNECT_IVL_MAX` (ms).
        case reconnectIntervalMax
        /// `ZMQ_IMMEDIATE`: queue only to completed connections.
        case immediate
        /// `ZMQ_CURVE_SERVER`: act as the CURVE server.
        case curveServer
        /// `ZMQ_CURVE_PUBLICKEY`: this socket's long-term public key (Z85).
        case curvePublicKey
        /// `ZMQ_CURVE_SECRETKEY`: this socket's long-term secret key (Z85).
        case curveSecretKey
        /// `ZMQ_CURVE_SERVERKEY`: the server's public key, on a CURVE client (Z85).
        case curveServerKey
        /// `ZMQ_ZAP_DOMAIN`: the domain passed to the ZAP handler.
        case zapDomain
        /// `ZMQ_MECHANISM`: the security mechanism in use (read only).
        case mechanism
        /// `ZMQ_HANDSHAKE_IVL` (ms): how long a security handshake may take.
        case handshakeInterval
        /// `ZMQ_IPV6`: let a `tcp://` socket bind or connect to IPv6 addresses (off in libzmq by default).
        case ipv6
    }

    /// A 32-bit integer option.
    case int(Name, Int32)
    /// A 64-bit integer option.
    case int64(Name, Int64)
    /// A binary or string option.
    case bytes(Name, [UInt8])

    /// The option's name.
    public var name: Name {
        switch self {
        case .int(let name, _), .int64(let name, _), .bytes(let name, _): name
        }
    }

    /// `ZMQ_LINGER`.
    public static func linger(milliseconds: Int32) -> SocketOption { .int(.linger, milliseconds) }
    /// `ZMQ_ROUTER_MANDATORY`.
    public static func routerMandatory(_ on: Bool) -> SocketOption { .int(.routerMandatory, on ? 1 : 0) }
    /// `ZMQ_ROUTING_ID`.
    public static func routingId(_ id: [UInt8]) -> SocketOption { .bytes(.routingId, id) }
    /// `ZMQ_SNDHWM`.
    public static func sendHighWaterMark(_ messages: Int32) -> SocketOption { .int(.sendHighWaterMark, messages) }
    /// `ZMQ_RCVHWM`.
    public static func receiveHighWaterMark(_ messages: Int32) -> SocketOption {
        .int(.receiveHighWaterMark, messages)
    }
    /// `ZMQ_MAXMSGSIZE`.
    public static func maxMessageSize(_ bytes: Int64) -> SocketOption { .int64(.maxMessageSize, bytes) }
    /// `ZMQ_RECONNECT_IVL`.
    public static func reconnectInterval(milliseconds: Int32) -> SocketOption {
        .int(.reconnectInterval, milliseconds)
    }
    /// `ZMQ_RECONNECT_IVL_MAX`.
    public static func reconnectIntervalMax(milliseconds: Int32) -> SocketOption {
        .int(.reconnectIntervalMax, milliseconds)
    }
    /// `ZMQ_IMMEDIATE`.
    public static func immediate(_ on: Bool) -> SocketOption { .int(.immediate, on ? 1 : 0) }
    /// `ZMQ_CURVE_SERVER`.
    public static func curveServer(_ on: Bool) -> SocketOption { .int(.curveServer, on ? 1 : 0) }
    /// `ZMQ_CURVE_PUBLICKEY`, from Z85 text.
    public static func curvePublicKey(_ z85: String) -> SocketOption { .bytes(.curvePublicKey, Array(z85.utf8)) }
    /// `ZMQ_CURVE_SECRETKEY`, from Z85 text.
    public static func curveSecretKey(_ z85: String) -> SocketOption { .bytes(.curveSecretKey, Array(z85.utf8)) }
    /// `ZMQ_CURVE_SERVERKEY`, from Z85 text.
    public static func curveServerKey(_ z85: String) -> SocketOption { .bytes(.curveServerKey, Array(z85.utf8)) }
    /// `ZMQ_ZAP_DOMAIN`.
    public static func zapDomain(_ domain: String) -> SocketOption { .bytes(.zapDomain, Array(domain.utf8)) }
    /// `ZMQ_IPV6`.
    public static func ipv6(_ on: Bool) -> SocketOption { .int(.ipv6, on ? 1 : 0) }
    /// `ZMQ_HANDSHAKE_IVL`.
    public static func handshakeInterval(milliseconds: Int32) -> SocketOption {
        .int(.handshakeInterval, milliseconds)
    }
}
