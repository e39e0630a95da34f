import Foundation
import RecModel

/// One logistic regression per arm with a diagonal Gaussian posterior by the Laplace approximation, as in
/// Chapelle & Li (2011), "An Empirical Evaluation of Thompson Sampling", Algorithm 3: each weight has a mean
/// `m_j` and a precision `q_j` (prior `m = 0`, `q = λ`), and after an observation `(x, y)`
///
///     w = argmin ½ Σ q_j (w_j − m_j)² − log σ((2y − 1) wᵀx),   m ← w,   q_j ← q_j + x_j² p(1 − p),  p = σ(wᵀx).
///
/// Here each event is its own batch (their Algorithm 3 with batches of one). The minimiser lies on
/// `w = m + c Q⁻¹ x` with `c = y − σ(z)`, `z = wᵀx`, so it is found exactly by Newton's method on the scalar
/// `z − mᵀx − (y − σ(z)) xᵀQ⁻¹x = 0`, whose derivative is at least 1. Contexts are binary (the positions of
/// their ones). The mean gives ε-greedy logistic regression; a draw `w_j ~ N(m_j, α²/q_j)` gives Thompson
/// sampling.
public struct LaplaceLogistic: Sendable {
    /// The posterior means, per arm.
    public private(set) var mean: [[Double]]
    /// The posterior precisions, per arm.
    public private(set) var precision: [[Double]]

    /// Creates the prior: `N(m₀, 1/λ)` on every weight of every arm, `m₀` = `priorBias` on weight 0 (the bias
    /// of a ``OneHotContext``) and 0 elsewhere.
    public init(arms: Int, dimension: Int, priorPrecision lambda: Double = 1, priorBias: Double = 0) {
        var prior = [Double](repeating: 0, count: dimension)
        if dimension > 0 { prior[0] = priorBias }
        mean = [[Double]](repeating: prior, count: arms)
        precision = [[Double]](repeating: [Double](repeating: lambda, count: dimension), count: arms)
    }

    /// The posterior mean's log-odds of every arm for a binary context.
    public func meanScores(context x: [Int]) -> [Double] {
        mean.map { m in x.reduce(0.0) { $0 + m[$1] } }
    }

    /// The log-odds of every arm under one posterior draw, `w_j = m_j + α ε_j / √q_j` (only the context's
    /// weights are drawn: the others do not change the score).
    public func sampledScores(context x: [Int], scale alpha: Double, rng: inout Xoshiro256) -> [Double] {
        mean.indices.map { arm in
            x.reduce(0.0) { $0 + mean[arm][$1] + alpha * rng.normal() / precision[arm][$1].squareRoot() }
        }
    }

    /// Adds one observation of `arm` in context `x` with click `y` (0 or 1).
    public mutating func update(arm: Int, context x: [Int], click y: Double) {
        let s = x.reduce(0.0) { $0 + 1 / precision[arm][$1] }
        let mx = x.reduce(0.0) { $0 + mean[arm][$1] }
        var z = mx
        for _ in 0..<50 {
            let p = Self.sigmoid(z)
            let step = (z - mx - (y - p) * s) / (1 + p * (1 - p) * s)
            z -= step
            if abs(step) < 1e-13 { break }
        }
        let c = y - Self.sigmoid(z)
        let p = Self.sigmoid(z)
        for j in x {
            mean[arm][j] += c / precision[arm][j]
            precision[arm][j] += p * (1 - p)
        }
    }

    static func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
}

extension Xoshiro256 {
    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Double {
        let u = max(nextDouble(), 1e-300)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * nextDouble())
    }
}
