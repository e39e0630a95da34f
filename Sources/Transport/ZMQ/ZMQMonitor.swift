#if canImport(Glibc)
    import Glibc
#endif

/// Socket events a monitor reports. Each constant names the `ZMQ_EVENT_*` macro it stands for.
public struct ZMQMonitorEvents: OptionSet, Sendable, Hashable {
    /// The `ZMQ_EVENT_*` bit mask.
    public let rawValue: Int32
    /// Creates a set from a `ZMQ_EVENT_*` bit mask.
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `ZMQ_EVENT_ACCEPTED`: a connection was accepted on a bound endpoint (value: its fd).
    public static let accepted = ZMQMonitorEvents(rawValue: 0x0020)
    /// `ZMQ_EVENT_ACCEPT_FAILED`: `accept(2)` failed (value: the errno, such as `EMFILE`).
    public static let acceptFailed = ZMQMonitorEvents(rawValue: 0x0040)
    /// `ZMQ_EVENT_DISCONNECTED`: a connection closed (value: its fd).
    public static let disconnected = ZMQMonitorEvents(rawValue: 0x0200)
    /// `ZMQ_EVENT_MONITOR_STOPPED`: the monitor ended (the socket closed).
    public static let monitorStopped = ZMQMonitorEvents(rawValue: 0x0400)
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL`: a security handshake failed for an unspecified reason, such as
    /// the peer closing the connection mid-handshake (value: the errno); libzmq reconnects by itself.
    public static let handshakeFailedNoDetail = ZMQMonitorEvents(rawValue: 0x0800)
    /// `ZMQ_EVENT_HANDSHAKE_SUCCEEDED`: a security handshake completed (value: 0).
    public static let handshakeSucceeded = ZMQMonitorEvents(rawValue: 0x1000)
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL`: the peer broke the ZMTP or mechanism protocol (value: a
    /// `ZMQ_PROTOCOL_ERROR_*` code, such as ``ZMQMonitorEvent/mechanismMismatch``). A connecting socket does not
    /// reconnect after it: libzmq ends that session.
    public static let handshakeFailedProtocol = ZMQMonitorEvents(rawValue: 0x2000)
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`: the ZAP handler refused the peer (value: the ZAP status, such as 400).
    /// A connecting socket does not reconnect after it: libzmq ends that session.
    public static let handshakeFailedAuth = ZMQMonitorEvents(rawValue: 0x4000)
    /// Every handshake failure.
    public static let handshakeFailed: ZMQMonitorEvents = [
        .handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth,
    ]
}

/// One event read from a monitor's PAIR socket: libzmq sends a 6-byte frame (a 16-bit event
/// number and a 32-bit value, in host byte order) and a frame holding the endpoint.
public struct ZMQMonitorEvent: Sendable, Hashable {
    /// The event (one bit of ``ZMQMonitorEvents``).
    public let event: ZMQMonitorEvents
    /// The event's value: an errno, a file descriptor or a status, depending on ``event``.
    public let value: UInt32
    /// The endpoint the event happened on.
    public let endpoint: String

    /// Decodes a monitor message, or `nil` when it is not the 2-frame shape libzmq documents.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let head = frames[0]
        let number = UInt16(head[0]) | UInt16(head[1]) << 8
        let value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        // libzmq writes both numbers with memcpy, i.e. in host order; RecPool runs on little-endian.
        event = ZMQMonitorEvents(rawValue: Int32(number))
        self.value = value
        endpoint = String(decoding: frames[1], as: UTF8.self)
    }

    /// `ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`: the ``value`` of a protocol failure when one side uses
    /// CURVE and the other does not (ZMTP 3.1, RFC 23: both peers must name the same mechanism).
    public static let mechanismMismatch: UInt32 = 0x1100_0002
    /// `ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC`: the ``value`` of a protocol failure when a CURVE box does not open
    /// (a key that is not the peer's).
    public static let cryptographic: UInt32 = 0x1100_0001

    /// For ``ZMQMonitorEvents/acceptFailed``: the system's description of the errno in ``value``.
    public var errnoDescription: String { String(cString: strerror(Int32(bitPattern: value))) }
}

/// Watches one socket's security handshakes, for a peer that should say why it hears nothing:
/// a worker or client whose CURVE key the broker refused otherwise just waits in silence, and libzmq
/// never reconnects a session that ended in a refused (``ZMQMonitorEvents/handshakeFailedAuth``) or
/// broken (``ZMQMonitorEvents/handshakeFailedProtocol``) handshake.
///
/// Not `Sendable`: create, poll and close it on the thread that owns the watched socket.
public final class HandshakeWatch {
    private let monitor: ZMQSocket

    /// Starts watching `socket` (before it connects) for `events` through a PAIR on a fresh `inproc://` name.
    /// - Throws: ``ZMQError`` when libzmq cannot start the monitor.
    public init(
        _ socket: ZMQSocket, context: ZMQContext, events: ZMQMonitorEvents = .handshakeFailed
    ) throws(ZMQError) {
        let endpoint = "inproc://recpool-handshakes-\(Self.nextName())"
        try socket.monitor(endpoint, events: events)
        monitor = try ZMQSocket(context, type: .pair)
        try monitor.connect(endpoint)
    }

    deinit { monitor.close() }

    /// The monitor's PAIR, to wait for events in a ``ZMQPoller`` beside the watched socket.
    public var pollItem: PollItem { PollItem(socket: monitor) }

    /// The events reported since the last call, oldest first; never blocks.
    public func events() -> [ZMQMonitorEvent] {
        var events: [ZMQMonitorEvent] = []
        while let message = try? monitor.receive(dontWait: true) {
            if let event = ZMQMonitorEvent(frames: message.frames) { events.append(event) }
        }
        return events
    }

    /// The handshake failures reported since the last call, oldest first; never blocks.
    public func failures() -> [ZMQMonitorEvent] {
        events().filter { !$0.event.isDisjoint(with: .handshakeFailed) }
    }

    private static let names = LockedBox(0)
    /// A number for a monitor's `inproc://` name, unique in this process.
    private static func nextName() -> Int {
        names.withLock {
            $0 += 1
            return $0
        }
    }
}
