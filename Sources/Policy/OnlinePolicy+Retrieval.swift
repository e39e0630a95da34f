import RecData
import RecModel

/// The online policy as a retrieval model, for retrieval before ranking over a large catalogue.
///
/// The policy's score is bilinear: `Q(z, a) = zᵀ Θ y_a + β_{b(a)}` with `y_a = [1 ‖ x̃_a]` (``PolicyFeatures``), so
/// the query embedding needs no distillation: `q(z) = Θᵀ z` over the item embeddings `[x̃_a ‖ 1]` gives
/// `zᵀ Θ y_a` exactly, and the items of largest bucket bias `β` come in as the popular candidates
/// (``retrievalPriors``). The item embeddings depend only on the catalogue (``reducedCatalogue()``), not on what
/// the policy learns, so an index of them is built once per catalogue.
extension OnlinePolicy {
    /// The exact bilinear model of the interaction term: state `z` (`features.zWidth` values), items `x̃`
    /// (`features.itemDims` values), linear expansion; `W` is `(zWidth + 1) × (itemDims + 1)`.
    /// - Throws: ``RetrievalError/shape(_:)`` when Θ holds a value that is not finite.
    public func retrievalModel() throws(RetrievalError) -> BilinearRetrieval {
        let zw = features.zWidth
        let yw = features.yWidth
        let p = yw - 1
        let theta = coefficients.theta
        var w = [Float](repeating: 0, count: (zw + 1) * (p + 1))
        for i in 0..<zw {
            for j in 0..<p { w[i * (p + 1) + j] = Float(theta[i * yw + 1 + j]) }
            w[i * (p + 1) + p] = Float(theta[i * yw])
        }
        return try BilinearRetrieval(stateWidth: zw, itemWidth: p, expansion: .linear, weights: w)
    }

    /// The policy's catalogue with each row replaced by its reduced features `x̃` (same ids, rows, active flags):
    /// what the retrieval index holds. When the features do not reduce the rows (`x̃` is the whole row, neither
    /// standardised nor projected) this is ``catalogue`` itself, sharing its buffers; otherwise one reduction per row, into a new
    /// `items × itemDims` table (columns `x0`, `x1`, …).
    /// - Throws: ``RetrievalError/catalogue(_:)`` when a reduced row is not finite.
    public func reducedCatalogue() throws(RetrievalError) -> ItemCatalogue {
        let p = features.itemDims
        if !features.projects && !features.standardises && p == catalogue.width
            && Self.withinModelBound(catalogue.features)
        {
            return catalogue
        }
        var values = [Float]()
        values.reserveCapacity(catalogue.count * p)
        for row in 0..<catalogue.count { values.append(contentsOf: features.reduce(catalogue.row(row)).map(Float.init)) }
        do {
            return try catalogue.describing(
                ItemEncoding(categorical: [], numeric: (0..<p).map { "x\($0)" }), features: values)
        } catch {
            throw .catalogue(error.description)
        }
    }

    /// The item-only term per catalogue row, `β_{b(row)}`: the popular candidates' prior.
    public var retrievalPriors: [Float] { (0..<catalogue.count).map { Float(coefficients.bias[bucket(of: $0)]) } }

    /// The item-only term by id bucket, so retrieval completes the index's nearest rows with every row whose bucket
    /// bias could still lift it into the top `max(10, slate size)` (``PriorGroups``): with it, retrieval misses only
    /// what the index itself misses of the bilinear term.
    /// - Parameters:
    ///   - reduced: ``reducedCatalogue()`` (the features the index embedded).
    ///   - previous: the groups built for an earlier version of this policy; reused with the new biases when they
    ///     cover the same rows of the same features and the same number of buckets (the buckets are a function of
    ///     the item ids, and ``PolicyRetrieval`` keeps an index only while its rows keep their ids).
    /// - Throws: ``RetrievalError/shape(_:)`` when a bias is not finite.
    public func retrievalPriorGroups(reduced: ItemCatalogue, previous: PriorGroups? = nil) throws(RetrievalError)
        -> PriorGroups
    {
        let bias = coefficients.bias.map(Float.init)
        if let previous, previous.groupOfRow.count == catalogue.count, previous.prior.count == bias.count,
            previous.certifiedTop == max(10, spec.slateSize), previous.features == reduced.features
        {
            return try previous.with(prior: bias)
        }
        return try PriorGroups(
            group: (0..<catalogue.count).map { bucket(of: $0) }, prior: bias,
            features: reduced.features, certifiedTop: max(10, spec.slateSize))
    }
}
