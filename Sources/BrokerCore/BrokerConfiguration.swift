import RecWire

/// The broker's tunables. Defaults follow the Paranoid Pirate pattern (1 s heartbeat, 3 missed
/// beats and a worker is dead) and are documented in docs/PROTOCOL.md.
public struct BrokerConfiguration: Sendable, Hashable {
    /// How often the broker heartbeats each worker, and expects one back, in ms.
    public var heartbeatIntervalMs: UInt64 = 1000
    /// How many intervals of silence make a worker dead.
    public var liveness: UInt64 = 3
    /// The most requests waiting for a worker, per service. A full queue answers BUSY.
    public var queueCapacity: Int = 4096
    /// How many times one request may be dispatched (1 means no re-dispatch after a worker dies).
    public var maxAttempts: UInt16 = 2
    /// How long a request may wait when no live worker offers its service, in ms, before NO_WORKER.
    public var noWorkerTimeoutMs: UInt64 = 1000
    /// How long past its deadline a dispatched request may stay unanswered before the broker answers
    /// EXPIRED itself, in ms.
    public var inflightGraceMs: UInt64 = 1000
    /// The retry-after hint on BUSY replies, in ms.
    public var busyRetryAfterMs: UInt32 = 50
    /// Enforce per-message roles from the authenticated ZAP `User-Id` (on when CURVE keys are
    /// configured): see ``AccessPolicy``.
    public var enforceRoles = false
    /// Whether the broker keeps a model registry (a `--state-dir`): without one, a worker's claimed version is
    /// checked against nothing, and `status` says `unchecked`.
    public var keepsRegistry = false
    /// Limits on every inbound message.
    public var limits: WireLimits = .standard
    /// The most payload bytes the broker holds for one service's requests, queued or in flight
    /// (a request in flight keeps its copy for re-dispatch). A request that would pass it is
    /// refused BUSY on arrival, before its payload is copied.
    public var serviceBytesLimit: Int = 256 << 20
    /// The most payload bytes the broker holds for one client's requests, queued or in flight, over
    /// all services. A request that would pass it is refused BUSY on arrival.
    public var clientBytesLimit: Int = 64 << 20
    /// The reply bytes libzmq may buffer for one client that does not read them. libzmq counts
    /// messages, not bytes, so the frontend's send high-water mark is this over the largest SCORE
    /// reply (``largestScoreReplyBytes``); replies past it wait in the broker (the reactor's `ReplyBacklog`, as many
    /// bytes again, at most 10 s), then are dropped and counted (`replies_dropped_hwm`).
    public var clientReplyBytes: Int = 32 << 20
    /// The most messages libzmq reads ahead from one client connection before it stops reading it
    /// (the frontend's receive high-water mark; TCP then pushes back on the client): at most this
    /// many times ``WireLimits/maxMessageBytes`` (256 MiB with the defaults) per connection wait
    /// in libzmq for the reactor, which reads them without copying what it refuses.
    public var clientReceiveHighWaterMark: Int32 = 16
    /// The frame size above which libzmq drops the connection (`ZMQ_MAXMSGSIZE`): a hard backstop
    /// far above ``WireLimits/maxMessageBytes``, which is enforced per message with a TOO_LARGE reply.
    public var hardFrameLimitBytes: Int = 64 << 20

    /// Creates the default configuration.
    public init() {}

    /// Microseconds after which a silent worker is presumed dead.
    var workerExpiryMicros: UInt64 { heartbeatIntervalMicros.multipliedSaturating(by: liveness) }

    /// The heartbeat interval in µs.
    var heartbeatIntervalMicros: UInt64 { heartbeatIntervalMs.multipliedSaturating(by: 1000) }

    /// The bytes of the largest SCORE reply: the header, and a tensor of ``WireLimits/maxRows`` × 1.
    public var largestScoreReplyBytes: Int {
        Header.size.addingSaturating(8).addingSaturating(limits.maxRows.multipliedSaturating(by: 4))
    }

    /// The frontend's send high-water mark, in messages: ``clientReplyBytes`` over the largest
    /// SCORE reply, at least 16.
    public var clientSendHighWaterMark: Int32 {
        Int32(clamping: max(16, clientReplyBytes / max(1, largestScoreReplyBytes)))
    }
}
