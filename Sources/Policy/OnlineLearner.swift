import Foundation
import RecData
import RecModel
import RecWire

/// A serving replica's learner, a contextual bandit (γ = 0: each recommendation's reward is its own target, no
/// Bellman bootstrap) with Bayesian logistic regression as its last layer: every feedback event adds its Laplace
/// factor at the current posterior mean (``BayesianLastLayer``: weight `p̂(1 − p̂)`, working response
/// `r − p̂ + p̂(1 − p̂)·η̂`) to the natural parameters at once, and every `update_every` events the learner solves the
/// posterior, moves its linearisation point to the new mean and draws a new Thompson sample (covariance scaled by
/// `noise_variance`), the policy it then serves (``current``).
///
/// Every event is used completely (a closed-form update, no step size), and what is learnt about a user × topic
/// interaction is shared by every item with that topic. The newest ``window`` events since the install are
/// re-linearised at every update: the statistics are rebuilt as the frozen part (the installed version's plus the
/// factors of events that left the window) plus each windowed event's factor at the current mean, so each update is
/// one step of iteratively reweighted least squares over them (Newton's method for the logistic posterior's mode)
/// rather than assumed-density filtering, which keeps an event's factor at the mean it arrived at. Early events,
/// linearised at the prior (`p̂ = ½`, weight ¼ where later ones weigh about 0.05), otherwise outweigh and bias
/// the first thousand events' worth of posterior. Factors still multiply, so a replica's statistics are still the
/// installed ones plus its own events' factors and merging stays exact.
///
/// The window outlives a sync that merged this replica's learning. At a pull (``notePull(sync:)``) the learner notes
/// its windowed events with the factors its statistics then held; an install that says it merged that pull
/// (``install(_:version:mergedSync:)``) holds exactly those factors, so the learner takes them out of the installed
/// statistics (its new frozen part) and keeps re-linearising the events; its next delta carries each event's new
/// factor minus the merged one, so the broker's sum `base + Σ (replica − base)` stays the statistics of every event
/// at its newest linearisation. Any other install starts an empty window.
///
/// Every Thompson sample is drawn from a stream keyed by the learner's seed, the installed version and the number of
/// updates since that install (``sampleSeed(seed:version:update:)``), not from a running generator: the served
/// policy is a function of the statistics and those three numbers, so installing the same version twice (a sync
/// that brought nothing new, or the pool's own sync racing a requested one) serves the same sample, and a
/// deterministic run does not depend on how many installs the pool's timing produced.
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
    /// The statistics without the windowed events: the installed version's plus the factors of the events that
    /// left the window, each kept at the point it was last linearised at.
    private var frozen: BayesianLastLayer
    /// One windowed event and the factor the statistics hold for it now (weight and working response).
    struct WindowedEvent: Sendable {
        var phi: BayesianLastLayer.SparseFeatures
        var bucket: Int
        var reward: Double
        var weight: Double
        var response: Double
    }
    /// The newest events (at most ``window``), re-linearised at every update.
    private var recent: [WindowedEvent] = []
    /// The window as the last pull sent it: the sync's id and the events with the factors the pulled statistics held.
    /// Kept after an install, so a POLICY sent again naming the same pull (a delta the replica refused, sent whole)
    /// installs the same way.
    private var pulled: (sync: UInt64, events: [WindowedEvent])?
    /// How many of the newest events since the install are re-linearised at every update.
    public let window: Int
    private var mean: BayesianLastLayer.Coefficients
    private var policy: OnlinePolicy
    private let seed: UInt64

    /// Creates a learner starting from `policy`'s statistics at `version`; it serves a Thompson sample at once.
    /// `window` is how many of the newest events since an install are re-linearised at every update (0: none,
    /// assumed-density filtering).
    public init(policy: OnlinePolicy, version: UInt64, seed: UInt64, window: Int = OnlineLearner.defaultWindow) {
        self.seed = seed
        self.window = max(window, 0)
        statistics = policy.statistics
        frozen = policy.statistics
        mean = policy.coefficients
        self.policy = policy
        baseVersion = version
        resample()
    }

    /// The policy the replica serves: the statistics' current Thompson sample.
    public var current: OnlinePolicy { policy }

    /// The statistics learnt so far (what a sync pulls, ``PolicyWeights/pack(_:step:)``).
    public var learnt: BayesianLastLayer { statistics }

    /// Moves to another version of the catalogue (items added or retired), keeping the statistics, the counters
    /// and the served sample (``OnlinePolicy/with(catalogue:)``).
    /// - Throws: ``PolicyError/catalogueMismatch(_:)`` when the catalogue is not a later version of the served one.
    public mutating func setCatalogue(_ catalogue: ItemCatalogue) throws(PolicyError) {
        policy = try policy.with(catalogue: catalogue)
    }

    /// Notes the window as a pull (sync `sync`) sends the statistics: an install that merged this pull keeps it.
    public mutating func notePull(sync: UInt64) {
        pulled = (sync, recent)
    }

    /// Takes a new version (a merged one from the broker): its statistics replace the learner's, the counters
    /// restart, and a new Thompson sample is served. With `mergedSync` naming the last pull noted
    /// (``notePull(sync:)``), the version holds that pull's statistics, so the window as pulled is kept: its events'
    /// factors are taken out of the installed statistics into the frozen part and re-linearised from the next update.
    /// Events learnt after that pull are not in the version (the broker sends them again) and leave the window.
    public mutating func install(_ policy: OnlinePolicy, version: UInt64, mergedSync: UInt64? = nil) {
        statistics = policy.statistics
        frozen = policy.statistics
        recent = []
        if let mergedSync, let pulled, pulled.sync == mergedSync, window > 0 {
            for event in pulled.events {
                frozen.add(event.phi, bucket: event.bucket, reward: -event.response, weight: -event.weight, count: -1)
            }
            recent = Array(pulled.events.suffix(window))
        }
        mean = policy.coefficients
        self.policy = policy
        baseVersion = version
        eventsSinceInstall = 0
        updatesSinceInstall = 0
        eventsSinceUpdate = 0
        resample()
    }

    /// Adds feedback events to the statistics and, once `update_every` events have arrived, updates the served
    /// sample.
    /// An event's reward is the response of a logistic likelihood, a click (1) or none (0), or a fraction between:
    /// an event outside `[0, 1]` (an amount, such as a reward log's 12.5) is rejected and counted in
    /// ``rejectedEvents``, never learnt as a response of 12.5.
    /// - Returns: whether an update ran (the caller then publishes ``current``).
    public mutating func learn(_ events: [LearnEvent]) -> Bool {
        for event in events {
            guard event.item >= 0 && event.item < policy.spec.itemCount, (0...1).contains(event.reward),
                let z = try? policy.userVector(event.userFeatures, viewed: event.viewed)
            else {
                rejectedEvents += 1
                continue
            }
            let dense = policy.interactions(z: z, item: event.item, position: max(event.position, 0))
            guard BayesianLastLayer.admits(dense) else {
                rejectedEvents += 1
                continue
            }
            let phi = BayesianLastLayer.SparseFeatures(dense: dense)
            let bucket = policy.bucket(of: event.item)
            let factor = Self.addFactor(to: &statistics, phi: phi, bucket: bucket, reward: event.reward, at: mean)
            if window > 0 {
                if recent.count == window {
                    // It leaves with the factor the statistics hold for it, which is its factor at the current mean.
                    let oldest = recent.removeFirst()
                    frozen.add(oldest.phi, bucket: oldest.bucket, reward: oldest.response, weight: oldest.weight)
                }
                recent.append(
                    WindowedEvent(
                        phi: phi, bucket: bucket, reward: event.reward, weight: factor.weight, response: factor.response))
            }
            eventsSinceInstall += 1
            eventsSinceUpdate += 1
        }
        guard eventsSinceUpdate >= policy.spec.learning.updateEvery else { return false }
        eventsSinceUpdate = 0
        updatesSinceInstall += 1
        relinearise()
        resample()
        return true
    }

    /// The default ``window``: 1,000 events (about 330 simulated users' slates). Re-linearising costs
    /// `O(window · nnz(φ)²)` per update. In a pool it holds the replica's own newest events, across the syncs that
    /// merged them (``install(_:version:mergedSync:)``).
    public static let defaultWindow = 1_000

    /// Adds the Laplace factor of a logistic likelihood at `mean` (``BayesianLastLayer``): weight `p̂(1 − p̂)`,
    /// working response `r − p̂ + p̂(1 − p̂)·η̂`.
    /// - Returns: the factor's weight and working response.
    @discardableResult
    static func addFactor(
        to statistics: inout BayesianLastLayer, phi: BayesianLastLayer.SparseFeatures, bucket: Int, reward: Double,
        at mean: BayesianLastLayer.Coefficients
    ) -> (weight: Double, response: Double) {
        let eta = phi.dot(mean.theta, start: mean.bias[bucket])
        let p = 1 / (1 + exp(-eta))
        let weight = max(p * (1 - p), 1e-4)
        let response = reward - p + weight * eta
        statistics.add(phi, bucket: bucket, reward: response, weight: weight)
        return (weight, response)
    }

    /// Rebuilds the statistics with every windowed event's factor at the current mean (one IRLS step over them).
    private mutating func relinearise() {
        guard window > 0, !recent.isEmpty else { return }
        var rebuilt = frozen
        for index in recent.indices {
            let event = recent[index]
            let factor = Self.addFactor(to: &rebuilt, phi: event.phi, bucket: event.bucket, reward: event.reward, at: mean)
            recent[index].weight = factor.weight
            recent[index].response = factor.response
        }
        statistics = rebuilt
    }

    /// The seed of the Thompson sample drawn at update `update` after installing `version`: SplitMix64's output
    /// of the three mixed together (Steele, Lea & Flood 2014), so neighbouring updates get unrelated streams.
    public static func sampleSeed(seed: UInt64, version: UInt64, update: Int) -> UInt64 {
        var mix = SplitMix64(seed: seed ^ (version &* 0x9E37_79B9_7F4A_7C15))
        var stream = SplitMix64(seed: mix.next() ^ UInt64(truncatingIfNeeded: update))
        return stream.next()
    }

    /// Serves a new Thompson sample of the statistics; on a failure (a posterior that cannot be solved) it keeps
    /// serving the last good policy.
    private mutating func resample() {
        let stream = Xoshiro256(
            seed: Self.sampleSeed(seed: seed, version: baseVersion, update: updatesSinceInstall))
        let learning = policy.spec.learning
        guard
            let solved = statistics.posterior(
                lambda: learning.priorPrecision, interceptMean: learning.priorLogOdds,
                sample: (learning.noiseVariance, stream)),
            let sample = solved.sample
        else { return }
        mean = solved.mean
        policy = OnlinePolicy(policy, statistics: statistics, coefficients: sample)
    }
}
