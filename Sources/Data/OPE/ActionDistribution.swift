/// An evaluation policy's action probabilities for each logged row, at that row's logged position:
/// `π(a | x_i, position_i)`, stored `rows × nActions` row-major. This is obp's
/// `action_dist[i, :, position[i]]`: obp's estimators index π by the logged position, and so do these.
public struct ActionDistribution: Sendable, Equatable {
    /// Number of actions.
    public let nActions: Int
    /// Row-major probabilities.
    public private(set) var probabilities: [Double]

    /// Creates a distribution; each row should sum to 1.
    public init(nActions: Int, probabilities: [Double]) {
        precondition(nActions > 0 && probabilities.count % nActions == 0, "ActionDistribution: bad shape")
        self.nActions = nActions
        self.probabilities = probabilities
    }

    /// Number of rows.
    public var rows: Int { probabilities.count / nActions }

    /// π(action | row).
    public subscript(row: Int, action: Int) -> Double { probabilities[row * nActions + action] }

    /// The uniform policy, 1/nActions everywhere.
    public static func uniform(rows: Int, nActions: Int) -> ActionDistribution {
        ActionDistribution(
            nActions: nActions, probabilities: [Double](repeating: 1 / Double(nActions), count: rows * nActions))
    }

    /// The deterministic policy that picks the highest score of each row (`scores` is `rows × nActions`);
    /// ties go to the lowest action index.
    public static func greedy(scores: [Double], nActions: Int) -> ActionDistribution {
        var p = [Double](repeating: 0, count: scores.count)
        for row in 0..<(scores.count / nActions) {
            var best = 0
            for a in 1..<nActions where scores[row * nActions + a] > scores[row * nActions + best] { best = a }
            p[row * nActions + best] = 1
        }
        return ActionDistribution(nActions: nActions, probabilities: p)
    }

    /// ε-greedy around the highest score: `1 − ε + ε/n` on the best action, `ε/n` elsewhere.
    public static func epsilonGreedy(scores: [Double], nActions: Int, epsilon: Double) -> ActionDistribution {
        let greedy = greedy(scores: scores, nActions: nActions)
        return ActionDistribution(
            nActions: nActions,
            probabilities: greedy.probabilities.map { (1 - epsilon) * $0 + epsilon / Double(nActions) })
    }

    /// The rows at `indices`.
    public func gather(_ indices: [Int]) -> ActionDistribution {
        var out: [Double] = []
        out.reserveCapacity(indices.count * nActions)
        for row in indices { out.append(contentsOf: probabilities[(row * nActions)..<((row + 1) * nActions)]) }
        return ActionDistribution(nActions: nActions, probabilities: out)
    }
}

extension ActionDistribution {
    /// The item with the most clicks (rows whose reward is above 0, the one definition of a click) in `train`, ties
    /// to the lowest item: `data ope --policy popular`'s choice. Not the smoothed click rate, by which an item with 3
    /// clicks in 10 shows outranks one with 20 in 1,000.
    public static func mostClicked(in train: BanditDataset) -> Int {
        var clicks = [Int](repeating: 0, count: train.nActions)
        for row in 0..<train.rows where train.reward[row] > 0 { clicks[train.action[row]] += 1 }
        return clicks.indices.max { clicks[$0] < clicks[$1] || (clicks[$0] == clicks[$1] && $0 > $1) } ?? 0
    }
}
