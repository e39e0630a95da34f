/// Settings of the cold-start simulator, modelled on RecSim's interest-evolution environment
/// (Ie et al., 2019): latent user interests in U(−1,1)^d, items with topic vectors and quality,
/// a multinomial (proportional) choice model with a no-click option, a session budget, and interests
/// that drift towards clicked items.
public struct SimulatorConfig: Sendable, Codable, Equatable {
    /// Size of the user population that logged rows are drawn from.
    public var users: Int = 10_000
    /// Number of items.
    public var items: Int = 40
    /// Dimension `d` of the latent interest and topic vectors.
    public var topics: Int = 6
    /// Number of slots.
    public var positions: Int = 3
    /// Cardinality of each observable categorical user feature (`user_feature_0...`).
    public var userFeatureCardinalities: [Int] = [3, 5, 8, 8]
    /// Standard deviation of the noise added before an observable feature is read off the interests
    /// (0 makes features a deterministic function of interests).
    public var featureNoise: Double = 0.5
    /// Weight of the interest–topic match `u·v/√d` in an item's utility.
    public var interestWeight: Double = 3.0
    /// Standard deviation of item quality, which adds to utility for every user.
    public var qualitySpread: Double = 0.5
    /// Utility of the no-click option.
    public var noClickUtility: Double = 4.0
    /// Attention weight of each slot in the choice model (slot 0 first).
    public var positionBias: [Double] = [1.0, 0.8, 0.6]
    /// Fraction of the population with history (a nonzero affinity vector).
    public var warmFraction: Double = 0.05
    /// Extra utility of warm users: users with history click more, as on OBD.
    public var warmUtilityBoost: Double = 1.0
    /// Most past clicks a warm user has (at least 1).
    public var maxHistory: Int = 3
    /// Session budget of the online environment: each step costs 1.
    public var sessionBudget: Double = 30
    /// Budget a click gives back (good recommendations lengthen sessions).
    public var clickBudgetRefund: Double = 0.5
    /// Interest drift on a click: `u ← u + η (v − u)`.
    public var driftRate: Double = 0.1
    /// Seed for the population and items.
    public var seed: UInt64 = 7

    /// The default configuration.
    public init() {}
}

/// How logged data is generated: the logging (behaviour) policy, whose propensities are recorded exactly.
public enum LoggingPolicy: Sendable, Equatable {
    /// Every item with probability 1/n.
    case uniform
    /// The greedy item of the user's `user_feature_0` group and slot with probability 1 − ε + ε/n, others ε/n.
    case epsilonGreedy(epsilon: Double)
}

/// Why a simulator request was refused.
public enum SimulatorError: Error, Sendable, Equatable {
    /// `step` was called before `reset`, or after the session ended.
    case noActiveSession
    /// The slate is empty or longer than the number of positions.
    case invalidSlateSize(Int)
    /// The slate names an item outside `0..<items`.
    case unknownItem(Int)
    /// The slate shows the same item twice.
    case duplicateItem(Int)
}
