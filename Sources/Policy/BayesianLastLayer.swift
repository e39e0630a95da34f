import RecModel
import RecWire

/// The contextual bandit's last layer: Bayesian linear regression of the reward on `φ(z, a)` plus a bias per item-id
/// bucket, `r = θᵀφ + β_{b(a)} + ε`, `ε ~ N(0, σ²)`, with the Gaussian prior `θ, β ~ N(0, σ²/λ · I)`.
///
/// It keeps the posterior's sufficient statistics, all sums over events: `A = Σ φφᵀ`, `g = Σ r·φ`, and per bucket
/// `n_b` (events), `c_b = Σ φ` and `s_b = Σ r`. Sums make merging exact: replicas that started from the same
/// statistics and learnt from disjoint events combine into `base + Σ (replica − base)`, which is what one learner
/// seeing every event would hold (Bishop, *Pattern Recognition and Machine Learning*, §3.3; the bucket block
/// is diagonal, so it is eliminated with a Schur complement).
public struct BayesianLastLayer: Sendable, Equatable {
    /// Width of `φ`.
    public let width: Int
    /// Item-id buckets.
    public let buckets: Int
    /// `Σ φφᵀ`, `width × width`, row-major.
    public internal(set) var a: [Double]
    /// `Σ r·φ`.
    public internal(set) var g: [Double]
    /// Events per bucket.
    public internal(set) var n: [Double]
    /// `Σ φ` per bucket, `buckets × width`, row-major.
    public internal(set) var c: [Double]
    /// `Σ r` per bucket.
    public internal(set) var s: [Double]

    /// An empty posterior (the prior).
    public init(width: Int, buckets: Int) {
        self.width = width
        self.buckets = buckets
        a = [Double](repeating: 0, count: width * width)
        g = [Double](repeating: 0, count: width)
        n = [Double](repeating: 0, count: buckets)
        c = [Double](repeating: 0, count: buckets * width)
        s = [Double](repeating: 0, count: buckets)
    }

    /// Adds one event: features `phi` of an item in `bucket` that earned `reward`.
    public mutating func add(phi: [Double], bucket: Int, reward: Double) {
        let d = width
        let nonzero = phi.indices.filter { phi[$0] != 0 }
        a.withUnsafeMutableBufferPointer { a in
            for i in nonzero {
                let pi = phi[i]
                let row = i * d
                for j in nonzero { a[row + j] += pi * phi[j] }
            }
        }
        for i in nonzero { g[i] += reward * phi[i] }
        n[bucket] += 1
        let row = bucket * d
        for i in nonzero { c[row + i] += phi[i] }
        s[bucket] += reward
    }

    /// Coefficients to score with: `θ` over `φ` and `β` per bucket.
    public struct Coefficients: Sendable, Equatable {
        /// Over `φ`.
        public var theta: [Double]
        /// Per item-id bucket.
        public var bias: [Double]
    }

    /// The posterior mean (with `noise` nil) or a Thompson sample: `θ ~ N(θ̂, σ²·S⁻¹)` with the Schur complement
    /// `S = λI + A − Σ_b c_b c_bᵀ/(λ + n_b)`, then `β_b | θ ~ N((s_b − c_bᵀθ)/(λ + n_b), σ²/(λ + n_b))` — an exact
    /// draw from the joint posterior (Thompson 1933; Agrawal & Goyal 2013 for linear payoffs).
    /// - Parameters:
    ///   - lambda: the prior precision λ.
    ///   - noise: σ² and the stream to sample with; nil for the mean.
    /// - Returns: nil when the system is not positive definite (non-finite statistics).
    public func coefficients(lambda: Double, noise: (variance: Double, rng: Xoshiro256)?) -> Coefficients? {
        let d = width
        var schur = a
        var rhs = g
        for i in 0..<d { schur[i * d + i] += lambda }
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
        var theta = Self.solve(l, d, rhs)
        var rng = noise?.rng
        let sigma = (noise?.variance ?? 0).squareRoot()
        if noise != nil, sigma > 0, var stream = rng {
            let z = (0..<d).map { _ in Double(stream.nextGaussian()) }
            let v = Self.backSubstituteTransposed(l, d, z)
            for i in 0..<d { theta[i] += sigma * v[i] }
            rng = stream
        }
        var bias = [Double](repeating: 0, count: buckets)
        for b in 0..<buckets {
            let precision = lambda + n[b]
            var mean = s[b]
            if n[b] > 0 {
                let row = b * d
                for i in 0..<d where c[row + i] != 0 { mean -= c[row + i] * theta[i] }
            }
            mean /= precision
            if noise != nil, sigma > 0, var stream = rng {
                mean += sigma * Double(stream.nextGaussian()) / precision.squareRoot()
                rng = stream
            }
            bias[b] = mean
        }
        guard theta.allSatisfy(\.isFinite), bias.allSatisfy(\.isFinite) else { return nil }
        return Coefficients(theta: theta, bias: bias)
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
