import Foundation
import RecModel

/// How `q̂(x, a, position)` is estimated for DM and DR.
public enum RewardModelKind: Sendable, Equatable {
    /// L2-regularised logistic regression on [context, item one-hot, affinity of the item, has-history], fitted by
    /// full-batch Nesterov gradient descent on the mean log-loss + `l2/(2n)·‖w‖²`. A one-hot context column enters as
    /// 0 or 1; a numeric user feature centred on its median, over its robust spread (1.4826 × MAD), clipped to ±5.
    ///
    /// A reward that is not 0 or 1 (revenue, a rating) is first scaled into [0, 1] by the training fold's range,
    /// `s = (r − min) / (max − min)`; the model is fitted to `s` with the same Bernoulli log-loss and its estimate is
    /// scaled back, `q̂ = min + (max − min)·p̂`. This is the fractional logit of Papke & Wooldridge (1996), "Econometric
    /// methods for fractional response variables", J. Applied Econometrics 11(6): the Bernoulli log-likelihood is a
    /// quasi-likelihood whose maximiser is consistent for `E[s | x]` whenever `s ∈ [0, 1]`. For 0/1 rewards the scale is
    /// the identity and nothing changes.
    case logistic(iterations: Int = 300, l2: Double = 1.0)
    /// Smoothed mean reward per item: `(Σr + prior·mean) / (shows + prior)` with the fold's overall mean reward (the
    /// click rate for 0/1 rewards).
    case itemMean(prior: Double = 10)
}

/// A cross-fitted reward model's predictions for every logged row and every action at the row's logged position,
/// with any fallbacks it had to take.
public struct RewardModelFit: Sendable {
    /// `q̂(x_i, a, position_i)`, `rows × nActions` row-major.
    public var estimatedRewards: [Double]
    /// Human-readable notes, e.g. a fold with one class that fell back to a constant.
    public var notes: [String]
    /// Why no cross-fitted estimate exists (`estimatedRewards` is then not to be used), or nil.
    public var unavailable: String?

    /// A fit, or one that is unavailable for `unavailable`'s reason.
    public init(estimatedRewards: [Double], notes: [String], unavailable: String? = nil) {
        self.estimatedRewards = estimatedRewards
        self.notes = notes
        self.unavailable = unavailable
    }
}

/// Reward models fitted one per position with K-fold cross-fitting, as obp's `RegressionModel.fit_predict` does
/// for DR (Chernozhukov et al., 2018): each row's prediction comes from a model that never saw it.
public enum RewardModel {
    /// Fits and predicts. Rows are shuffled into `folds` folds per position with `seed`; `folds == 1` fits on all rows.
    /// A training fold whose rewards are all one class cannot fit a classifier: it falls back to the constant
    /// fold mean, and says so in `notes`.
    ///
    /// With `folds > 1`, a position holding a single row has no fold to leave it out of: its `q̂` comes from a model
    /// fitted on every other row (the other positions'), noted. A dataset of one row has no such model, and the fit
    /// is ``RewardModelFit/unavailable`` (DM and DR are then undefined, naming why), never fitted on the row it
    /// predicts.
    public static func crossFitted(
        _ data: BanditDataset, kind: RewardModelKind = .logistic(), folds: Int = 3, seed: UInt64 = 7
    ) -> RewardModelFit {
        var q = [Double](repeating: 0, count: data.rows * data.nActions)
        var notes: [String] = []
        var rng = SplitMix64(seed: seed)
        let features = RowFeatures(data)
        var alone: [Int] = []
        for position in 0..<data.nPositions {
            var rows = (0..<data.rows).filter { data.position[$0] == position }
            guard !rows.isEmpty else { continue }
            if folds > 1 && rows.count == 1 {
                alone.append(rows[0])
                continue
            }
            rows.shuffle(using: &rng)
            let nFolds = max(1, min(folds, rows.count))
            for fold in 0..<nFolds {
                let test = nFolds == 1 ? rows : stride(from: fold, to: rows.count, by: nFolds).map { rows[$0] }
                let testSet = Set(test)
                let train = nFolds == 1 ? rows : rows.filter { !testSet.contains($0) }
                fit(
                    data, features: features, kind: kind, train: train, test: test,
                    label: "\(data.slotName(position)) fold \(fold + 1)/\(nFolds)", into: &q, notes: &notes)
            }
        }
        // Many positions of one row each (a long tail of slots) share one model fitted on the other positions' rows,
        // which saw none of them: one fit, not one per row. A few are each fitted on every other row.
        let aloneSet = Set(alone)
        let shared = (0..<data.rows).filter { !aloneSet.contains($0) }
        if alone.count > 8 && !shared.isEmpty {
            notes.append(
                "\(alone.count) positions have one row each: their reward estimates come from one model fitted on the "
                    + "other \(shared.count) rows, as cross-fitting needs a model that has not seen them")
            fit(
                data, features: features, kind: kind, train: shared, test: alone,
                label: "the \(alone.count) positions of one row", into: &q, notes: &notes)
            return RewardModelFit(estimatedRewards: q, notes: notes)
        }
        for row in alone {
            let train = (0..<data.rows).filter { $0 != row }
            guard !train.isEmpty else {
                return RewardModelFit(
                    estimatedRewards: q, notes: notes,
                    unavailable: "the reward model is cross-fitted (\(folds) folds) and the data has one row: "
                        + "no model exists that has not seen it")
            }
            let position = data.position[row]
            notes.append(
                "\(data.slotName(position)) has one row: its reward estimate is fitted on the other \(train.count) rows "
                    + "(other positions), as cross-fitting needs a model that has not seen it")
            fit(
                data, features: features, kind: kind, train: train, test: [row],
                label: "\(data.slotName(position)) (its one row)", into: &q, notes: &notes)
        }
        return RewardModelFit(estimatedRewards: q, notes: notes)
    }

    /// Fits `kind` on `train` and writes `q̂(x_i, a)` for every `i` in `test` and every action into `q`.
    private static func fit(
        _ data: BanditDataset, features: RowFeatures, kind: RewardModelKind, train: [Int], test: [Int], label: String,
        into q: inout [Double], notes: inout [String]
    ) {
        let k = data.nActions
        let total = train.reduce(0.0) { $0 + data.reward[$1] }
        let mean = train.isEmpty ? 0 : total / Double(train.count)
        let low = train.lazy.map { data.reward[$0] }.min() ?? 0
        let high = train.lazy.map { data.reward[$0] }.max() ?? 0
        // One reward value (all 0, all 1, all 2.5) leaves nothing to regress on: the constant is the estimate.
        if low == high {
            notes.append(
                "\(label): training rewards are all \(Self.format(low)) (\(train.count) \(train.count == 1 ? "row" : "rows")); "
                    + "used the constant "
                    + Self.format(low))
            for i in test { for a in 0..<k { q[i * k + a] = low } }
            return
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
            // Fractional logit (Papke & Wooldridge, 1996): fit on rewards scaled into [0, 1], scale back.
            let scale = RewardScale(low: low, high: high)
            let model = LogisticModel.fit(
                features, rows: train, data: data, scale: scale, iterations: iterations, l2: l2)
            for i in test {
                let base = model.sharedLogit(features, row: i)
                for a in 0..<k {
                    q[i * k + a] = scale.unscaled(model.probability(features, row: i, action: a, sharedLogit: base))
                }
            }
        }
    }

    /// A reward as a note prints it: an integer without a fraction, otherwise as Swift prints a `Double`.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// The affine map of a training fold's rewards onto [0, 1], `s = (r − low) / (high − low)`, and back; the identity
/// for 0/1 rewards. `high > low`.
struct RewardScale {
    /// The smallest training reward.
    var low: Double
    /// The largest training reward.
    var high: Double

    /// `r` scaled into [0, 1].
    func scaled(_ r: Double) -> Double { (r - low) / (high - low) }

    /// A scaled estimate in [0, 1] back in reward units.
    func unscaled(_ s: Double) -> Double { low + (high - low) * s }
}

/// Sparse features of a logged row: its nonzero context columns with their values, then per-action item and affinity
/// features.
///
/// A column of 0s and 1s (a one-hot category) enters as it is. Any other column (a numeric user feature, appended to
/// the context raw, docs/DATA.md) is centred on its median and divided by its scaled median absolute deviation
/// (1.4826 × MAD, the standard deviation's robust estimate; the standard deviation when the MAD is 0), then clipped
/// to ±5: its units, its offset (a year, a temperature in kelvin) and a few outliers do not matter, and the descent's
/// fixed step stays stable. Kept as "the column is not 0", a numeric feature was a hidden on/off flag, and DM was the
/// same to every digit whether `amount` was scaled by 1 or 1e30.
struct RowFeatures {
    let contextColumns: Int
    let nActions: Int
    /// Per row, its nonzero context columns, ascending.
    let active: [[Int32]]
    /// Per row, the value of each column in ``active``, scaled, in the same order.
    let values: [[Double]]
    let affinity: SparseRows

    /// The bound a scaled value is clipped to.
    static let clip = 5.0

    /// How a context column enters.
    private enum ColumnScaling {
        /// A column of 0s and 1s, as it is.
        case raw
        /// Any other column, `(value − centre) / scale` clipped to ±``clip``.
        case scaled(centre: Double, scale: Double)
        /// A numeric column with one value: left out.
        case constant
    }

    init(_ data: BanditDataset) {
        contextColumns = data.context.columns
        nActions = data.nActions
        var scaling = [ColumnScaling](repeating: .raw, count: data.context.columns)
        for column in 0..<data.context.columns {
            let values = (0..<data.rows).map { Double(data.context[$0, column]) }.filter(\.isFinite)
            guard values.contains(where: { $0 != 0 && $0 != 1 }) else { continue }
            let sorted = values.sorted()
            let median = Self.median(sorted)
            let deviation = 1.4826 * Self.median(sorted.map { abs($0 - median) }.sorted())
            let mean = values.reduce(0, +) / Double(values.count)
            let spread = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
            let scale = deviation > 0 ? deviation : spread
            // A constant column carries nothing: left out (a scale of 0 would divide by it).
            scaling[column] = scale > 0 && scale.isFinite ? .scaled(centre: median, scale: scale) : .constant
        }
        var active: [[Int32]] = []
        var values: [[Double]] = []
        active.reserveCapacity(data.rows)
        values.reserveCapacity(data.rows)
        for row in 0..<data.rows {
            var columns: [Int32] = []
            var scaled: [Double] = []
            for column in 0..<data.context.columns {
                let raw = Double(data.context[row, column])
                guard raw.isFinite else { continue }
                let value: Double
                switch scaling[column] {
                case .raw: value = raw
                case .scaled(let centre, let scale): value = min(max((raw - centre) / scale, -Self.clip), Self.clip)
                case .constant: continue
                }
                guard value != 0 else { continue }
                columns.append(Int32(column))
                scaled.append(value)
            }
            active.append(columns)
            values.append(scaled)
        }
        self.active = active
        self.values = values
        affinity = data.affinity
    }

    /// The median of ascending `sorted` (0 for none).
    static func median(_ sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Weight layout: [bias, context..., item one-hot..., affinity, has-history].
    var width: Int { 1 + contextColumns + nActions + 2 }
}

struct LogisticModel {
    var w: [Double]

    func sharedLogit(_ f: RowFeatures, row: Int) -> Double {
        var z = w[0]
        for (c, value) in zip(f.active[row], f.values[row]) { z += w[1 + Int(c)] * value }
        if !f.affinity.isEmpty(row) { z += w[f.width - 1] }
        return z
    }

    func probability(_ f: RowFeatures, row: Int, action: Int, sharedLogit: Double) -> Double {
        let z = sharedLogit + w[1 + f.contextColumns + action] + w[f.width - 2] * Double(f.affinity.value(row, action))
        return 1 / (1 + exp(-z))
    }

    /// Fits to the rewards of `rows` mapped by `scale` into [0, 1], whose mean must lie strictly between 0 and 1 (the
    /// caller takes a constant when every reward is the same).
    ///
    /// Nesterov momentum gradient descent at step 0.5 (Sutskever et al., 2013) from the intercept-only model. A large
    /// input (an affinity of 9 engagements, from a `user` column's history) puts the curvature beyond what that step
    /// takes, and the descent diverges to a saturated model (DM a third of the logged mean, its interval excluding
    /// it). The descent is then run again at a step 4× smaller, up to four times: a fit is kept only when its
    /// regularised objective on its own rows is no worse than the intercept-only model's, which the optimum always
    /// is; failing that, the intercept-only model is the fit.
    static func fit(
        _ f: RowFeatures, rows: [Int], data: BanditDataset, scale: RewardScale = RewardScale(low: 0, high: 1),
        iterations: Int, l2: Double
    ) -> LogisticModel {
        let n = Double(rows.count)
        let target = rows.map { scale.scaled(data.reward[$0]) }
        let mean = target.reduce(0, +) / n
        var constant = LogisticModel(w: [Double](repeating: 0, count: f.width))
        constant.w[0] = log(mean / (1 - mean))
        let baseline = constant.objective(f, rows: rows, data: data, target: target, l2: l2)
        var rate = 0.5
        for _ in 0..<5 {
            let model = descend(
                from: constant, f, rows: rows, data: data, target: target, iterations: iterations, l2: l2, rate: rate)
            let objective = model.objective(f, rows: rows, data: data, target: target, l2: l2)
            if objective.isFinite && objective <= baseline + 1e-12 { return model }
            rate /= 4
        }
        return constant
    }

    /// The regularised objective the descent minimises: mean cross-entropy of `target` plus `l2 / 2n · Σ w²` over
    /// every weight but the intercept.
    func objective(_ f: RowFeatures, rows: [Int], data: BanditDataset, target: [Double], l2: Double) -> Double {
        let n = Double(rows.count)
        var loss = 0.0
        for (t, i) in rows.enumerated() {
            let p = probability(f, row: i, action: data.action[i], sharedLogit: sharedLogit(f, row: i))
            let clipped = min(max(p, 1e-15), 1 - 1e-15)
            loss -= target[t] * log(clipped) + (1 - target[t]) * log(1 - clipped)
        }
        let penalty = w.dropFirst().reduce(0) { $0 + $1 * $1 }
        return loss / n + l2 / (2 * n) * penalty
    }

    /// `iterations` steps of Nesterov momentum gradient descent (momentum 0.9) at `rate` from `start`.
    private static func descend(
        from start: LogisticModel, _ f: RowFeatures, rows: [Int], data: BanditDataset, target: [Double],
        iterations: Int, l2: Double, rate: Double
    ) -> LogisticModel {
        let n = Double(rows.count)
        var model = start
        var velocity = [Double](repeating: 0, count: f.width)
        var gradient = [Double](repeating: 0, count: f.width)
        for _ in 0..<iterations {
            // Nesterov look-ahead point.
            var ahead = model
            for j in 0..<f.width { ahead.w[j] += 0.9 * velocity[j] }
            for j in 0..<f.width { gradient[j] = l2 / n * (j == 0 ? 0 : ahead.w[j]) }
            for (t, i) in rows.enumerated() {
                let a = data.action[i]
                let affinity = Double(f.affinity.value(i, a))
                let p = ahead.probability(f, row: i, action: a, sharedLogit: ahead.sharedLogit(f, row: i))
                let g = (p - target[t]) / n
                gradient[0] += g
                for (c, value) in zip(f.active[i], f.values[i]) { gradient[1 + Int(c)] += g * value }
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
