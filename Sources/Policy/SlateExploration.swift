#if canImport(Glibc)
    import Glibc
#endif
import RecModel
import RecWire

/// The slot-by-slot slate rule of an ``ExplorationSpec``: which item goes in the next slot, and with what
/// probability, given the scores of the items still available.
///
/// Cold start: while the remaining items include new ones (`isNew`, an item whose id bucket has fewer than
/// `cold_start_shows` learnt events), a share κ (`cold_start_share`) of the slot is reserved for a uniformly drawn
/// new item and the exploration rule gets the other 1 − κ:
/// `p(a) = (1 − κ)·p_rule(a) + κ·[a new]/#new`. With no new item left, `p = p_rule`. Every probability is exact.
public enum SlateExploration {
    /// The probability of placing each remaining item in the next slot. `q` holds the scores of the remaining
    /// items; the result sums to 1. ε-greedy's greedy share 1 − ε is split equally over the `m` items tied for the
    /// highest score: `p(a) = (1 − ε)/m + ε/n` for each of them, `ε/n` for the others. (Taking the first of them made
    /// an untrained policy, whose scores are all equal, "always the catalogue's first row": its off-policy value was
    /// that row's, and depended on the order of the catalogue.)
    public static func probabilities(
        _ q: [Double], exploration: ExplorationSpec, isNew: [Bool] = [], coldStartShare: Double = 0
    ) -> [Double] {
        let n = q.count
        guard n > 0 else { return [] }
        var p: [Double]
        switch exploration.kind {
        case .epsilonGreedy:
            let top = q.max() ?? 0
            let tied = q.indices.filter { q[$0] == top }
            p = [Double](repeating: exploration.epsilon / Double(n), count: n)
            // Scores that are not comparable (none equal to the maximum) fall back to the first item.
            let greedy = tied.isEmpty ? [0] : tied
            let share = (1 - exploration.epsilon) / Double(greedy.count)
            for i in greedy { p[i] += share }
        case .softmax:
            let top = q.max() ?? 0
            let w = q.map { exp(($0 - top) / exploration.temperature) }
            let total = w.reduce(0, +)
            p = w.map { $0 / total }
        }
        let fresh = isNew.count == n ? isNew.reduce(0) { $0 + ($1 ? 1 : 0) } : 0
        guard fresh > 0, coldStartShare > 0 else { return p }
        let share = coldStartShare / Double(fresh)
        for i in 0..<n { p[i] = (1 - coldStartShare) * p[i] + (isNew[i] ? share : 0) }
        return p
    }

    /// Draws an index from a distribution.
    public static func draw(_ p: [Double], rng: inout Xoshiro256) -> Int {
        var target = rng.nextDouble()
        for (i, pi) in p.enumerated() {
            target -= pi
            if target < 0 { return i }
        }
        return p.count - 1
    }
}
