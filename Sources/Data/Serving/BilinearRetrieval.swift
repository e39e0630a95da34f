import RecModel

/// A retrieval model distilled from a ranker that is not two-tower: `score(s, x) ≈ [s; 1]ᵀ W [φ(x); 1]`, so the
/// query embedding of a user is `q(s) = Wᵀ [s; 1]` and the embedding of an item is its expanded feature row with a
/// 1 appended (`[φ(x); 1]`), and the ranker's best items are approximately those of largest inner product.
///
/// `φ` is the ``ItemExpansion``: the feature row itself, or the row followed by its pairwise products (a ranker
/// that is an MLP is far from linear in `x`; on the simulator the quadratic expansion doubles the share of the
/// exhaustive top-10 found among the 300 nearest items). Widths: `s` has `stateWidth` values (the ranker's user
/// state), `x` has `itemWidth` values (an ``ItemCatalogue`` feature row), `φ(x)` has `expandedWidth`; none of them
/// depends on the number of items, and neither does `W`, `(expandedStateWidth + 1) × (expandedWidth + 1)` (`ψ(s)`, the
/// state expansion, is `s` itself unless ``stateExpansion`` says otherwise).
///
/// **Item space** (``ItemSpace``): the index holds either `[φ(x); 1]` (``ItemSpace/expanded``, which does not depend
/// on `W`, so a new `W` of the same shape only changes the query) or `W [φ(x); 1]` with the query `[s; 1]`
/// (``ItemSpace/projected``, dimension `expandedStateWidth + 1`; the same inner products, exactly, in fewer
/// dimensions when the state is the narrower side, but the items' embeddings change with `W`, so the index is built
/// anew for each model). With 6 item features expanded cubically (dimension 84) and the simulator's 24-wide one-hot
/// state (dimension 25), the projected index halved the benchmark's search time at 3,100 candidates
/// (docs/BENCHMARKS.md, "Catalogue scale").
///
/// **Distillation** (``distil(states:items:scores:ridge:)``): least squares of the ranker's scores on a grid of
/// sampled states × sampled items. On a full grid the design matrix is the Kronecker product `Ŝ ⊗ X̂`, so the normal
/// equations separate (`(ŜᵀŜ ⊗ X̂ᵀX̂) vec W = vec(Ŝᵀ Y X̂)`) and the solution is
/// `W = (ŜᵀŜ + λ n_s I)⁻¹ Ŝᵀ Y X̂ (X̂ᵀX̂ + λ n_x I)⁻¹`, two small Cholesky solves (the ridge `λ` on each factor
/// keeps one-hot states, whose blocks each sum to the constant column, solvable).
public struct BilinearRetrieval: Sendable, Equatable {
    /// Width of the user state `s`.
    public let stateWidth: Int
    /// Width of an item's feature row `x`.
    public let itemWidth: Int
    /// How an item's feature row is expanded before the bilinear form.
    public let expansion: ItemExpansion
    /// How the user state is expanded before the bilinear form (``ItemExpansion/linear``: `s` itself;
    /// ``ItemExpansion/quadratic``: `s` and its pairwise products, so a one-hot state's features interact).
    public let stateExpansion: ItemExpansion
    /// `W`, `(expandedStateWidth + 1) × (expandedWidth + 1)`, row-major; the last row is the item-only term, the
    /// last column the user-only term.
    public let weights: [Float]
    /// Where items are embedded (and so the index's dimension).
    public let itemSpace: ItemSpace
    /// An orthonormal basis `P`, `baseDimension × rank`, row-major, onto which queries and items are projected
    /// (``reduced(rank:states:)``); empty when `rank` is 0.
    public let reduction: [Float]
    /// The number of basis vectors in ``reduction``: the index's dimension when above 0.
    public let rank: Int

    /// Where a ``BilinearRetrieval`` embeds items.
    public enum ItemSpace: String, Sendable, Equatable, Codable {
        /// Items as `[φ(x); 1]`, queries as `Wᵀ [s; 1]`: dimension `expandedWidth + 1`, independent of `W`.
        case expanded
        /// Items as `W [φ(x); 1]`, queries as `[ψ(s); 1]`: dimension `expandedStateWidth + 1`; the items depend on
        /// `W`.
        case projected
    }

    /// Creates a model from its matrix.
    /// - Parameters:
    ///   - stateWidth: width of the raw user state `s`.
    ///   - itemWidth: width of an item's feature row `x`.
    ///   - expansion: `φ`, the item expansion.
    ///   - weights: `W`, `(expandedStateWidth + 1) × (expandedWidth + 1)`, row-major.
    ///   - itemSpace: where items are embedded (``ItemSpace``).
    ///   - stateExpansion: `ψ`, the state expansion.
    ///   - reduction: the basis `P`, `baseDimension × rank`, row-major (``reduced(rank:states:)``); empty for none.
    ///   - rank: the number of columns of `reduction`, 0 for none.
    /// - Throws: ``RetrievalError/shape(_:)`` when `weights` or `reduction` has another size or holds a value that
    ///   is not finite, or `rank` is outside `0…baseDimension`.
    public init(
        stateWidth: Int, itemWidth: Int, expansion: ItemExpansion = .linear, weights: [Float],
        itemSpace: ItemSpace = .expanded, stateExpansion: ItemExpansion = .linear, reduction: [Float] = [],
        rank: Int = 0
    ) throws(RetrievalError) {
        let expanded = expansion.width(itemWidth)
        let states = stateExpansion.width(stateWidth)
        guard stateWidth >= 0, itemWidth >= 0, weights.count == (states + 1) * (expanded + 1) else {
            throw .shape("W must hold (\(states) + 1) × (\(expanded) + 1) values, got \(weights.count)")
        }
        guard weights.allSatisfy(\.isFinite) else { throw .shape("W holds a value that is not finite") }
        self.stateWidth = stateWidth
        self.itemWidth = itemWidth
        self.expansion = expansion
        self.weights = weights
        self.itemSpace = itemSpace
        self.stateExpansion = stateExpansion
        let base = itemSpace == .expanded ? expanded + 1 : states + 1
        guard rank >= 0, rank <= base, reduction.count == base * rank, reduction.allSatisfy(\.isFinite) else {
            throw .shape("the reduction must hold \(base) × rank finite values with rank in 0…\(base), got \(reduction.count) for rank \(rank)")
        }
        self.reduction = reduction
        self.rank = rank
    }

    /// Whether the items' embeddings are independent of `W` (expanded item space, no reduction): only then can an
    /// index built under this model serve another model of the same dimension.
    public var itemsIndependentOfWeights: Bool { itemSpace == .expanded && rank == 0 }

    /// Width of the expanded state `ψ(s)`.
    public var expandedStateWidth: Int { stateExpansion.width(stateWidth) }

    /// Width of `φ(x)`.
    public var expandedWidth: Int { expansion.width(itemWidth) }
    /// Length of the query and item embeddings before any reduction: `expandedWidth + 1` in the expanded item
    /// space, `expandedStateWidth + 1` in the projected one.
    public var baseDimension: Int { itemSpace == .expanded ? expandedWidth + 1 : expandedStateWidth + 1 }
    /// Length of the query and item embeddings, the index's dimension: ``rank`` when the model is reduced,
    /// ``baseDimension`` otherwise.
    public var dimension: Int { rank > 0 ? rank : baseDimension }

    /// The same model with items embedded in the smaller of the two spaces: ``ItemSpace/projected`` when
    /// `expandedStateWidth < expandedWidth`, else ``ItemSpace/expanded``. Inner products are the same either way.
    /// A reduced model is returned as it is.
    public func inSmallerSpace() -> BilinearRetrieval {
        guard rank == 0 else { return self }
        let space: ItemSpace = expandedStateWidth < expandedWidth ? .projected : .expanded
        // The shape was checked when `self` was made, so this cannot throw.
        return (try? BilinearRetrieval(
            stateWidth: stateWidth, itemWidth: itemWidth, expansion: expansion, weights: weights, itemSpace: space,
            stateExpansion: stateExpansion)) ?? self
    }

    /// The query embedding: `Wᵀ [ψ(s); 1]` in the expanded item space, `[ψ(s); 1]` in the projected one (`ψ` the
    /// state expansion), then `Pᵀ` of that when the model is reduced.
    /// - Throws: ``RetrievalError/shape(_:)`` for a state of another width.
    public func query(state raw: [Float]) throws(RetrievalError) -> [Float] {
        guard raw.count == stateWidth else { throw .shape("the state has \(raw.count) values, the model \(stateWidth)") }
        return reduce(baseQuery(state: raw))
    }

    /// ``query(state:)`` before any reduction, for a state of the model's width.
    func baseQuery(state raw: [Float]) -> [Float] {
        var state: [Float] = []
        state.reserveCapacity(expandedStateWidth)
        stateExpansion.append(raw[...], to: &state)
        if itemSpace == .projected { return state + [1] }
        let d = expandedWidth + 1
        let last = expandedStateWidth
        var q = Array(weights[(last * d)..<((last + 1) * d)])
        for (i, value) in state.enumerated() where value != 0 {
            for j in 0..<d { q[j] += value * weights[i * d + j] }
        }
        return q
    }

    /// `[φ(x); 1]` for an item's feature row, whatever the item space.
    func expanded(item features: ArraySlice<Float>) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(expandedWidth + 1)
        expansion.append(features, to: &out)
        out.append(1)
        return out
    }

    /// An item's embedding: `[φ(x); 1]` in the expanded item space, `W [φ(x); 1]` in the projected one, then `Pᵀ`
    /// of that when the model is reduced.
    public func embedding(item features: ArraySlice<Float>) -> [Float] {
        reduce(baseEmbedding(item: features))
    }

    /// ``embedding(item:)`` before any reduction.
    func baseEmbedding(item features: ArraySlice<Float>) -> [Float] {
        let e = expanded(item: features)
        guard itemSpace == .projected else { return e }
        let d = e.count
        return (0...expandedStateWidth).map { r in
            var sum: Float = 0
            for j in 0..<d { sum += weights[r * d + j] * e[j] }
            return sum
        }
    }

    /// Item embeddings of many rows: `rows.count × dimension`, row-major, from a catalogue's features.
    public func embeddings(rows: [Int], features: [Float]) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(rows.count * dimension)
        for row in rows {
            let x = features[(row * itemWidth)..<((row + 1) * itemWidth)]
            if itemsIndependentOfWeights {
                // Written in place: no array per row when building the index of a large catalogue.
                expansion.append(x, to: &out)
                out.append(1)
            } else {
                out.append(contentsOf: embedding(item: x))
            }
        }
        return out
    }

    /// The item-only term `[0; 1]ᵀ W [φ(x); 1]`: what the model expects of an item for a user it knows nothing
    /// about.
    public func itemPrior(item features: ArraySlice<Float>) -> Float {
        let d = expandedWidth + 1
        let last = expandedStateWidth
        return zip(weights[(last * d)..<((last + 1) * d)], expanded(item: features)).reduce(0) {
            $0 + $1.0 * $1.1
        }
    }

    /// Fits `W` to a ranker's scores on a grid (see the type's documentation).
    /// - Parameters:
    ///   - states: `n_s` user states, each `stateWidth` wide.
    ///   - items: `n_x × itemWidth` item features, row-major.
    ///   - scores: the ranker's scores, `n_s × n_x`, row-major (state `i`, item `j` at `i·n_x + j`).
    ///   - expansion: `φ`.
    ///   - ridge: `λ`, relative to the number of rows of each factor.
    ///   - stateExpansion: `ψ`, applied to each state before the fit (the model applies it to each query).
    /// - Throws: ``RetrievalError/shape(_:)`` for inconsistent sizes, no sample, or scores that are not finite.
    public static func distil(
        states raw: [[Float]], items: Matrix, scores: [Float], expansion: ItemExpansion = .linear, ridge: Double = 1e-4,
        stateExpansion: ItemExpansion = .linear
    ) throws(RetrievalError) -> BilinearRetrieval {
        let rawWidth = raw.first?.count ?? 0
        guard raw.allSatisfy({ $0.count == rawWidth }) else { throw .shape("the sampled states have different widths") }
        let states = raw.map { state -> [Float] in
            var out: [Float] = []
            stateExpansion.append(state[...], to: &out)
            return out
        }
        let ns = states.count
        let nx = items.rows
        let sw = states.first?.count ?? 0
        let xw = expansion.width(items.cols)
        var expanded = [Float]()
        expanded.reserveCapacity(nx * xw)
        for j in 0..<nx { expansion.append(items.values[(j * items.cols)..<((j + 1) * items.cols)], to: &expanded) }
        guard ns > 0, nx > 0 else { throw .shape("distillation needs at least one state and one item") }
        guard states.allSatisfy({ $0.count == sw }) else { throw .shape("the sampled states have different widths") }
        guard scores.count == ns * nx else { throw .shape("\(ns) states × \(nx) items need \(ns * nx) scores, got \(scores.count)") }
        guard scores.allSatisfy(\.isFinite) else { throw .shape("the ranker gave a score that is not finite") }
        let a = sw + 1
        let b = xw + 1
        // X̂ and T = Y X̂ (n_s × b).
        var xhat = [Double](repeating: 1, count: nx * b)
        for j in 0..<nx { for k in 0..<xw { xhat[j * b + k] = Double(expanded[j * xw + k]) } }
        var t = [Double](repeating: 0, count: ns * b)
        for i in 0..<ns {
            for j in 0..<nx {
                let y = Double(scores[i * nx + j])
                for k in 0..<b { t[i * b + k] += y * xhat[j * b + k] }
            }
        }
        // C = Ŝᵀ T (a × b), Gram matrices ŜᵀŜ (a × a) and X̂ᵀX̂ (b × b).
        var c = [Double](repeating: 0, count: a * b)
        var gs = [Double](repeating: 0, count: a * a)
        for i in 0..<ns {
            let shat = states[i].map(Double.init) + [1]
            for p in 0..<a where shat[p] != 0 {
                for k in 0..<b { c[p * b + k] += shat[p] * t[i * b + k] }
                for q in 0..<a { gs[p * a + q] += shat[p] * shat[q] }
            }
        }
        var gx = [Double](repeating: 0, count: b * b)
        for j in 0..<nx {
            for p in 0..<b { for q in 0..<b { gx[p * b + q] += xhat[j * b + p] * xhat[j * b + q] } }
        }
        for p in 0..<a { gs[p * a + p] += ridge * Double(ns) }
        for p in 0..<b { gx[p * b + p] += ridge * Double(nx) }
        // Z = (ŜᵀŜ)⁻¹ C, then Wᵀ = (X̂ᵀX̂)⁻¹ Zᵀ.
        let z = try SymmetricSolve.solve(gs, size: a, rightHandSides: c, columns: b)
        var zt = [Double](repeating: 0, count: b * a)
        for p in 0..<a { for k in 0..<b { zt[k * a + p] = z[p * b + k] } }
        let wt = try SymmetricSolve.solve(gx, size: b, rightHandSides: zt, columns: a)
        var w = [Float](repeating: 0, count: a * b)
        for k in 0..<b { for p in 0..<a { w[p * b + k] = Float(wt[k * a + p]) } }
        return try BilinearRetrieval(
            stateWidth: rawWidth, itemWidth: items.cols, expansion: expansion, weights: w, stateExpansion: stateExpansion)
    }
}

/// How an item's feature row `x` is expanded before the bilinear form: `φ(x) = x`, or `x` followed by every
/// product `x_i x_j`, `i ≤ j` (a quadratic form in the item's features, fitted per user), or also every product
/// `x_i x_j x_k`, `i ≤ j ≤ k` (a cubic).
public enum ItemExpansion: String, Sendable, Equatable, Codable {
    /// `φ(x) = x`.
    case linear
    /// `φ(x) = (x, x_i x_j for i ≤ j)`: `w + w(w + 1)/2` values.
    case quadratic
    /// `φ(x) = (x, x_i x_j for i ≤ j, x_i x_j x_k for i ≤ j ≤ k)`: `w + w(w + 1)/2 + w(w + 1)(w + 2)/6` values
    /// (6 features give 83, an index dimension of 84).
    case cubic

    /// The widest feature row the quadratic expansion is used for by ``automatic(itemWidth:)`` (16 features give
    /// 152 values, an index dimension of 153).
    public static let quadraticUpTo = 16

    /// Quadratic for feature rows of at most ``quadraticUpTo`` values, linear beyond (the index's dimension stays
    /// in the low hundreds).
    public static func automatic(itemWidth: Int) -> ItemExpansion {
        itemWidth <= quadraticUpTo ? .quadratic : .linear
    }

    /// Width of `φ(x)` for a row of `width` values.
    public func width(_ width: Int) -> Int {
        switch self {
        case .linear: return width
        case .quadratic: return width + width * (width + 1) / 2
        case .cubic: return width + width * (width + 1) / 2 + width * (width + 1) * (width + 2) / 6
        }
    }

    /// Appends `φ(x)` to `out`.
    public func append(_ x: ArraySlice<Float>, to out: inout [Float]) {
        out.append(contentsOf: x)
        guard self != .linear else { return }
        var i = x.startIndex
        while i < x.endIndex {
            var j = i
            while j < x.endIndex {
                out.append(x[i] * x[j])
                j += 1
            }
            i += 1
        }
        guard self == .cubic else { return }
        i = x.startIndex
        while i < x.endIndex {
            var j = i
            while j < x.endIndex {
                var k = j
                while k < x.endIndex {
                    out.append(x[i] * x[j] * x[k])
                    k += 1
                }
                j += 1
            }
            i += 1
        }
    }
}

/// Solves `A X = B` for a symmetric positive-definite `A` by Cholesky factorisation (`A = L Lᵀ`, then forward and
/// back substitution), in Double.
enum SymmetricSolve {
    /// `A⁻¹ B` for `A` `size × size` and `B` `size × columns`, both row-major.
    /// - Throws: ``RetrievalError/shape(_:)`` when `A` is not positive definite.
    static func solve(_ a: [Double], size n: Int, rightHandSides b: [Double], columns m: Int) throws(RetrievalError)
        -> [Double]
    {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { throw .shape("the distillation's normal equations are singular") }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var x = b
        for col in 0..<m {
            for i in 0..<n {
                var sum = x[i * m + col]
                for k in 0..<i { sum -= l[i * n + k] * x[k * m + col] }
                x[i * m + col] = sum / l[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var sum = x[i * m + col]
                for k in (i + 1)..<n { sum -= l[k * n + i] * x[k * m + col] }
                x[i * m + col] = sum / l[i * n + i]
            }
        }
        return x
    }
}
