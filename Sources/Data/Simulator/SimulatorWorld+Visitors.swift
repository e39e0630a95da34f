import Foundation
import RecModel

/// The built-in simulator as a ``VisitorWorld``: brand-new users from the prior (no history), the
/// default world of `recpool simulate`.
extension SimulatorWorld: VisitorWorld {
    /// Items.
    public var itemCount: Int { config.items }
    /// Slots.
    public var slots: Int { config.positions }

    /// `user_feature_j` with values `u{j}_{kk}`.
    public var userVocabulary: [ItemEncoding.Vocabulary] {
        config.userFeatureCardinalities.enumerated().map { j, c in
            ItemEncoding.Vocabulary(name: "user_feature_\(j)", values: (0..<c).map { Self.categoryName(feature: j, code: $0) })
        }
    }

    /// The users of ``SimulatorEnvironment`` from `seed`, one ``SimulatorEnvironment/nextVisitor()`` each.
    public func visitors(count: Int, seed: UInt64) -> [SimulatedVisitor] {
        var environment = SimulatorEnvironment(world: self, seed: seed)
        return (0..<count).map { _ in environment.nextVisitor() }
    }

    /// The simulator has no logging policy for new users.
    public func loggingSlates(for visitors: [SimulatedVisitor], slateLength: Int, seed: UInt64) -> [[Int]]? { nil }

    /// The best feature-only slates, by Monte Carlo over the prior: interests are drawn from U(−1,1)^d and read
    /// into features exactly as new users are, and each needed feature combination keeps up to
    /// `perContext` of the interests that produced it (drawing stops when every needed combination has them or
    /// after `budget` draws). Its slate is ``GreedySlate`` over those samples. A combination never drawn gets
    /// the greedy slate over the first samples of every combination (the best non-personalised slate).
    /// Deterministic: the draws come from the world's seed, not the run's.
    public func featureOnlySlates(for visitors: [SimulatedVisitor], slateLength: Int) -> [[Int]] {
        featureOnlySlates(for: visitors, slateLength: slateLength, perContext: 48, budget: 300_000)
    }

    /// ``featureOnlySlates(for:slateLength:)`` with explicit sample sizes.
    public func featureOnlySlates(
        for visitors: [SimulatedVisitor], slateLength: Int, perContext: Int, budget: Int
    ) -> [[Int]] {
        let d = config.topics
        var needed = Set(visitors.map(\.userFeatures))
        var samples: [[String: String]: [[Double]]] = [:]
        var population: [[Double]] = []
        var rng = SplitMix64(seed: config.seed ^ 0xFEA7_0000_0B5E_7EED)
        var drawn = 0
        while !needed.isEmpty && drawn < budget {
            drawn += 1
            let u = (0..<d).map { _ in rng.uniform(-1, 1) }
            let codes = Self.observe(
                u, projections: projections, cardinalities: config.userFeatureCardinalities,
                noise: config.featureNoise, rng: &rng)
            var features: [String: String] = [:]
            for (j, code) in codes.enumerated() {
                features["user_feature_\(j)"] = Self.categoryName(feature: j, code: Int(code))
            }
            let wanted = needed.contains(features)
            guard wanted || population.count < 2_000 else { continue }
            var attraction: [Double] = []
            attraction.reserveCapacity(config.items * config.positions)
            for item in 0..<config.items {
                let s = utility(interest: u[...], item: item, warm: false)
                for slot in 0..<config.positions {
                    attraction.append(config.positionBias[slot] * exp(s - config.noClickUtility))
                }
            }
            if population.count < 2_000 { population.append(attraction) }
            if wanted {
                samples[features, default: []].append(attraction)
                if samples[features]!.count >= perContext { needed.remove(features) }
            }
        }
        let fallback = GreedySlate.best(samples: population, slots: config.positions, length: slateLength)
        var slates: [[String: String]: [Int]] = [:]
        return visitors.map { visitor in
            if let slate = slates[visitor.userFeatures] { return slate }
            let slate =
                samples[visitor.userFeatures].map {
                    GreedySlate.best(samples: $0, slots: config.positions, length: slateLength)
                } ?? fallback
            slates[visitor.userFeatures] = slate
            return slate
        }
    }
}
