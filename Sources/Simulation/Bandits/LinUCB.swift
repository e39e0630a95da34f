/// LinUCB with disjoint linear models (Li, Chu, Langford & Schapire, 2010, Algorithm 1): each arm `a` keeps
/// `A_a = I + Σ x xᵀ` and `b_a = Σ r x` over the contexts it was shown in, and scores a context
///
///     p_a(x) = θ_aᵀ x + α √(xᵀ A_a⁻¹ x),   θ_a = A_a⁻¹ b_a.
///
/// `A_a⁻¹` is kept by the Sherman–Morrison update. Contexts are binary (``OneHotContext``: the positions of
/// the ones), so a score costs O(nnz²) and an update O(d²) per arm. A reference baseline for
/// `recpool simulate`; its memory is `arms × d²`.
public struct LinUCB: Sendable {
    /// The exploration weight α.
    public let alpha: Double
    /// The context width d.
    public let dimension: Int
    private var inverse: [[Double]]
    private var b: [[Double]]
    private var theta: [[Double]]

    /// Creates a bandit with no data (`A = I`, `b = 0`).
    public init(arms: Int, dimension: Int, alpha: Double) {
        self.alpha = alpha
        self.dimension = dimension
        var identity = [Double](repeating: 0, count: dimension * dimension)
        for i in 0..<dimension { identity[i * dimension + i] = 1 }
        inverse = [[Double]](repeating: identity, count: arms)
        b = [[Double]](repeating: [Double](repeating: 0, count: dimension), count: arms)
        theta = b
    }

    /// θ_a = A_a⁻¹ b_a.
    public func coefficients(arm: Int) -> [Double] { theta[arm] }

    /// A_a⁻¹, row-major.
    public func inverseDesign(arm: Int) -> [Double] { inverse[arm] }

    /// The upper confidence bound of every arm for a binary context (the positions of its ones).
    public func scores(context x: [Int]) -> [Double] {
        (0..<theta.count).map { arm in
            let mean = x.reduce(0.0) { $0 + theta[arm][$1] }
            var variance = 0.0
            for j in x { for k in x { variance += inverse[arm][j * dimension + k] } }
            return mean + alpha * max(variance, 0).squareRoot()
        }
    }

    /// Adds one observation of `arm` in context `x` with reward `r`.
    public mutating func update(arm: Int, context x: [Int], reward r: Double) {
        let d = dimension
        // v = A⁻¹ x; A⁻¹ ← A⁻¹ − v vᵀ / (1 + xᵀ v)  (A⁻¹ stays symmetric).
        var v = [Double](repeating: 0, count: d)
        for i in 0..<d { for k in x { v[i] += inverse[arm][i * d + k] } }
        let denominator = 1 + x.reduce(0.0) { $0 + v[$1] }
        for i in 0..<d where v[i] != 0 {
            for j in 0..<d { inverse[arm][i * d + j] -= v[i] * v[j] / denominator }
        }
        for j in x { b[arm][j] += r }
        for i in 0..<d {
            var sum = 0.0
            for j in 0..<d where b[arm][j] != 0 { sum += inverse[arm][i * d + j] * b[arm][j] }
            theta[arm][i] = sum
        }
    }
}
