/// An owned ZeroMQ socket. Use it from the one thread that created it; it is deliberately not
/// `Sendable`.
///
/// Every socket starts with `ZMQ_LINGER` 0, so closing never hangs on unsent messages, and every
/// ROUTER starts with `ZMQ_ROUTER_MANDATORY` 1, so a message that cannot be routed is an error the
/// caller handles and counts instead of a silent drop.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    /// The socket's type.
    public let type: ZMQSocketType
    private var closed = false

    /// Opens a socket of `type` in `context`.
    /// - Throws: ``ZMQError`` when libzmq refuses (for instance after the context was shut down).
    public init(_ context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        handle = try LibZMQ.socket(context.handle, type)
        self.type = type
        do {
            try LibZMQ.setOption(handle, .linger(milliseconds: 0))
            if type == .router { try LibZMQ.setOption(handle, .routerMandatory(true)) }
        } catch {
            LibZMQ.close(handle)
            throw error
        }
    }

    deinit { close() }

    /// Closes the socket. Later calls do nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        LibZMQ.close(handle)
    }

    /// Sets an option.
    public func set(_ option: SocketOption) throws(ZMQError) { try LibZMQ.setOption(handle, option) }

    /// Binds to an endpoint such as `tcp://127.0.0.1:5555`, or `tcp://127.0.0.1:*` for a free port.
    /// `tcp://localhost:P` binds 127.0.0.1 and an IPv6 literal (`tcp://[::1]:P`) turns `ZMQ_IPV6` on
    /// first (see ``ZMQEndpoint``); libzmq alone would fail both.
    public func bind(_ endpoint: String) throws(ZMQError) {
        let resolved = try prepare(endpoint)
        try LibZMQ.bind(handle, resolved)
    }

    /// Connects to an endpoint. libzmq connects in the background and reconnects by itself.
    /// `localhost` and IPv6 literals are handled as in ``bind(_:)``.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let resolved = try prepare(endpoint)
        try LibZMQ.connect(handle, resolved)
    }

    /// The endpoint libzmq should see, after turning `ZMQ_IPV6` on when it names an IPv6 address.
    private func prepare(_ endpoint: String) throws(ZMQError) -> String {
        let resolved = ZMQEndpoint(endpoint)
        if resolved.needsIPv6 { try set(.ipv6(true)) }
        return resolved.endpoint
    }

    /// Publishes this socket's `events` on a PAIR socket bound at `monitorEndpoint` (an `inproc://`
    /// name); connect a ``ZMQSocketType/pair`` to it and decode each message with
    /// ``ZMQMonitorEvent/init(frames:)`` (`zmq_socket_monitor`).
    public func monitor(_ monitorEndpoint: String, events: ZMQMonitorEvents) throws(ZMQError) {
        try LibZMQ.monitor(handle, monitorEndpoint, events: events.rawValue)
    }

    /// The endpoint last bound, with a wildcard port resolved (`ZMQ_LAST_ENDPOINT`).
    public func lastEndpoint() throws(ZMQError) -> String { try LibZMQ.lastEndpoint(handle) }

    /// The security mechanism in use: `true` when it is CURVE (`ZMQ_MECHANISM`).
    public func usesCurve() throws(ZMQError) -> Bool {
        try LibZMQ.getIntOption(handle, .mechanism) == PollItem.curveMechanism
    }

    /// Sends a multipart message.
    /// - Returns: `false` if `dontWait` was set and the message could not be queued (`EAGAIN`).
    /// - Throws: ``ZMQError``; on a ROUTER, `isHostUnreachable` when the first frame names no peer.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        let last = frames.count - 1
        for (index, frame) in frames.enumerated() {
            // Once the first frame is accepted, libzmq accepts the rest of the message atomically.
            let sent = try LibZMQ.sendFrame(handle, frame, more: index < last, dontWait: dontWait && index == 0)
            if !sent { return false }
        }
        return true
    }

    /// Sends a routing identity frame followed by `frames`, as one message, without building a
    /// new array (the ROUTER hot path).
    /// - Returns: `false` if `dontWait` was set and the message could not be queued.
    @discardableResult
    public func send(to identity: [UInt8], _ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        guard try LibZMQ.sendFrame(handle, identity, more: !frames.isEmpty, dontWait: dontWait) else { return false }
        let last = frames.count - 1
        for (index, frame) in frames.enumerated() {
            _ = try LibZMQ.sendFrame(handle, frame, more: index < last, dontWait: false)
        }
        return true
    }

    /// Receives one whole multipart message.
    /// - Parameters:
    ///   - dontWait: return `nil` at once when nothing is waiting.
    ///   - wantMetadata: read the `User-Id` and `Peer-Address` metadata of the message.
    /// - Returns: the message, or `nil` when `dontWait` is set and nothing was waiting.
    public func receive(dontWait: Bool = false, wantMetadata: Bool = false) throws(ZMQError) -> ZMQMessage? {
        try LibZMQ.receiveMessage(handle, dontWait: dontWait, wantMetadata: wantMetadata, peekFrames: 0) { _ in .copy }
    }

    /// Receives one whole multipart message, but copies out the frames after the first
    /// `peekFrames` only if `keepRest` wants them. Otherwise they are received and released inside
    /// libzmq, uncopied, and counted in ``ZMQMessage/discardedFrames``: a broker refusing a request
    /// needs its header, not its 100 KB of rows.
    /// - Parameters:
    ///   - peekFrames: how many leading frames `keepRest` sees (with the message's metadata and its
    ///     whole ``ZMQMessage/byteCount`` and ``ZMQMessage/frameCount``, so a message over a size
    ///     limit can be refused before it is copied).
    ///   - keepRest: called once, only when more frames follow the first `peekFrames`.
    /// - Returns: the message, or `nil` when `dontWait` is set and nothing was waiting.
    public func receive(
        dontWait: Bool = false, wantMetadata: Bool = false, peekFrames: Int, keepRest: (ZMQMessage) -> Bool
    ) throws(ZMQError) -> ZMQMessage? {
        try LibZMQ.receiveMessage(
            handle, dontWait: dontWait, wantMetadata: wantMetadata, peekFrames: peekFrames
        ) { keepRest($0) ? .copy : .discard }
    }

    /// Receives one whole multipart message and lets `rest` decide, from the first `peekFrames` frames
    /// (with the message's metadata, ``ZMQMessage/byteCount`` and ``ZMQMessage/frameCount``), what
    /// becomes of the frames after them: discarded uncopied, copied into ``ZMQMessage/frames``, or
    /// held inside libzmq as ``ZMQMessage/held`` to be forwarded with ``sendFrame(_:more:dontWait:)``,
    /// never copied (the broker's path for a request's rows).
    /// - Parameter rest: called once, only when more frames follow the first `peekFrames`.
    /// - Returns: the message, or `nil` when `dontWait` is set and nothing was waiting.
    public func receive(
        dontWait: Bool = false, wantMetadata: Bool = false, peekFrames: Int, rest: (ZMQMessage) -> ZMQRestFrames
    ) throws(ZMQError) -> ZMQMessage? {
        try LibZMQ.receiveMessage(
            handle, dontWait: dontWait, wantMetadata: wantMetadata, peekFrames: peekFrames, rest: rest)
    }

    /// Sends one frame of a multipart message (the parts of ``send(_:dontWait:)`` one at a time, for a
    /// caller that mixes byte frames with held ones). Once a message's first frame is accepted,
    /// libzmq accepts the rest atomically: pass `dontWait` for the first frame only.
    /// - Returns: `false` if `dontWait` was set and the frame could not be queued (`EAGAIN`).
    @discardableResult
    public func sendFrame(_ frame: [UInt8], more: Bool, dontWait: Bool = false) throws(ZMQError) -> Bool {
        try LibZMQ.sendFrame(handle, frame, more: more, dontWait: dontWait)
    }

    /// Sends a held frame (``ZMQMessage/held``) without copying its bytes: libzmq gets a reference to
    /// the same buffer (`zmq_msg_copy`), and the frame can be sent again later.
    /// - Returns: `false` if `dontWait` was set and the frame could not be queued (`EAGAIN`).
    @discardableResult
    public func sendFrame(_ frame: ZMQFrame, more: Bool, dontWait: Bool = false) throws(ZMQError) -> Bool {
        try LibZMQ.sendHeld(handle, frame, more: more, dontWait: dontWait)
    }
}
