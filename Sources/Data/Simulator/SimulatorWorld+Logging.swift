import RecModel

/// Logged datasets in the Open Bandit Dataset's shape.
extension SimulatorWorld {
    /// Generates `rows` logged impressions: a user drawn uniformly from the population, a slot drawn uniformly,
    /// an item drawn from the logging policy (its exact probability recorded as `pscore`), and a click drawn from
    /// the ground-truth single-impression click probability. The result carries a `ClickOracle`.
    ///
    /// Deterministic given `seed`. Context is obp's one-hot with the first category dropped; action context is
    /// [label-encoded topic, quality band, brand, then continuous quality]; affinity is the user's past clicks.
    public func loggedData(rows: Int, policy: LoggingPolicy, seed: UInt64, name: String? = nil) -> BanditDataset {
        var rng = SplitMix64(seed: seed ^ 0xA5A5_5A5A_D00D_F00D)
        let n = config.items
        let nFeatures = config.userFeatureCardinalities.count
        var users = [Int32](repeating: 0, count: rows)
        var action = [Int](repeating: 0, count: rows)
        var position = [Int](repeating: 0, count: rows)
        var reward = [Double](repeating: 0, count: rows)
        var pscore = [Double](repeating: 0, count: rows)
        var codes = [Int32](repeating: 0, count: rows * nFeatures)
        var affinity = SparseRows()
        for row in 0..<rows {
            let user = rng.index(config.users)
            let slot = rng.index(config.positions)
            var item: Int
            var propensity: Double
            switch policy {
            case .uniform:
                item = rng.index(n)
                propensity = 1 / Double(n)
            case .epsilonGreedy(let epsilon):
                let group = nFeatures > 0 ? Int(featureCodes[user * nFeatures]) : 0
                let greedy = greedyItem[group][slot]
                item = rng.uniform() < epsilon ? rng.index(n) : greedy
                propensity = epsilon / Double(n) + (item == greedy ? 1 - epsilon : 0)
            }
            let p = clickProbability(user: user, item: item, position: slot)
            users[row] = Int32(user)
            action[row] = item
            position[row] = slot
            reward[row] = rng.uniform() < p ? 1 : 0
            pscore[row] = propensity
            for j in 0..<nFeatures { codes[row * nFeatures + j] = featureCodes[user * nFeatures + j] }
            affinity.append(history.entries(user).lazy.map { ($0.column, $0.value) })
        }
        let userFeatures = CategoricalColumns(
            names: (0..<nFeatures).map { "user_feature_\($0)" },
            categories: config.userFeatureCardinalities.enumerated().map { j, c in
                (0..<c).map { Self.categoryName(feature: j, code: $0) }
            },
            codes: codes)
        return BanditDataset(
            name: name ?? "synthetic:users=\(config.users),items=\(n),rows=\(rows),seed=\(config.seed)",
            nActions: n, nPositions: config.positions, action: action, position: position, reward: reward,
            pscore: pscore, userFeatures: userFeatures, context: userFeatures.dummiesDroppingFirst(),
            actionContext: actionContext(), affinity: affinity, oracle: ClickOracle(world: self, users: users))
    }

    /// obp-style action context: label-encoded dominant topic, quality band and brand, then quality.
    public func actionContext() -> FeatureMatrix {
        let d = config.topics
        var values: [Float] = []
        for item in 0..<config.items {
            let topic = (0..<d).max { topicVectors[item * d + $0] < topicVectors[item * d + $1] } ?? 0
            let band = quality[item] < -0.25 ? 0 : (quality[item] < 0.25 ? 1 : 2)
            values += [Float(topic), Float(band), Float(item % 5), Float(quality[item])]
        }
        return FeatureMatrix(
            rows: config.items, columnNames: ["item_feature_1", "item_feature_2", "item_feature_3", "item_feature_0"],
            values: values)
    }

    /// The exact value of a policy over the population: the mean over users and (uniform) slots of
    /// `Σ_a π(a | user, slot) · P(click | user, a, slot)`. `policy` returns π over all items.
    public func policyValue(_ policy: (_ user: Int, _ slot: Int) -> [Double]) -> Double {
        var total = 0.0
        for user in 0..<config.users {
            for slot in 0..<config.positions {
                let pi = policy(user, slot)
                for item in 0..<config.items where pi[item] > 0 {
                    total += pi[item] * clickProbability(user: user, item: item, position: slot)
                }
            }
        }
        return total / Double(config.users * config.positions)
    }
}

/// Ground-truth click probabilities for the rows of a simulated dataset, for oracle metrics.
public struct ClickOracle: Sendable {
    /// The world the rows came from.
    public let world: SimulatorWorld
    /// Population user of each row.
    public let users: [Int32]

    /// Probability that row `row`'s user clicks `item` shown alone in `position`.
    public func probability(row: Int, item: Int, position: Int) -> Double {
        world.clickProbability(user: Int(users[row]), item: item, position: position)
    }

    /// The rows at `indices`.
    public func gather(_ indices: [Int]) -> ClickOracle {
        ClickOracle(world: world, users: indices.map { users[$0] })
    }
}
