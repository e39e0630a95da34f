import RecData
import RecPolicy

/// Retrieval before ranking for the served policy over a large catalogue.
///
/// The policy's score is bilinear: `Q(z, a) = zᵀ Θ y_a + β_{b(a)}` with `y_a = [1 ‖ x̃_a]` (``PolicyFeatures``), so
/// the query embedding needs no distillation: `q(z) = Θᵀ z` over the item embeddings `[x̃_a ‖ 1]` gives
/// `zᵀ Θ y_a` exactly, and the items of largest bucket bias `β` come in as the popular candidates. The item
/// embeddings depend only on the catalogue (not on what the policy learns), so the index is built once per
/// catalogue and follows its adds and retirements; a new Θ or β only changes the query and the popular rows.
enum PolicyRetrieval {
    /// The exact bilinear model of a policy's interaction term: state `z` (`zWidth`), items `x̃` (`itemDims`).
    static func model(_ policy: OnlinePolicy) throws(RetrievalError) -> BilinearRetrieval {
        let zw = policy.features.zWidth
        let yw = policy.features.yWidth
        let p = yw - 1
        let theta = policy.coefficients.theta
        var w = [Float](repeating: 0, count: (zw + 1) * (p + 1))
        for i in 0..<zw {
            for j in 0..<p { w[i * (p + 1) + j] = Float(theta[i * yw + 1 + j]) }
            w[i * (p + 1) + p] = Float(theta[i * yw])
        }
        return try BilinearRetrieval(stateWidth: zw, itemWidth: p, expansion: .linear, weights: w)
    }

    /// The policy's catalogue with each row replaced by its reduced features `x̃` (same ids, rows, active flags).
    static func reducedCatalogue(_ policy: OnlinePolicy) throws(RetrievalError) -> ItemCatalogue {
        let catalogue = policy.catalogue
        let p = policy.features.itemDims
        var values = [Float]()
        values.reserveCapacity(catalogue.count * p)
        for row in 0..<catalogue.count { values.append(contentsOf: policy.features.reduce(catalogue.row(row)).map(Float.init)) }
        do {
            return try ItemCatalogue(
                encoding: ItemEncoding(categorical: [], numeric: (0..<p).map { "x\($0)" }), ids: catalogue.ids,
                features: values, active: catalogue.active)
        } catch {
            throw .catalogue(error.description)
        }
    }

    /// The retrieval for `policy` at `version`: nil below the exhaustive threshold; otherwise `previous`'s index
    /// brought up to the policy's catalogue (built anew when there is none or the widths differ), with the policy's
    /// current query model and its bucket biases as the popular prior. The reduced catalogue is recomputed only
    /// when the policy's catalogue has other rows or active flags than `previous`'s.
    static func make(
        policy: OnlinePolicy, version: UInt64, previous: Built?, settings: RetrievalSettings = RetrievalSettings()
    ) throws(RetrievalError) -> Built? {
        guard policy.catalogue.count >= settings.exhaustiveBelow else { return nil }
        let model = try model(policy)
        let priors = (0..<policy.catalogue.count).map { Float(policy.coefficients.bias[policy.bucket(of: $0)]) }
        if let previous, previous.retrieval.model.dimension == model.dimension {
            var reduced = previous.reduced
            if reduced.count != policy.catalogue.count || reduced.active != policy.catalogue.active {
                reduced = try reducedCatalogue(policy)
                try previous.retrieval.follow(reduced, version: version)
            }
            return Built(retrieval: try previous.retrieval.with(model: model, priors: priors, catalogue: reduced), reduced: reduced)
        }
        let reduced = try reducedCatalogue(policy)
        let built = try CatalogueRetrieval.build(
            catalogue: reduced, model: model, embeddings: 0, catalogueVersion: version, settings: settings)
        return Built(retrieval: try built.with(model: model, priors: priors, catalogue: reduced), reduced: reduced)
    }

    /// Whether `built`'s index can serve `policy` (same item embedding dimension), so ``make(policy:version:previous:settings:)``
    /// only follows the catalogue and swaps the query model rather than building anew.
    static func canFollow(_ built: Built, policy: OnlinePolicy) throws(RetrievalError) -> Bool {
        built.retrieval.model.dimension == (try model(policy)).dimension
    }

    /// A retrieval and the reduced catalogue its index follows.
    struct Built: Sendable {
        /// Candidates for the served policy.
        var retrieval: CatalogueRetrieval
        /// The policy's catalogue in reduced features.
        var reduced: ItemCatalogue
    }
}
