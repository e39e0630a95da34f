/// One received frame kept inside libzmq, uncopied: the `zmq_msg_t` itself, owned by this object
/// and closed when the last reference goes.
///
/// The broker holds a request's payload this way from the frontend to the backend: sending it
/// (``ZMQSocket/sendFrame(_:more:dontWait:)``) gives libzmq a `zmq_msg_copy` of it, which for any
/// frame over libzmq's 33-byte inline limit only adds a reference to the same buffer, so the bytes
/// are never copied and the frame can be sent again (a re-dispatch) while this object lives.
///
/// Immutable after it is created and read only through libzmq's own calls (`zmq_msg_data`,
/// `zmq_msg_copy`, whose reference count is atomic), so it may cross threads: hence
/// `@unchecked Sendable`.
public final class ZMQFrame: @unchecked Sendable {
    /// A heap `zmq_msg_t`, from ``LibZMQ/newMessage()``; it never moves.
    let message: UnsafeMutableRawPointer
    /// The frame's size in bytes.
    public let count: Int
    private let data: UnsafeRawPointer?

    /// Takes ownership of `message` (a heap `zmq_msg_t` holding a received frame).
    init(taking message: UnsafeMutableRawPointer) {
        self.message = message
        count = LibZMQ.messageSize(message)
        data = LibZMQ.messageData(message)
    }

    deinit { LibZMQ.freeMessage(message) }

    /// Calls `body` with the frame's bytes, in place inside libzmq's buffer.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count))
    }
}

/// What a receiver does with the frames of a message after the ones it peeked at.
public enum ZMQRestFrames: Sendable {
    /// Close them inside libzmq without copying (a refused or oversized message).
    case discard
    /// Copy them into ``ZMQMessage/frames``.
    case copy
    /// Keep them inside libzmq as ``ZMQMessage/held`` frames, uncopied, to be forwarded.
    case hold
}
