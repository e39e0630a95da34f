import Foundation
import RecModel

/// How `q̂(x, a, position)` is estimated for DM and DR.
public enum RewardModelKind: Sendable, Equatable {
    /// L2-regularised logistic regression on [context one-hot, item one-hot, affinity of the item, has-history],
    /// fitted by full-batch Nesterov gradient descent on the mean log-loss + `l2/(2n)·‖w‖²`.
    case logistic(iterations: Int = 300, l2: Double = 1.0)
    /// Smoothed click rate per item: `(clicks + prior·ctr) / (shows + prior)` with the fold's overall ctr.
    case itemMean(prior: Double = 10)
}

/// A cross-fitted reward model's predictions for every logged row and every action at the row's logged position,
/// with any fallbacks it had to take.
public struct RewardModelFit: Sendable {
    /// `q̂(x_i, a, position_i)`, `rows × nActions` row-major.
    public var estimatedRewards: [Double]
    /// Human-readable notes, e.g. a fold with one class that fell back to a constant.
    public var notes: [String]
}

/// Reward models fitted one per position with K-fold cross-fitting, as obp's `RegressionModel.fit_predict` does
/// for DR (Chernozhukov et al., 2018): each row's prediction comes from a model that never saw it.
public enum RewardModel {
    /// Fits and predicts. Rows are shuffled into `folds` folds per position with `seed`; `folds == 1` fits on all rows.
    /// A training fold whose rewards are all one class cannot fit a classifier: it falls back to the constant
    /// fold mean, and says so in `notes`.
    public static func crossFitted(
        _ data: BanditDataset, kind: RewardModelKind = .logistic(), folds: Int = 3, seed: UInt64 = 7
    ) -> RewardModelFit {
        let k = data.nActions
        var q = [Double](repeating: 0, count: data.rows * k)
        var notes: [String] = []
        var rng = SplitMix64(seed: seed)
        let features = RowFeatures(data)
        for position in 0..<data.nPositions {
            var rows = (0..<data.rows).filter { data.position[$0] == position }
            guard !rows.isEmpty else { continue }
            rows.shuffle(using: &rng)
            let nFolds = max(1, min(folds, rows.count))
            for fold in 0..<nFolds {
                let test = nFolds == 1 ? rows : stride(from: fold, to: rows.count, by: nFolds).map { rows[$0] }
                let testSet = Set(test)
                let train = nFolds == 1 ? rows : rows.filter { !testSet.contains($0) }
                let clicks = train.reduce(0.0) { $0 + data.reward[$1] }
                let mean = train.isEmpty ? 0 : clicks / Double(train.count)
                if clicks == 0 || clicks == Double(train.count) {
                    notes.append(
                        "position \(position) fold \(fold + 1)/\(nFolds): training rewards are all \(Int(mean)) "
                            + "(\(train.count) rows); used the constant \(mean)")
                    for i in test { for a in 0..<k { q[i * k + a] = mean } }
                    continue
                }
                switch kind {
                case .itemMean(let prior):
                    var shows = [Double](repeating: 0, count: k)
                    var hits = [Double](repeating: 0, count: k)
                    for i in train {
                        shows[data.action[i]] += 1
                        hits[data.action[i]] += data.reward[i]
                    }
                    for i in test { for a in 0..<k { q[i * k + a] = (hits[a] + prior * mean) / (shows[a] + prior) } }
                case .logistic(let iterations, let l2):
                    let model = LogisticModel.fit(features, rows: train, data: data, iterations: iterations, l2: l2)
                    for i in test {
                        let base = model.sharedLogit(features, row: i)
                        for a in 0..<k {
                            q[i * k + a] = model.probability(features, row: i, action: a, sharedLogit: base)
                        }
                    }
                }
            }
        }
        return RewardModelFit(estimatedRewards: q, notes: notes)
    }
}

/// Sparse features of a logged row: nonzero context columns, then per-action item and affinity features.
struct RowFeatures {
    let contextColumns: Int
    let nActions: Int
    let active: [[Int32]]
    let affinity: SparseRows

    init(_ data: BanditDataset) {
        contextColumns = data.context.columns
        nActions = data.nActions
        active = (0..<data.rows).map { row in
            (0..<data.context.columns).compactMap { data.context[row, $0] != 0 ? Int32($0) : nil }
        }
        affinity = data.affinity
    }

    /// Weight layout: [bias, context..., item one-hot..., affinity, has-history].
    var width: Int { 1 + contextColumns + nActions + 2 }
}

struct LogisticModel {
    var w: [Double]

    func sharedLogit(_ f: RowFeatures, row: Int) -> Double {
        var z = w[0]
        for c in f.active[row] { z += w[1 + Int(c)] }
        if !f.affinity.isEmpty(row) { z += w[f.width - 1] }
        return z
    }

    func probability(_ f: RowFeatures, row: Int, action: Int, sharedLogit: Double) -> Double {
        let z = sharedLogit + w[1 + f.contextColumns + action] + w[f.width - 2] * Double(f.affinity.value(row, action))
        return 1 / (1 + exp(-z))
    }

    static func fit(_ f: RowFeatures, rows: [Int], data: BanditDataset, iterations: Int, l2: Double) -> LogisticModel {
        let n = Double(rows.count)
        let mean = rows.reduce(0.0) { $0 + data.reward[$1] } / n
        var model = LogisticModel(w: [Double](repeating: 0, count: f.width))
        model.w[0] = log(mean / (1 - mean))
        var velocity = [Double](repeating: 0, count: f.width)
        var gradient = [Double](repeating: 0, count: f.width)
        let rate = 0.5
        for _ in 0..<iterations {
            // Nesterov look-ahead point.
            var ahead = model
            for j in 0..<f.width { ahead.w[j] += 0.9 * velocity[j] }
            for j in 0..<f.width { gradient[j] = l2 / n * (j == 0 ? 0 : ahead.w[j]) }
            for i in rows {
                let a = data.action[i]
                let affinity = Double(f.affinity.value(i, a))
                let p = ahead.probability(f, row: i, action: a, sharedLogit: ahead.sharedLogit(f, row: i))
                let g = (p - data.reward[i]) / n
                gradient[0] += g
                for c in f.active[i] { gradient[1 + Int(c)] += g }
                gradient[1 + f.contextColumns + a] += g
                gradient[f.width - 2] += g * affinity
                if !f.affinity.isEmpty(i) { gradient[f.width - 1] += g }
            }
            for j in 0..<f.width {
                velocity[j] = 0.9 * velocity[j] - rate * gradient[j]
                model.w[j] += velocity[j]
            }
        }
        return model
    }
}
