import Foundation
import RecModel

/// A seeded population of users and a catalogue of items, with the ground-truth choice model.
///
/// Item `i` has a topic vector `v_i ∈ U(−1,1)^d` and quality `q_i ~ N(0, σ_q²)`. User `u` has interests
/// `u ∈ U(−1,1)^d`, observable categorical features read off noisy random projections of `u`, and, for a
/// `warmFraction` of users, a short click history. The utility of item `i` is
/// `s = w·(u·v_i)/√d + q_i (+ boost if warm)`, and on a slate where item `i` sits in slot `p_i` the user picks
///
///     P(i) = b_{p_i} e^{s_i} / (e^{c₀} + Σ_j b_{p_j} e^{s_j}),   P(no click) = e^{c₀} / (same),
///
/// the multinomial proportional choice model with a no-click option (RecSim's interest evolution).
/// A logged row shows one item, so its click probability is `b_p e^{s} / (e^{c₀} + b_p e^{s})`.
public struct SimulatorWorld: Sendable {
    /// The configuration this world was built from.
    public let config: SimulatorConfig
    /// User interests, `users × topics`, row-major.
    public let interests: [Double]
    /// Observable feature codes, `users × features`, row-major; code `k` of feature `j` reads `u{j}_{k}`.
    public let featureCodes: [Int32]
    /// Whether each user has history.
    public let warm: [Bool]
    /// Past clicks per item of each user (empty for cold users).
    public private(set) var history: SparseRows
    /// Item topic vectors, `items × topics`, row-major.
    public let topicVectors: [Double]
    /// Item quality.
    public let quality: [Double]
    /// Random projections that produce the observable features, one `cardinality × topics` block per feature.
    let projections: [[Double]]
    /// Greedy item of the ε-greedy logging policy per (`user_feature_0` code, slot).
    private(set) var greedyItem: [[Int]]

    /// Builds the population and catalogue deterministically from `config.seed`.
    public init(config: SimulatorConfig) {
        precondition(config.users > 0 && config.items > 1 && config.topics > 0, "SimulatorWorld: empty world")
        precondition(config.positionBias.count >= config.positions, "SimulatorWorld: one position bias per slot")
        self.config = config
        var rng = SplitMix64(seed: config.seed)
        let d = config.topics
        topicVectors = (0..<(config.items * d)).map { _ in rng.uniform(-1, 1) }
        quality = (0..<config.items).map { _ in config.qualitySpread * rng.normal() }
        projections = config.userFeatureCardinalities.map { c in (0..<(c * d)).map { _ in rng.normal() } }
        var interests: [Double] = []
        var codes: [Int32] = []
        var warm: [Bool] = []
        interests.reserveCapacity(config.users * d)
        for _ in 0..<config.users {
            let u = (0..<d).map { _ in rng.uniform(-1, 1) }
            interests.append(contentsOf: u)
            codes.append(
                contentsOf: Self.observe(
                    u, projections: projections, cardinalities: config.userFeatureCardinalities,
                    noise: config.featureNoise, rng: &rng))
            warm.append(rng.uniform() < config.warmFraction)
        }
        self.interests = interests
        self.featureCodes = codes
        self.warm = warm
        var history = SparseRows()
        var table = [[Int]](
            repeating: [Int](repeating: 0, count: config.positions), count: config.userFeatureCardinalities.first ?? 1)
        self.history = history
        self.greedyItem = table
        for user in 0..<config.users {
            guard warm[user] else {
                history.append([])
                continue
            }
            let clicks = 1 + rng.index(max(1, config.maxHistory))
            var counts: [Int: Float] = [:]
            let weights = (0..<config.items).map { exp(utility(user: user, item: $0)) }
            let total = weights.reduce(0, +)
            for _ in 0..<clicks {
                var target = rng.uniform() * total
                var chosen = config.items - 1
                for (item, w) in weights.enumerated() {
                    target -= w
                    if target < 0 { chosen = item; break }
                }
                counts[chosen, default: 0] += 1
            }
            history.append(counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        self.history = history
        // The logging system's greedy choice: the item with the highest mean click probability among users
        // sharing user_feature_0, per slot.
        if !config.userFeatureCardinalities.isEmpty {
            let groups = config.userFeatureCardinalities[0]
            let nFeatures = config.userFeatureCardinalities.count
            var sums = [Double](repeating: 0, count: groups * config.items)
            let sample = min(config.users, 5_000)
            for user in 0..<sample {
                let g = Int(codes[user * nFeatures])
                for item in 0..<config.items { sums[g * config.items + item] += utility(user: user, item: item) }
            }
            for g in 0..<groups {
                let best = (0..<config.items).max { sums[g * config.items + $0] < sums[g * config.items + $1] } ?? 0
                table[g] = [Int](repeating: best, count: config.positions)
            }
            self.greedyItem = table
        }
    }

    /// Reads observable feature codes off an interest vector.
    static func observe(
        _ u: [Double], projections: [[Double]], cardinalities: [Int], noise: Double, rng: inout SplitMix64
    ) -> [Int32] {
        let d = u.count
        return cardinalities.indices.map { j in
            var best = 0
            var bestValue = -Double.infinity
            for k in 0..<cardinalities[j] {
                var value = noise * rng.normal()
                for t in 0..<d { value += projections[j][k * d + t] * u[t] }
                if value > bestValue { (best, bestValue) = (k, value) }
            }
            return Int32(best)
        }
    }

    /// The name of category `code` of feature `feature`, zero-padded so that lexicographic order is code order.
    public static func categoryName(feature: Int, code: Int) -> String {
        code < 10 ? "u\(feature)_0\(code)" : "u\(feature)_\(code)"
    }

    /// Utility `s` of an item for an interest vector (warm users add their boost).
    public func utility(interest u: ArraySlice<Double>, item: Int, warm: Bool) -> Double {
        let d = config.topics
        var dot = 0.0
        var t = u.startIndex
        for k in 0..<d {
            dot += u[t] * topicVectors[item * d + k]
            t += 1
        }
        return config.interestWeight * dot / Double(d).squareRoot() + quality[item]
            + (warm ? config.warmUtilityBoost : 0)
    }

    /// Utility of an item for a population user.
    public func utility(user: Int, item: Int) -> Double {
        let d = config.topics
        return utility(interest: interests[(user * d)..<((user + 1) * d)], item: item, warm: warm[user])
    }

    /// Ground-truth probability that a population user clicks `item` shown alone in `position`.
    public func clickProbability(user: Int, item: Int, position: Int) -> Double {
        single(utility: utility(user: user, item: item), position: position)
    }

    func single(utility s: Double, position: Int) -> Double {
        let shown = config.positionBias[position] * exp(s - config.noClickUtility)
        return shown / (1 + shown)
    }

    /// Choice probabilities for a slate (slot `k` holds `slate[k]`); the last entry is the no-click option.
    public func choiceProbabilities(interest u: ArraySlice<Double>, warm: Bool, slate: [Int]) -> [Double] {
        var weights = slate.enumerated().map { slot, item in
            config.positionBias[slot] * exp(utility(interest: u, item: item, warm: warm) - config.noClickUtility)
        }
        weights.append(1)
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
    }
}
