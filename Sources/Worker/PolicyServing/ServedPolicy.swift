import RecData
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
    /// Retrieval before ranking, for a catalogue of at least `RetrievalSettings.exhaustiveBelow` rows (set by
    /// ``PolicySnapshot/publish(_:)``); nil scores every active item.
    var retrieval: PolicyRetrieval.Built? = nil
}

/// Where the serving side finds the current ``ServedPolicy``: a value swapped under a lock. The online
/// learning thread publishes, the session thread reads; neither holds the lock for longer than a copy.
final class PolicySnapshot: Sendable {
    private let slot = LockedBox<ServedPolicy?>(nil)

    /// Creates an empty slot: no policy installed.
    init() {}

    /// The snapshot to serve, or `nil` before the first POLICY.
    var current: ServedPolicy? { slot.withLock { $0 } }

    /// Replaces the snapshot; the next RECOMMEND uses it. For a large catalogue the retrieval is brought up to the
    /// policy first (on the publishing thread: the learning thread, never the session's), reusing the previous
    /// snapshot's index; if that fails the snapshot is published without retrieval (exhaustive scoring) and the
    /// error is returned for the caller to log.
    @discardableResult
    func publish(_ served: ServedPolicy) -> RetrievalError? {
        var next = served
        var failure: RetrievalError?
        do {
            next.retrieval = try PolicyRetrieval.make(
                policy: served.policy, version: served.version, previous: current?.retrieval)
        } catch {
            failure = error
            next.retrieval = nil
        }
        slot.withLock { $0 = next }
        return failure
    }
}
