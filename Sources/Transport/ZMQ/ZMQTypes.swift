/// The kind of a ZeroMQ socket. Each case names the libzmq macro it stands for.
public enum ZMQSocketType: Sendable, Hashable {
    /// `ZMQ_ROUTER`: addresses peers by routing identity; used by the broker for both faces.
    case router
    /// `ZMQ_DEALER`: asynchronous request/reply peer; used by clients and workers.
    case dealer
    /// `ZMQ_PAIR`: exclusive pair, used for `inproc://` hand-offs.
    case pair
}

/// Flags for a send or receive call.
public struct ZMQFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `ZMQ_DONTWAIT`: return at once instead of blocking.
    public static let dontWait = ZMQFlags(rawValue: 1)
}

/// Events a poll item waits for or reports.
public struct ZMQPollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    /// `ZMQ_POLLIN`: at least one message (or byte, for a raw fd) can be read.
    public static let readable = ZMQPollEvents(rawValue: 1)
    /// `ZMQ_POLLOUT`: at least one message can be sent without blocking.
    public static let writable = ZMQPollEvents(rawValue: 2)
}

/// CurveZMQ (RFC 26) key material as Z85 text, 40 characters a key.
public struct CurveKeyPair: Sendable, Hashable {
    /// The public key, Z85-encoded.
    public let publicKey: String
    /// The secret key, Z85-encoded.
    public let secretKey: String

    /// Creates a key pair from existing Z85 keys.
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// A multipart message as received, with the metadata libzmq attached to it.
public struct ZMQMessage: Sendable {
    /// The frames in order. A ROUTER's first frame is the sender's routing identity.
    public var frames: [[UInt8]]
    /// Frames after ``frames`` that the receiver asked to keep inside libzmq, uncopied
    /// (``ZMQRestFrames/hold``), in order.
    public var held: [ZMQFrame]
    /// The ZAP `User-Id` of the authenticated peer (`zmq_msg_gets(msg, "User-Id")`), when asked for.
    public var userId: String?
    /// The remote IP address of the connection (`zmq_msg_gets(msg, "Peer-Address")`), when asked for.
    public var peerAddress: String?
    /// Frames received after ``frames`` (and ``held``) and dropped without being copied, because the receiver
    /// decided from the leading frames that it would not read them (see
    /// ``ZMQSocket/receive(dontWait:wantMetadata:peekFrames:keepRest:)``).
    public var discardedFrames: Int
    /// The bytes of every frame of the message as it arrived, kept or not (a ROUTER's identity
    /// frame included).
    public var byteCount: Int
    /// The frames of the message as it arrived, kept or not (a ROUTER's identity frame included).
    public var frameCount: Int

    /// Creates a message from frames; `byteCount` and `frameCount` default to those of `frames`.
    public init(
        frames: [[UInt8]], held: [ZMQFrame] = [], userId: String? = nil, peerAddress: String? = nil,
        discardedFrames: Int = 0, byteCount: Int? = nil, frameCount: Int? = nil
    ) {
        self.frames = frames
        self.held = held
        self.userId = userId
        self.peerAddress = peerAddress
        self.discardedFrames = discardedFrames
        self.byteCount = byteCount ?? (frames.reduce(0) { $0 + $1.count } + held.reduce(0) { $0 + $1.count })
        self.frameCount = frameCount ?? frames.count + held.count + discardedFrames
    }
}
