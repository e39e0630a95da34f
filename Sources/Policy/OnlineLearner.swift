import RecModel
import RecWire

/// A serving replica's learner, a contextual bandit (γ = 0: each recommendation's reward is its own target, no
/// Bellman bootstrap): every feedback event is added at once to the Bayesian last layer's sufficient statistics
/// (``BayesianLastLayer``), and every `update_every` events the learner solves the posterior and draws a new
/// Thompson sample, the policy it then serves (``current``).
///
/// Every event is used exactly once and completely (a closed-form posterior, no step size, no replay), which is
/// why it learns as fast per event as LinUCB or logistic Thompson sampling while sharing what it learns across
/// items through their features.
///
/// A value owned by one thread (the worker's background thread); the serving side reads only the
/// ``OnlinePolicy`` snapshots it publishes.
public struct OnlineLearner: Sendable {
    /// The version the current statistics started from.
    public private(set) var baseVersion: UInt64
    /// Feedback events learnt since ``baseVersion`` was installed.
    public private(set) var eventsSinceInstall = 0
    /// Posterior updates (solve and Thompson sample) since ``baseVersion`` was installed.
    public private(set) var updatesSinceInstall = 0
    /// Events waiting for the next update.
    public private(set) var eventsSinceUpdate = 0
    /// Events that could not be used (an item or a context the spec rejects).
    public private(set) var rejectedEvents = 0
    private var statistics: BayesianLastLayer
    private var policy: OnlinePolicy
    private var rng: Xoshiro256

    /// Creates a learner starting from `policy`'s statistics at `version`; it serves a Thompson sample at once.
    public init(policy: OnlinePolicy, version: UInt64, seed: UInt64) {
        rng = Xoshiro256(seed: seed)
        statistics = policy.statistics
        self.policy = policy
        baseVersion = version
        resample()
    }

    /// The policy the replica serves: the statistics' current Thompson sample.
    public var current: OnlinePolicy { policy }

    /// The statistics learnt so far (what a sync pulls, ``PolicyWeights/pack(_:step:)``).
    public var learnt: BayesianLastLayer { statistics }

    /// Takes a new version (a merged one from the broker): its statistics replace the learner's, the counters
    /// restart, and a new Thompson sample is served.
    public mutating func install(_ policy: OnlinePolicy, version: UInt64) {
        statistics = policy.statistics
        self.policy = policy
        baseVersion = version
        eventsSinceInstall = 0
        updatesSinceInstall = 0
        eventsSinceUpdate = 0
        resample()
    }

    /// Adds feedback events to the statistics and, once `update_every` events have arrived, updates the served
    /// sample.
    /// - Returns: whether an update ran (the caller then publishes ``current``).
    public mutating func learn(_ events: [LearnEvent]) -> Bool {
        for event in events {
            guard event.item >= 0 && event.item < policy.spec.itemCount, event.reward.isFinite,
                let z = try? policy.userVector(event.userFeatures, viewed: event.viewed)
            else {
                rejectedEvents += 1
                continue
            }
            statistics.add(
                phi: policy.interactions(z: z, item: event.item, position: max(event.position, 0)), bucket: policy.bucket(of: event.item),
                reward: event.reward)
            eventsSinceInstall += 1
            eventsSinceUpdate += 1
        }
        guard eventsSinceUpdate >= policy.spec.learning.updateEvery else { return false }
        eventsSinceUpdate = 0
        updatesSinceInstall += 1
        resample()
        return true
    }

    /// Serves a new Thompson sample of the statistics; on a failure (a posterior that cannot be solved) it keeps
    /// serving the last good policy.
    private mutating func resample() {
        guard let next = try? policy.sampled(statistics: statistics, rng: &rng) else { return }
        policy = next
    }
}
