extension BilinearRetrieval {
    /// The same model with queries and items projected onto the `rank` leading principal directions of its
    /// queries: `P` holds the eigenvectors of largest eigenvalue of `Σ_s q(s) q(s)ᵀ` over `states` (`q` the
    /// unreduced query), and the reduced inner product is `(Pᵀq)·(Pᵀe) = q·(PPᵀe)`, equal to `q·e` for every query
    /// in the span of `P`. An HNSW search costs about one inner product per visited link, so a smaller dimension
    /// makes a search with a wide beam (thousands of candidates) proportionally cheaper; what the projection drops is
    /// the queries' variance outside the `rank` directions (principal component analysis of the query vectors;
    /// Jolliffe, *Principal Component Analysis*, 2002, ch. 1).
    ///
    /// The items' embeddings depend on `P`, so an index built with the reduced model serves only that model
    /// (``CatalogueRetrieval/with(model:priors:catalogue:)`` refuses another).
    /// - Parameters:
    ///   - rank: the index's dimension, `1…baseDimension`.
    ///   - states: user states (`stateWidth` each) whose queries define the directions; the population the index
    ///     will serve.
    /// - Throws: ``RetrievalError/shape(_:)`` for a rank out of range, no state, a state of another width, or a
    ///   model that is already reduced.
    public func reduced(rank: Int, states: [[Float]]) throws(RetrievalError) -> BilinearRetrieval {
        let d = baseDimension
        guard self.rank == 0 else { throw .shape("the model is already reduced to rank \(self.rank)") }
        guard rank >= 1, rank <= d else { throw .shape("the rank must be in 1…\(d), got \(rank)") }
        guard !states.isEmpty, states.allSatisfy({ $0.count == stateWidth }) else {
            throw .shape("the reduction needs at least one state of width \(stateWidth)")
        }
        var moment = [Double](repeating: 0, count: d * d)
        for state in states {
            let q = baseQuery(state: state).map(Double.init)
            for i in 0..<d where q[i] != 0 {
                for j in 0..<d { moment[i * d + j] += q[i] * q[j] }
            }
        }
        let (values, vectors) = SymmetricEigen.decompose(moment, size: d)
        let order = values.indices.sorted { values[$0] > values[$1] }
        var basis = [Float](repeating: 0, count: d * rank)
        for (column, k) in order.prefix(rank).enumerated() {
            for i in 0..<d { basis[i * rank + column] = Float(vectors[i * d + k]) }
        }
        return try BilinearRetrieval(
            stateWidth: stateWidth, itemWidth: itemWidth, expansion: expansion, weights: weights, itemSpace: itemSpace,
            stateExpansion: stateExpansion, reduction: basis, rank: rank)
    }

    /// `Pᵀv` for a vector of ``baseDimension`` values, or `v` itself when the model is not reduced.
    func reduce(_ v: [Float]) -> [Float] {
        guard rank > 0 else { return v }
        var out = [Float](repeating: 0, count: rank)
        for i in v.indices where v[i] != 0 {
            let row = i * rank
            for k in 0..<rank { out[k] += v[i] * reduction[row + k] }
        }
        return out
    }
}

/// Eigenvalues and eigenvectors of a small symmetric matrix by cyclic Jacobi rotations (Golub & Van Loan,
/// *Matrix Computations*, 4th ed., §8.5.2–8.5.3). Used for matrices of at most a few hundred rows, built once per
/// retrieval model.
enum SymmetricEigen {
    /// The eigenvalues (unsorted) and eigenvectors of the symmetric `size × size` row-major matrix `m`: column `k`
    /// of `vectors` (row-major, `size × size`) is the unit eigenvector of `values[k]`. Sweeps stop when the
    /// off-diagonal mass falls below `1e-22` of the total, or after `maxSweeps`.
    static func decompose(_ m: [Double], size n: Int, maxSweeps: Int = 60) -> (values: [Double], vectors: [Double]) {
        var a = m
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let total = a.reduce(0) { $0 + $1 * $1 }
        for _ in 0..<maxSweeps {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<max(n, p + 1) { off += a[p * n + q] * a[p * n + q] } }
            if off <= 1e-22 * total || off == 0 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) {
                    let apq = a[p * n + q]
                    if apq == 0 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p]
                        let akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k]
                        let aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p]
                        let vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}
