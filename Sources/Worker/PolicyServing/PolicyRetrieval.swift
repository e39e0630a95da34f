import RecData
import RecPolicy
import RecWire

/// Retrieval before ranking for the served policy over a large catalogue: the policy's exact bilinear model
/// (`OnlinePolicy.retrievalModel()`, `q(z) = Θᵀ z`) over an index of its reduced catalogue. The index is built
/// once per catalogue and follows its adds and retirements; a new Θ or β only changes the query, the popular
/// rows and the bucket biases that complete the nearest rows (``RecData/PriorGroups``).
enum PolicyRetrieval {
    /// The retrieval for `policy` over registry catalogue version `catalogue` (nil: a catalogue the POLICY inlined,
    /// logged as 0): nil below the exhaustive threshold; otherwise `previous`'s index brought up to the policy's
    /// catalogue, with the policy's current query model and its bucket biases as the popular prior. The index is
    /// built anew when there is none, the widths differ, or the policy's catalogue describes an item the index
    /// holds with other features (or names another item at its row): an index follows added and retired rows, but
    /// never re-embeds a row, so it is kept only when every row it was built from is unchanged.
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
        if let previous, canFollow(previous, model: model), let reduced = try followable(previous, policy: policy) {
            if reduced.count != previous.reduced.count || reduced.active != previous.reduced.active {
                try previous.retrieval.follow(reduced, version: version)
            } else if previous.retrieval.index.version.catalogue != version {
                // The same rows under another catalogue version: the label follows, the contents stay.
                previous.retrieval.index.follow(catalogue: version)
            }
            return Built(
                retrieval: try previous.retrieval.with(
                    model: model, catalogue: reduced,
                    groups: try policy.retrievalPriorGroups(reduced: reduced, previous: previous.retrieval.groups)),
                reduced: reduced, source: policy.catalogue, reduction: Reduction(policy.spec))
        }
        let reduced = try policy.reducedCatalogue()
        let built = try CatalogueRetrieval.build(
            catalogue: reduced, model: model, embeddings: 0, catalogueVersion: version, settings: settings,
            parameters: CatalogueRetrieval.indexParameters)
        return Built(
            retrieval: try built.with(
                model: model, catalogue: reduced, groups: try policy.retrievalPriorGroups(reduced: reduced)),
            reduced: reduced,
            source: policy.catalogue, reduction: Reduction(policy.spec))
    }

    /// The policy's reduced catalogue when `built`'s index can follow it: every row the index was built from is
    /// still there with the same id and the same reduced features (rows may be appended and active flags change);
    /// `nil` when a row was re-described, replaced or dropped, so the index must be built anew. The catalogue the
    /// index follows is compared first, so an unchanged catalogue costs no reduction.
    static func followable(_ built: Built, policy: OnlinePolicy) throws(RetrievalError) -> ItemCatalogue? {
        // The same catalogue reduced the same way: nothing to compare. Another scaling, seed or item_dims over the same
        // catalogue (a new lineage) reduces the rows otherwise, which the comparison below finds.
        if built.source == policy.catalogue && built.reduction == Reduction(policy.spec) { return built.reduced }
        let reduced = try policy.reducedCatalogue()
        let old = built.reduced
        guard reduced.count >= old.count, reduced.width == old.width,
            reduced.ids[0..<old.count] == old.ids[0..<old.count],
            reduced.features[0..<(old.count * old.width)] == old.features[...]
        else { return nil }
        return reduced
    }

    /// Whether `built`'s index can serve `policy` (same item embedding dimension, items embedded independently of
    /// the model), so ``make(policy:catalogue:previous:settings:)``
    /// only follows the catalogue and swaps the query model rather than building anew.
    static func canFollow(_ built: Built, policy: OnlinePolicy) throws(RetrievalError) -> Bool {
        guard canFollow(built, model: try policy.retrievalModel()) else { return false }
        return try followable(built, policy: policy) != nil
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
        /// The policy's catalogue the index was built from or last followed, as the POLICY gave it.
        var source: ItemCatalogue
        /// How that catalogue's rows were reduced.
        var reduction: Reduction
    }

    /// What makes a catalogue's reduced rows (``OnlinePolicy/reducedCatalogue()``) besides the catalogue: the spec's
    /// item scaling, its projection seed and `item_dims`.
    struct Reduction: Sendable, Equatable {
        var scaling: ItemScaling?
        var seed: UInt64
        var itemDims: Int

        init(_ spec: OnlinePolicySpec) {
            scaling = spec.itemScaling
            seed = spec.seed
            itemDims = spec.itemDims
        }
    }
}
