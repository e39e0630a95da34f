import RecPolicy
import RecTransport

/// The online policy a worker serves: an immutable snapshot of the learner's weights under the version
/// the broker installed. Learning produces a new snapshot; a RECOMMEND reads one and never waits for a step.
struct ServedPolicy: Sendable {
    /// The policy (spec and network).
    var policy: OnlinePolicy
    /// The installed version; replies to RECOMMEND carry it.
    var version: UInt64
    /// Whether the replica learns from feedback (false while the pool is frozen).
    var learningEnabled: Bool
}

/// Where the serving side finds the current ``ServedPolicy``: a value swapped under a lock. The online
/// learning thread publishes, the session thread reads; neither holds the lock for longer than a copy.
final class PolicySnapshot: Sendable {
    private let slot = LockedBox<ServedPolicy?>(nil)

    /// Creates an empty slot: no policy installed.
    init() {}

    /// The snapshot to serve, or `nil` before the first POLICY.
    var current: ServedPolicy? { slot.withLock { $0 } }

    /// Replaces the snapshot; the next RECOMMEND uses it.
    func publish(_ served: ServedPolicy) {
        slot.withLock { $0 = served }
    }
}
