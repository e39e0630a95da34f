import RecModel

/// A two-sided confidence interval.
public struct ConfidenceInterval: Sendable, Codable, Equatable {
    /// Lower bound.
    public var lower: Double
    /// Upper bound.
    public var upper: Double
    /// Coverage level, such as 0.95.
    public var level: Double

    /// Whether `value` lies within the bounds.
    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
}

/// Nonparametric bootstrap (Efron, 1979) percentile intervals for off-policy estimates: rows are resampled with
/// replacement `resamples` times and the estimator recomputed on each resample (SNIPW as a ratio on each).
public enum Bootstrap {
    /// Fewest rows an interval is drawn from. From one row every resample is that row, so the interval is the
    /// estimate itself; from a handful the resamples take only a few distinct values and the interval claims a
    /// precision the rows do not have.
    public static let minimumRows = 10

    /// Why `rows` rows and `resamples` resamples give no interval, or nil when they give one.
    public static func undefinedReason(rows: Int, resamples: Int) -> String? {
        if resamples <= 0 { return "no bootstrap resamples were drawn (resamples 0)" }
        if rows < minimumRows {
            return "\(rows) row\(rows == 1 ? "" : "s"), fewer than the \(minimumRows) a bootstrap interval needs"
        }
        return nil
    }

    /// Largest share of resamples on which an estimator may be undefined (SNIPW where every resampled weight is 0)
    /// and still get an interval. Leaving out more would condition the interval on the resamples that happened to
    /// draw a weighted row: at an ESS near 1 nearly every resample that kept the one heavy row gives the same value,
    /// and the interval would collapse to a point.
    public static let maximumUndefinedShare = 0.05

    /// Percentile interval for every available estimator, from the same resamples. Deterministic given `seed`.
    /// An estimator undefined on more than ``maximumUndefinedShare`` of the resamples has no interval, and there is
    /// none at all from fewer than ``minimumRows`` rows (``undefinedReason(rows:resamples:)``).
    public static func intervals(
        _ terms: OPETerms, estimators: [OffPolicyEstimator] = OffPolicyEstimator.allCases, level: Double = 0.95,
        resamples: Int = 1_000, seed: UInt64 = 12_345
    ) -> [OffPolicyEstimator: ConfidenceInterval] {
        intervalsWithReasons(terms, estimators: estimators, level: level, resamples: resamples, seed: seed).intervals
    }

    /// ``intervals(_:estimators:level:resamples:seed:)`` with, for each usable estimator that has no interval, why.
    public static func intervalsWithReasons(
        _ terms: OPETerms, estimators: [OffPolicyEstimator] = OffPolicyEstimator.allCases, level: Double = 0.95,
        resamples: Int = 1_000, seed: UInt64 = 12_345
    ) -> (intervals: [OffPolicyEstimator: ConfidenceInterval], undefined: [OffPolicyEstimator: String]) {
        let n = terms.rows
        let usable = estimators.filter { terms.hasRewardModel || !$0.needsRewardModel }
        guard undefinedReason(rows: n, resamples: resamples) == nil, !usable.isEmpty else { return ([:], [:]) }
        var rng = SplitMix64(seed: seed)
        var draws: [OffPolicyEstimator: [Double]] = [:]
        var counts = [Double](repeating: 0, count: n)
        for _ in 0..<resamples {
            for i in 0..<n { counts[i] = 0 }
            for _ in 0..<n { counts[rng.index(n)] += 1 }
            var s = OPETerms.Sums()
            for i in 0..<n where counts[i] > 0 { terms.accumulate(&s, i, counts[i]) }
            for e in usable {
                // A resample where the estimator is undefined (SNIPW with no weight) adds no draw; they are counted.
                if let value = OPETerms.value(e, s) { draws[e, default: []].append(value) }
            }
        }
        let alpha = 1 - level
        var intervals: [OffPolicyEstimator: ConfidenceInterval] = [:]
        var undefined: [OffPolicyEstimator: String] = [:]
        for e in usable {
            let values = draws[e] ?? []
            let dropped = resamples - values.count
            if values.isEmpty {
                undefined[e] = "undefined on every bootstrap resample"
                continue
            }
            if Double(dropped) > maximumUndefinedShare * Double(resamples) {
                undefined[e] =
                    "undefined on \(dropped) of \(resamples) bootstrap resamples (every resampled weight 0), more than "
                    + "the \(Int(maximumUndefinedShare * 100))% an interval may leave out"
                continue
            }
            let sorted = values.sorted()
            intervals[e] = ConfidenceInterval(
                lower: percentile(sorted: sorted, 100 * alpha / 2),
                upper: percentile(sorted: sorted, 100 * (1 - alpha / 2)),
                level: level)
        }
        return (intervals, undefined)
    }

    /// numpy's default (linear) percentile of already sorted values, `q` in [0, 100].
    public static func percentile(sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "percentile of nothing")
        let position = q / 100 * Double(sorted.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        let fraction = position - Double(low)
        return sorted[low] + (sorted[high] - sorted[low]) * fraction
    }
}
