import RecData
import RecPolicy

/// Retrieval before ranking for the served policy over a large catalogue: the policy's exact bilinear model
/// (`OnlinePolicy.retrievalModel()`, `q(z) = Θᵀ z`) over an index of its reduced catalogue. The index is built
/// once per catalogue and follows its adds and retirements; a new Θ or β only changes the query and the popular
/// rows.
enum PolicyRetrieval {
    /// The retrieval for `policy` over registry catalogue version `catalogue` (nil: a catalogue the POLICY inlined,
    /// logged as 0): nil below the exhaustive threshold; otherwise `previous`'s index brought up to the policy's
    /// catalogue (built anew when there is none or the widths differ), with the policy's current query model and
    /// its bucket biases as the popular prior. The reduced catalogue is recomputed only when the policy's catalogue
    /// has other rows or active flags than `previous`'s.
    ///
    /// The index's version (`e0.c<catalogue>.g<adds and removes>`, logged with each impression drawn from it) names
    /// the catalogue version its rows come from, never the policy version: the policy's own version is logged
    /// beside it, and the item vectors (the features' expansion) are the same for every policy version, hence `e0`.
    static func make(
        policy: OnlinePolicy, catalogue catalogueVersion: UInt64?, previous: Built?,
        settings: RetrievalSettings = RetrievalSettings()
    ) throws(RetrievalError) -> Built? {
        let version = catalogueVersion ?? 0
        guard policy.catalogue.count >= settings.exhaustiveBelow else { return nil }
        let model = try policy.retrievalModel()
        let priors = policy.retrievalPriors
        if let previous, canFollow(previous, model: model) {
            var reduced = previous.reduced
            if reduced.count != policy.catalogue.count || reduced.active != policy.catalogue.active {
                reduced = try policy.reducedCatalogue()
                try previous.retrieval.follow(reduced, version: version)
            } else if previous.retrieval.index.version.catalogue != version {
                // The same rows under another catalogue version: the label follows, the contents stay.
                previous.retrieval.index.follow(catalogue: version)
            }
            return Built(retrieval: try previous.retrieval.with(model: model, priors: priors, catalogue: reduced), reduced: reduced)
        }
        let reduced = try policy.reducedCatalogue()
        let built = try CatalogueRetrieval.build(
            catalogue: reduced, model: model, embeddings: 0, catalogueVersion: version, settings: settings)
        return Built(retrieval: try built.with(model: model, priors: priors, catalogue: reduced), reduced: reduced)
    }

    /// Whether `built`'s index can serve `policy` (same item embedding dimension, items embedded independently of
    /// the model), so ``make(policy:catalogue:previous:settings:)``
    /// only follows the catalogue and swaps the query model rather than building anew.
    static func canFollow(_ built: Built, policy: OnlinePolicy) throws(RetrievalError) -> Bool {
        canFollow(built, model: try policy.retrievalModel())
    }

    /// ``canFollow(_:policy:)`` for the policy's retrieval model, already computed.
    static func canFollow(_ built: Built, model: BilinearRetrieval) -> Bool {
        // Only items embedded independently of the model (expanded, unreduced) can serve a new Θ.
        model.itemsIndependentOfWeights && built.retrieval.model.itemsIndependentOfWeights
            && built.retrieval.model.dimension == model.dimension
    }

    /// A retrieval and the reduced catalogue its index follows.
    struct Built: Sendable {
        /// Candidates for the served policy.
        var retrieval: CatalogueRetrieval
        /// The policy's catalogue in reduced features.
        var reduced: ItemCatalogue
    }
}
