import RecModel
import RecWire

/// The contextual bandit's last layer: a Gaussian posterior over the coefficients of `η = θᵀφ + β_{b(a)}` (`φ(z, a)`
/// plus a bias per item-id bucket), prior `θ, β ~ N(m₀, λ⁻¹·I)` with `m₀` zero except the intercept `θ₀` (the
/// coefficient of `φ`'s constant column 0, whose prior mean is the prior log-odds of a click), held in natural
/// parameters. The prior is not part of the statistics, so merging them stays exact.
///
/// Each event adds a Gaussian factor with weight `w` and working response `y`: `A += w·φφᵀ`, `g += y·φ`, and for its
/// bucket `n_b += w`, `c_b += w·φ`, `s_b += y`, `k_b += 1` (events). With `w = 1, y = r` this is Bayesian linear
/// regression (Bishop, *PRML* §3.3); the learner uses the Laplace (IRLS) factor of a logistic likelihood at the
/// current mean `η̂`, `p̂ = σ(η̂)`, `w = p̂(1 − p̂)`, `y = r − p̂ + w·η̂` (assumed-density filtering for Bayesian logistic
/// regression; Chapelle & Li 2011). Factors multiply, so natural parameters are sums and merging is exact: replicas
/// that started from the same statistics combine into `base + Σ (replica − base)`, the product of every factor.
/// The bucket block is diagonal and is eliminated with a Schur complement.
public struct BayesianLastLayer: Sendable, Equatable {
    /// The largest `|φᵢ|` an event may add (10¹²). The statistics travel as 32-bit floats (parameter packs: syncs,
    /// stored versions), whose largest value is about 3.4 × 10³⁸; a product `φᵢφⱼ` stays below 10²⁴, so even 10⁹
    /// events on each of 256 replicas sum to a representable value. A larger feature (an item field of 10³⁰, a
    /// user feature 10¹⁵ scales out times a large item field) would turn the pack infinite and lose every replica's
    /// learning at the next sync; the learners reject such an event instead, and count it.
    public static let maximumFeature = 1e12

    /// Whether an event with features `phi` may be added: every value finite and at most ``maximumFeature``.
    public static func admits(_ phi: [Double]) -> Bool { phi.allSatisfy { abs($0) <= maximumFeature } }

    /// Width of `φ`.
    public let width: Int
    /// Item-id buckets.
    public let buckets: Int
    /// `Σ w·φφᵀ` over the events (`w` each event's weight: 1 for the linear-Gaussian last layer, the Laplace
    /// factor `p̂(1 − p̂)` for the logistic one), `width × width`, row-major; symmetric bit for bit.
    public internal(set) var a: [Double]
    /// `Σ y·φ`, `y` each event's response as ``add(phi:bucket:reward:weight:)`` receives it: the reward for the
    /// linear-Gaussian last layer; for the logistic one the weighted working response of iteratively reweighted
    /// least squares, `w·z = r − p̂ + w·η` (`η` the log-odds at the linearisation point).
    public internal(set) var g: [Double]
    /// `Σ w` per bucket: the events' summed weights (equal to the event count when every weight is 1).
    public internal(set) var n: [Double]
    /// `Σ w·φ` per bucket, `buckets × width`, row-major.
    public internal(set) var c: [Double]
    /// `Σ y` per bucket (the responses, as in ``g``).
    public internal(set) var s: [Double]
    /// Events per bucket, unweighted (for the cold-start rule).
    public internal(set) var k: [Double]

    /// An empty posterior (the prior).
    public init(width: Int, buckets: Int) {
        self.width = width
        self.buckets = buckets
        a = [Double](repeating: 0, count: width * width)
        g = [Double](repeating: 0, count: width)
        n = [Double](repeating: 0, count: buckets)
        c = [Double](repeating: 0, count: buckets * width)
        s = [Double](repeating: 0, count: buckets)
        k = [Double](repeating: 0, count: buckets)
    }

    /// Statistics from their sums, whose lengths the caller checked against `width` and `buckets`.
    init(width: Int, buckets: Int, a: [Double], g: [Double], n: [Double], c: [Double], s: [Double], k: [Double]) {
        precondition(
            a.count == width * width && g.count == width && n.count == buckets && c.count == buckets * width
                && s.count == buckets && k.count == buckets, "BayesianLastLayer: sums of the wrong lengths")
        self.width = width
        self.buckets = buckets
        (self.a, self.g, self.n, self.c, self.s, self.k) = (a, g, n, c, s, k)
    }

    /// Adds one event's factor: features `phi` of an item in `bucket`, weight `weight` and working response `response`
    /// (`1` and the reward for linear regression).
    public mutating func add(phi: [Double], bucket: Int, reward response: Double, weight: Double = 1) {
        let nonzero = phi.indices.filter { phi[$0] != 0 }
        add(SparseFeatures(indices: nonzero, values: nonzero.map { phi[$0] }), bucket: bucket, reward: response,
            weight: weight)
    }

    /// `φ` by its nonzero columns: `φ[indices[k]] = values[k]`, every other column 0.
    public struct SparseFeatures: Sendable, Equatable {
        /// The nonzero columns, ascending.
        public var indices: [Int]
        /// Their values.
        public var values: [Double]

        /// The nonzero columns of a dense `phi`.
        public init(dense phi: [Double]) {
            indices = phi.indices.filter { phi[$0] != 0 }
            values = indices.map { phi[$0] }
        }

        /// Columns and values as given (same length).
        public init(indices: [Int], values: [Double]) {
            self.indices = indices
            self.values = values
        }

        /// `start + θᵀφ`, summed from `start` in column order.
        public func dot(_ theta: [Double], start: Double = 0) -> Double {
            var sum = start
            for k in indices.indices { sum += theta[indices[k]] * values[k] }
            return sum
        }
    }

    /// ``add(phi:bucket:reward:weight:)`` with `φ` given by its nonzero columns; `count` is what the event adds to its
    /// bucket's event count `k_b` (−1, with the weight and response negated, takes a factor added before out again).
    public mutating func add(_ phi: SparseFeatures, bucket: Int, reward: Double, weight: Double = 1, count: Double = 1) {
        let d = width
        let index = phi.indices
        let value = phi.values
        // Each product is computed once and added to both `a[i][j]` and `a[j][i]`, so `a` stays symmetric bit for
        // bit (a statistics delta carries only its upper triangle).
        a.withUnsafeMutableBufferPointer { a in
            for p in index.indices {
                let pi = weight * value[p]
                let row = index[p] * d
                a[row + index[p]] += pi * value[p]
                for q in (p + 1)..<max(index.count, p + 1) {
                    let product = pi * value[q]
                    a[row + index[q]] += product
                    a[index[q] * d + index[p]] += product
                }
            }
        }
        let row = bucket * d
        for p in index.indices {
            g[index[p]] += reward * value[p]
            c[row + index[p]] += weight * value[p]
        }
        n[bucket] += weight
        s[bucket] += reward
        k[bucket] += count
    }

    /// Coefficients to score with: `θ` over `φ` and `β` per bucket.
    public struct Coefficients: Sendable, Equatable {
        /// Over `φ`.
        public var theta: [Double]
        /// Per item-id bucket.
        public var bias: [Double]
    }

    /// The posterior mean (with `noise` nil) or a Thompson sample: `θ ~ N(θ̂, v·S⁻¹)` with the Schur complement
    /// `S = λI + A − Σ_b c_b c_bᵀ/(λ + n_b)`, then `β_b | θ ~ N((s_b − c_bᵀθ)/(λ + n_b), v/(λ + n_b))` — an exact
    /// draw from the joint posterior with its covariance scaled by `v` (Thompson 1933; Agrawal & Goyal 2013).
    /// - Parameters:
    ///   - lambda: the prior precision λ.
    ///   - noise: the covariance scale `v` and the stream to sample with; nil for the mean.
    /// - Returns: nil when the system is not positive definite (non-finite statistics).
    ///   - interceptMean: the prior mean of `θ₀` (log-odds).
    public func coefficients(lambda: Double, interceptMean: Double = 0, noise: (variance: Double, rng: Xoshiro256)?)
        -> Coefficients?
    {
        guard let solved = posterior(lambda: lambda, interceptMean: interceptMean, sample: noise) else { return nil }
        return noise == nil ? solved.mean : solved.sample
    }

    /// The posterior mean and, with `sample`, a Thompson sample (see ``coefficients(lambda:noise:)``), from one
    /// Cholesky factorisation. `interceptMean` is the prior mean of `θ₀` (its natural parameter `λ·m₀` joins `g₀`).
    /// - Returns: nil when the system is not positive definite (non-finite statistics).
    public func posterior(lambda: Double, interceptMean: Double = 0, sample: (variance: Double, rng: Xoshiro256)?)
        -> (mean: Coefficients, sample: Coefficients?)?
    {
        let d = width
        var schur = a
        var rhs = g
        for i in 0..<d { schur[i * d + i] += lambda }
        if d > 0 { rhs[0] += lambda * interceptMean }
        for b in 0..<buckets where n[b] > 0 {
            let scale = 1 / (lambda + n[b])
            let row = b * d
            let cb = Array(c[row..<(row + d)])
            let nonzero = cb.indices.filter { cb[$0] != 0 }
            schur.withUnsafeMutableBufferPointer { m in
                for i in nonzero {
                    let ci = cb[i] * scale
                    for j in nonzero { m[i * d + j] -= ci * cb[j] }
                }
            }
            for i in nonzero { rhs[i] -= cb[i] * s[b] * scale }
        }
        guard let l = Self.cholesky(schur, d) else { return nil }
        let theta = Self.solve(l, d, rhs)
        let mean = Coefficients(theta: theta, bias: biases(theta: theta, lambda: lambda, noise: nil))
        guard mean.theta.allSatisfy(\.isFinite), mean.bias.allSatisfy(\.isFinite) else { return nil }
        guard let sample else { return (mean, nil) }
        guard sample.variance > 0 else { return (mean, mean) }
        var rng = sample.rng
        let sigma = sample.variance.squareRoot()
        let z = (0..<d).map { _ in Double(rng.nextGaussian()) }
        let v = Self.backSubstituteTransposed(l, d, z)
        var drawn = theta
        for i in 0..<d { drawn[i] += sigma * v[i] }
        let draw = Coefficients(theta: drawn, bias: biases(theta: drawn, lambda: lambda, noise: (sigma, rng)))
        guard draw.theta.allSatisfy(\.isFinite), draw.bias.allSatisfy(\.isFinite) else { return nil }
        return (mean, draw)
    }

    /// `β_b | θ`: the conditional mean `(s_b − c_bᵀθ)/(λ + n_b)`, plus `σ·ξ/√(λ + n_b)` with `noise`.
    private func biases(theta: [Double], lambda: Double, noise: (sigma: Double, rng: Xoshiro256)?) -> [Double] {
        let d = width
        var rng = noise?.rng
        var bias = [Double](repeating: 0, count: buckets)
        for b in 0..<buckets {
            let precision = lambda + n[b]
            var mean = s[b]
            if n[b] > 0 {
                let row = b * d
                for i in 0..<d where c[row + i] != 0 { mean -= c[row + i] * theta[i] }
            }
            mean /= precision
            if let sigma = noise?.sigma, var stream = rng {
                mean += sigma * Double(stream.nextGaussian()) / precision.squareRoot()
                rng = stream
            }
            bias[b] = mean
        }
        return bias
    }

    /// The lower Cholesky factor `L` (`M = LLᵀ`) of a symmetric positive definite `d × d` matrix, or nil.
    static func cholesky(_ m: [Double], _ d: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: d * d)
        let ok = l.withUnsafeMutableBufferPointer { l -> Bool in
            for j in 0..<d {
                var diagonal = m[j * d + j]
                for k in 0..<j { diagonal -= l[j * d + k] * l[j * d + k] }
                guard diagonal > 0, diagonal.isFinite else { return false }
                let ljj = diagonal.squareRoot()
                l[j * d + j] = ljj
                for i in (j + 1)..<max(d, j + 1) {
                    var sum = m[i * d + j]
                    for k in 0..<j { sum -= l[i * d + k] * l[j * d + k] }
                    l[i * d + j] = sum / ljj
                }
            }
            return true
        }
        return ok ? l : nil
    }

    /// Solves `LLᵀx = b`.
    static func solve(_ l: [Double], _ d: Int, _ b: [Double]) -> [Double] {
        var y = b
        for i in 0..<d {
            var sum = y[i]
            for k in 0..<i { sum -= l[i * d + k] * y[k] }
            y[i] = sum / l[i * d + i]
        }
        return backSubstituteTransposed(l, d, y)
    }

    /// Solves `Lᵀx = y`.
    static func backSubstituteTransposed(_ l: [Double], _ d: Int, _ y: [Double]) -> [Double] {
        var x = y
        for i in stride(from: d - 1, through: 0, by: -1) {
            var sum = x[i]
            for k in (i + 1)..<max(d, i + 1) { sum -= l[k * d + i] * x[k] }
            x[i] = sum / l[i * d + i]
        }
        return x
    }
}
