import Shared

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
    /// Limits on every inbound message.
    public var limits: WireLimits = .standard

    /// Creates the default configuration.
    public init() {}

    /// Microseconds after which a silent worker is presumed dead.
    var workerExpiryMicros: UInt64 { heartbeatIntervalMs * liveness * 1000 }
}
