import Foundation
import RecData
import RecModel
import RecWire

/// The Double-DQN target (van Hasselt, Guez & Silver 2016) of one transition `(s, a, r, s′)`:
///
///     y = r + γ · Q_target(s′, a*),   a* = argmax_a′ Q_online(s′, a′)
///
/// the online network picks the next action and the target network evaluates it (the seed's `DQNAgent` computes the
/// same target on batches of its MLP; this one serves the online pool's linear Q-network). With `done` or γ = 0 the
/// target is the reward alone: a contextual bandit.
public enum DoubleDQN {
    /// The target `y`.
    /// - Parameters:
    ///   - reward: `r`.
    ///   - gamma: γ in [0, 1).
    ///   - onlineNext: `Q_online(s′, a′)` for every candidate `a′` (one value per candidate).
    ///   - targetNext: `Q_target(s′, a′)` for the same candidates, in the same order.
    ///   - done: whether `s′` is terminal (nothing is bootstrapped from it).
    /// - Returns: `r` when `done`, γ = 0 or there are no candidates; otherwise `r + γ·targetNext[argmax onlineNext]`
    ///   (the first index on ties).
    public static func target(
        reward: Double, gamma: Double, onlineNext: [Double], targetNext: [Double], done: Bool = false
    ) -> Double {
        guard !done, gamma != 0, !onlineNext.isEmpty, onlineNext.count == targetNext.count else { return reward }
        var best = 0
        for i in onlineNext.indices where onlineNext[i] > onlineNext[best] { best = i }
        return reward + gamma * targetNext[best]
    }
}

/// A serving replica's session DQN: a linear Q-network `Q(s, a) = θᵀφ(z(s), a) + β_{b(a)}` over the policy's
/// interaction features, whose state `s` holds the session so far — the user's features and the dwell-weighted mean
/// of the items viewed (clicked) earlier in the session (``PolicyFeatures``, RECOMMEND's `events`).
///
/// Each feedback event `(s, a, r)` becomes a transition to `s′ = s` plus the item `a` when it was clicked (the
/// state the user's next RECOMMEND in the session carries); its Double-DQN target ``DoubleDQN/target(reward:gamma:onlineNext:targetNext:done:)``
/// is computed with the online network (the posterior mean at the last update) picking `a*` over the active items
/// and the target network (a copy of the online network taken every `target_update_every` updates, and at every
/// install) evaluating it. The target is added to the same Gaussian sufficient statistics as the contextual bandit's
/// (``BayesianLastLayer``, weight 1: ridge regression of Q on its Bellman targets, Bishop *PRML* §3.3), so replicas
/// still merge exactly at a sync and the broker's guard and versions work unchanged; the replica serves a Thompson
/// sample of that posterior.
///
/// What it is not: the pool never sees a session's end (no step index or budget travels with RECOMMEND), so no
/// transition is terminal and γ alone bounds the horizon; each target is computed once, when its event arrives,
/// with the target network of that moment (fitted Q-iteration without a replay buffer). The scores a policy reports
/// are `σ(Q)`, a monotone map that keeps the ranking of Q.
///
/// A value owned by one thread (the worker's online-learning thread), like ``OnlineLearner``.
public struct SessionQLearner: Sendable {
    /// The version the current statistics started from.
    public private(set) var baseVersion: UInt64
    /// Feedback events learnt since ``baseVersion`` was installed.
    public private(set) var eventsSinceInstall = 0
    /// Updates (solve, Thompson sample) since ``baseVersion`` was installed.
    public private(set) var updatesSinceInstall = 0
    /// Events waiting for the next update.
    public private(set) var eventsSinceUpdate = 0
    /// Events that could not be used (an item or a context the spec rejects).
    public private(set) var rejectedEvents = 0
    /// Target network copies since ``baseVersion`` was installed (the install's own copy not counted).
    public private(set) var targetCopies = 0
    /// The online network: the posterior mean at the last update.
    public private(set) var online: BayesianLastLayer.Coefficients
    /// The target network: the online network as it was at the last copy.
    public private(set) var target: BayesianLastLayer.Coefficients
    private var statistics: BayesianLastLayer
    private var policy: OnlinePolicy
    /// The seed the Thompson samples' streams are keyed by (``OnlineLearner/sampleSeed(seed:version:update:)``).
    private let seed: UInt64
    private var updatesSinceCopy = 0

    /// Creates a learner starting from `policy`'s statistics at `version`; online and target networks start at its
    /// posterior mean and it serves a Thompson sample at once.
    public init(policy: OnlinePolicy, version: UInt64, seed: UInt64) {
        self.seed = seed
        statistics = policy.statistics
        online = policy.with(mean: policy.statistics) ?? policy.coefficients
        target = online
        self.policy = policy
        baseVersion = version
        resample()
    }

    /// The policy the replica serves: the statistics' current Thompson sample.
    public var current: OnlinePolicy { policy }

    /// The statistics learnt so far (what a sync pulls, ``PolicyWeights/pack(_:step:)``).
    public var learnt: BayesianLastLayer { statistics }

    /// γ of the spec.
    public var gamma: Double { policy.spec.learning.gamma }

    /// Moves to another version of the catalogue, keeping the statistics, networks and counters.
    /// - Throws: ``PolicyError/catalogueMismatch(_:)`` when the catalogue is not a later version of the served one.
    public mutating func setCatalogue(_ catalogue: ItemCatalogue) throws(PolicyError) {
        policy = try policy.with(catalogue: catalogue)
    }

    /// Takes a new version (a merged one from the broker): its statistics replace the learner's, online and target
    /// networks restart at its posterior mean, the counters restart and a new Thompson sample is served.
    public mutating func install(_ policy: OnlinePolicy, version: UInt64) {
        statistics = policy.statistics
        online = policy.with(mean: policy.statistics) ?? policy.coefficients
        target = online
        self.policy = policy
        baseVersion = version
        eventsSinceInstall = 0
        updatesSinceInstall = 0
        eventsSinceUpdate = 0
        updatesSinceCopy = 0
        targetCopies = 0
        resample()
    }

    /// `Q(s, a)` of `coefficients` for the user vector `z` and each of `items` in the top slot (no link function).
    public func qValues(_ coefficients: BayesianLastLayer.Coefficients, z: [Double], items: [Int]) -> [Double] {
        Self.qValues(policy, coefficients: coefficients, z: z, items: items)
    }

    /// `Q(s, a) = (Θᵀz)·y_a + β_{b(a)}` for each of `items`: the logit ``OnlinePolicy/scores(z:items:)`` takes `σ` of.
    static func qValues(
        _ policy: OnlinePolicy, coefficients: BayesianLastLayer.Coefficients, z: [Double], items: [Int]
    ) -> [Double] {
        let zw = policy.features.zWidth
        let yw = policy.features.yWidth
        var v = [Double](repeating: 0, count: yw)
        let theta = coefficients.theta
        for i in 0..<zw where z[i] != 0 {
            for j in 0..<yw { v[j] += z[i] * theta[i * yw + j] }
        }
        return policy.logits(v: v, bias: coefficients.bias, items: items)
    }

    /// The state after `event`: its views plus the item when it was clicked, with the mean dwell of the earlier
    /// views (1 s with none), as the session's next RECOMMEND carries it.
    public static func nextViewed(after event: LearnEvent) -> [ViewedItem] {
        guard event.reward > 0 else { return event.viewed }
        let dwell = event.viewed.isEmpty ? 1 : event.viewed.reduce(0) { $0 + $1.seconds } / Double(event.viewed.count)
        return event.viewed + [ViewedItem(item: event.item, seconds: dwell)]
    }

    /// The Double-DQN target of one event, with the current online and target networks.
    /// - Throws: ``PolicyError`` for a context the spec rejects.
    public func target(of event: LearnEvent) throws(PolicyError) -> Double {
        let next = try policy.userVector(event.userFeatures, viewed: Self.nextViewed(after: event))
        let candidates = policy.activeRows
        return DoubleDQN.target(
            reward: event.reward, gamma: gamma, onlineNext: qValues(online, z: next, items: candidates),
            targetNext: qValues(target, z: next, items: candidates))
    }

    /// Adds feedback events (each with its Double-DQN target) to the statistics and, once `update_every` events have
    /// arrived, updates: solves the posterior (the new online network), copies it into the target network every
    /// `target_update_every` updates, and serves a new Thompson sample.
    /// - Returns: whether an update ran (the caller then publishes ``current``).
    public mutating func learn(_ events: [LearnEvent]) -> Bool {
        for event in events {
            // A reward is a click (1) or none (0), or a fraction between, as the contextual bandit reads it: one outside
            // [0, 1] (1e308, or an amount such as 12.5) is rejected and counted, never learnt (1e308 made every later
            // statistic infinite, and the replica's learning was silently lost at each sync).
            guard event.item >= 0 && event.item < policy.spec.itemCount, (0...1).contains(event.reward),
                let z = try? policy.userVector(event.userFeatures, viewed: event.viewed),
                let y = try? target(of: event), y.isFinite
            else {
                rejectedEvents += 1
                continue
            }
            let phi = policy.interactions(z: z, item: event.item, position: max(event.position, 0))
            guard BayesianLastLayer.admits(phi) else {
                rejectedEvents += 1
                continue
            }
            statistics.add(phi: phi, bucket: policy.bucket(of: event.item), reward: y, weight: 1)
            eventsSinceInstall += 1
            eventsSinceUpdate += 1
        }
        guard eventsSinceUpdate >= policy.spec.learning.updateEvery else { return false }
        eventsSinceUpdate = 0
        updatesSinceInstall += 1
        resample()
        updatesSinceCopy += 1
        if updatesSinceCopy >= policy.spec.learning.targetUpdateEvery {
            target = online
            updatesSinceCopy = 0
            targetCopies += 1
        }
        return true
    }

    /// Solves the posterior: its mean becomes the online network and a Thompson sample the served policy; on a
    /// failure (a posterior that cannot be solved) both stay as they were. The sample is drawn from a stream keyed by
    /// the seed, the installed version and the updates since that install, as the contextual bandit's is: a running
    /// generator gave a re-installed version another sample, and `simulate --deterministic` on a session DQN pool
    /// another curve on every fresh pool.
    private mutating func resample() {
        let stream = Xoshiro256(
            seed: OnlineLearner.sampleSeed(seed: seed, version: baseVersion, update: updatesSinceInstall))
        guard
            let solved = statistics.posterior(
                lambda: policy.spec.learning.priorPrecision, sample: (policy.spec.learning.noiseVariance, stream)),
            let sample = solved.sample
        else { return }
        online = solved.mean
        policy = OnlinePolicy(policy, statistics: statistics, coefficients: sample)
    }
}

extension OnlinePolicy {
    /// The posterior mean of `statistics` under this spec's prior, nil when it cannot be solved.
    func with(mean statistics: BayesianLastLayer) -> BayesianLastLayer.Coefficients? {
        statistics.coefficients(lambda: spec.learning.priorPrecision, noise: nil)
    }
}
