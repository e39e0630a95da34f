import RecModel
import RecWire

/// The slot-by-slot slate rule of an ``ExplorationSpec``: which item goes in the next slot, and with what
/// probability, given the Q-values of the items still available.
public enum SlateExploration {
    /// The probability of placing each remaining item in the next slot. `q` holds the Q-values of the
    /// remaining items; the result sums to 1. ε-greedy's greedy item is the first with the highest value.
    public static func probabilities(_ q: [Double], exploration: ExplorationSpec) -> [Double] {
        let n = q.count
        guard n > 0 else { return [] }
        switch exploration.kind {
        case .epsilonGreedy:
            var best = 0
            for i in q.indices where q[i] > q[best] { best = i }
            let floor = exploration.epsilon / Double(n)
            var p = [Double](repeating: floor, count: n)
            p[best] += 1 - exploration.epsilon
            return p
        case .softmax:
            let top = q.max() ?? 0
            let w = q.map { exp(($0 - top) / exploration.temperature) }
            let total = w.reduce(0, +)
            return w.map { $0 / total }
        }
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

#if canImport(Glibc)
    import Glibc
#endif
