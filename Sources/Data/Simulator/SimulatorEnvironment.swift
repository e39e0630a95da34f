import Foundation
import RecModel

/// What the agent sees of the current user.
public struct SimulatorObservation: Sendable, Equatable {
    /// Observable user features, `user_feature_j → u{j}_{kk}`.
    public var userFeatures: [String: String]
    /// Clicks so far this session per item (the user's affinity vector, sparse). Empty for a new user.
    public var clicks: [Int: Int]
    /// Budget left in the session.
    public var remainingBudget: Double

    /// The clicks as an affinity vector, ready for `FeatureSpec.candidateRows(userFeatures:affinity:items:position:)`
    /// with a spec fitted on the same world's logged data.
    public var affinity: [Int: Double] { clicks.mapValues(Double.init) }
}

/// The outcome of one step.
public struct SimulatorStep: Sendable, Equatable {
    /// The user after the step.
    public var observation: SimulatorObservation
    /// The clicked item, or nil for no click.
    public var clicked: Int?
    /// 1 for a click, 0 otherwise.
    public var reward: Double
    /// Whether the session budget is spent.
    public var done: Bool
}

/// An online environment for training agents such as a DQN: each episode is one session of a brand-new user
/// (no history) drawn from the world's prior; each step shows a slate, the user picks by the choice model,
/// and on a click their interests drift towards the item. Deterministic given the seed.
public struct SimulatorEnvironment: Sendable {
    /// The world (items and choice model).
    public let world: SimulatorWorld
    private var rng: SplitMix64
    private var interest: [Double] = []
    private var observation: SimulatorObservation?

    /// Creates an environment; call `reset()` to start a session.
    public init(world: SimulatorWorld, seed: UInt64) {
        self.world = world
        self.rng = SplitMix64(seed: seed)
    }

    /// Starts a session with a new user (fresh interests, no history) and returns what the agent sees.
    @discardableResult
    public mutating func reset() -> SimulatorObservation {
        let config = world.config
        interest = (0..<config.topics).map { _ in rng.uniform(-1, 1) }
        let codes = SimulatorWorld.observe(
            interest, projections: world.projections, cardinalities: config.userFeatureCardinalities,
            noise: config.featureNoise, rng: &rng)
        var features: [String: String] = [:]
        for (j, code) in codes.enumerated() {
            features["user_feature_\(j)"] = SimulatorWorld.categoryName(feature: j, code: Int(code))
        }
        let fresh = SimulatorObservation(userFeatures: features, clicks: [:], remainingBudget: config.sessionBudget)
        observation = fresh
        return fresh
    }

    /// The next user as a ``SimulatedVisitor``: ``reset()``, the attraction `b_k e^{s_i − c₀}` of every item in
    /// every slot for that user, and the one uniform ``step(_:)`` would consume for the choice. A sequence of
    /// visitors is therefore the sequence of users that alternating `reset()` and one `step` gives.
    public mutating func nextVisitor() -> SimulatedVisitor {
        let features = reset().userFeatures
        let config = world.config
        var items: [Double] = []
        items.reserveCapacity(config.items)
        for item in 0..<config.items {
            items.append(exp(world.utility(interest: interest[...], item: item, warm: false) - config.noClickUtility))
        }
        return SimulatedVisitor(
            userFeatures: features, itemAttraction: items, slotBias: Array(config.positionBias.prefix(config.positions)),
            draw: rng.uniform())
    }

    /// Ground truth for the current user: choice probabilities of each slot of `slate`, then of no click.
    public func choiceProbabilities(_ slate: [Int]) throws(SimulatorError) -> [Double] {
        guard observation != nil else { throw .noActiveSession }
        try validate(slate)
        return world.choiceProbabilities(interest: interest[...], warm: false, slate: slate)
    }

    /// Shows a slate (slot `k` holds `slate[k]`), draws the user's choice, spends budget and drifts interests.
    /// - Throws: `SimulatorError` for a bad slate or when no session is active.
    public mutating func step(_ slate: [Int]) throws(SimulatorError) -> SimulatorStep {
        guard var current = observation, current.remainingBudget > 0 else { throw .noActiveSession }
        let probabilities = try choiceProbabilities(slate)
        var target = rng.uniform()
        var chosen: Int?
        for (slot, p) in probabilities.dropLast().enumerated() {
            target -= p
            if target < 0 { chosen = slate[slot]; break }
        }
        current.remainingBudget -= 1
        if let item = chosen {
            current.clicks[item, default: 0] += 1
            current.remainingBudget += world.config.clickBudgetRefund
            let d = world.config.topics
            for t in 0..<d { interest[t] += world.config.driftRate * (world.topicVectors[item * d + t] - interest[t]) }
        }
        observation = current
        return SimulatorStep(
            observation: current, clicked: chosen, reward: chosen == nil ? 0 : 1, done: current.remainingBudget <= 0)
    }

    private func validate(_ slate: [Int]) throws(SimulatorError) {
        guard !slate.isEmpty && slate.count <= world.config.positions else { throw .invalidSlateSize(slate.count) }
        var seen = Set<Int>()
        for item in slate {
            guard item >= 0 && item < world.config.items else { throw .unknownItem(item) }
            guard seen.insert(item).inserted else { throw .duplicateItem(item) }
        }
    }
}
