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

    /// The greedy policy of `scores` (`rows × nActions`): each row's probability is spread equally over the actions
    /// tied for its highest score, `1/m` on each of `m` tied actions and 0 elsewhere. Ties are never given to the
    /// lowest action index: the figures of a model that scores items alike (one that kept its starting weights) are
    /// then those of the uniform choice among them, whatever order the catalogue lists its rows in.
    public static func greedy(scores: [Double], nActions: Int) -> ActionDistribution {
        var p = [Double](repeating: 0, count: scores.count)
        for row in 0..<(scores.count / nActions) {
            let base = row * nActions
            // Over the comparable scores only: Swift's max() of a row starting with NaN is NaN, which made the row
            // uniform whatever its other scores.
            let best = scores[base..<(base + nActions)].filter { !$0.isNaN }.max() ?? .nan
            let tied = (0..<nActions).filter { scores[base + $0] == best }
            // A row with no comparable score (NaN everywhere) has no best action: uniform, never action 0.
            let chosen = tied.isEmpty ? Array(0..<nActions) : tied
            for a in chosen { p[base + a] = 1 / Double(chosen.count) }
        }
        return ActionDistribution(nActions: nActions, probabilities: p)
    }

    /// ε-greedy around the highest score: `(1 − ε)/m + ε/n` on each of the `m` actions tied for the best score (one
    /// when there is no tie), `ε/n` elsewhere (``greedy(scores:nActions:)``'s tie rule).
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
    /// The items with the most clicks (rows whose reward is above 0, the one definition of a click) in `train`, in
    /// item order: `data ope --policy popular` spreads its choice equally over them (every item when no row has a
    /// click). Not the smoothed click rate, by which an item with 3 clicks in 10 shows outranks one with 20 in 1,000.
    public static func mostClicked(in train: BanditDataset) -> [Int] {
        var clicks = [Int](repeating: 0, count: train.nActions)
        for row in 0..<train.rows where train.reward[row] > 0 { clicks[train.action[row]] += 1 }
        let most = clicks.max() ?? 0
        return clicks.indices.filter { clicks[$0] == most }
    }

    /// `data ope --policy popular` on `rows` rows: the same choice at every row, spread equally over the items tied
    /// for the most clicks in `train` (``mostClicked(in:)``), so its value never depends on the catalogue's row order.
    public static func popular(in train: BanditDataset, rows: Int) -> ActionDistribution {
        let k = train.nActions
        let best = mostClicked(in: train)
        var scores = [Double](repeating: 0, count: rows * k)
        for row in 0..<rows { for item in best { scores[row * k + item] = 1 } }
        return greedy(scores: scores, nActions: k)
    }
}
