import RecIndex
import RecModel

/// Ranks items for raw user context with a model and the feature spec it was trained with.
///
/// Every candidate is scored at slot 0 (the top slot). The answer comes from the **model** unless the model has no
/// signal about the user: with the default rule (`popularityWhenNoSignal`) that is a user with no engaged event
/// (no view of at least `engagedSeconds`) and no user-feature value seen in training; such a user is ranked by the
/// popularity prior recorded in the spec at fit time and the reply says `cold_start_fallback`. A user with no
/// events but known features is scored by the model, which was trained on mostly cold-start impressions. A model
/// score that is not finite is refused (``RecommendError/nonFiniteScore(item:score:)``, a server fault), never
/// replaced by the prior. Ties are broken by popularity, then by item id.
///
/// **Viewed items** (`events`) are read as interest: a view of at least `engagedSeconds` counts
/// `min(seconds / engagedSeconds, 3)` engagements with its item, and the model sees, for each candidate, its own
/// engagements (`viewed_item`, bounded in [0, 1]) and the share of the user's engagement that went to items with the
/// same categories (`interest_similarity`, in [0, 1]); so what a view does to the ranking is what the training
/// data says past engagement does to clicks, read through bounded features, never a value outside the range the
/// model was trained on. A view is never evidence against its own item: with the `interest` encoding a viewed
/// candidate's score is the larger of its score with and without the events (a model fitted on few warm clicks,
/// as on OBD, can learn a negative weight for past engagement from noise). `excludeViewed` leaves viewed items out
/// of the answer.
///
/// **Large item sets.** With a ``RecommendRetrieval`` (``withRetrieval(spec:settings:parameters:scorer:)`` makes one
/// when the spec has at least `settings.exhaustiveBelow` items), a query without its own candidate list is scored
/// on retrieval's candidates (a few hundred to a thousand items, whatever the number of items) instead of every
/// item; a query that lists candidates, and every query of a smaller item set, is scored exhaustively. The model
/// then walks the index's graph from its best candidates (``GraphSearch``, at most `walkBudget` more rows), and,
/// when ``RetrievalSettings/restarts`` is above 0, also scores a fixed sample spread over the items and walks from
/// the best of it.
public struct Recommender: Sendable {
    /// The spec applied to every query.
    public let spec: FeatureSpec
    /// Retrieval before ranking, or nil to score every item.
    public let retrieval: RecommendRetrieval?
    private let scorer: @Sendable (_ rows: [Float], _ width: Int) -> [Float]

    /// Creates a recommender.
    /// - Parameters:
    ///   - spec: the spec stored with the model.
    ///   - retrieval: retrieval before ranking (nil: every item is a candidate).
    ///   - scorer: scores `rows.count / width` rows of `width` features (the worker passes its MLP's predict).
    public init(
        spec: FeatureSpec, retrieval: RecommendRetrieval? = nil,
        scorer: @escaping @Sendable (_ rows: [Float], _ width: Int) -> [Float]
    ) {
        self.spec = spec
        self.retrieval = retrieval
        self.scorer = scorer
    }

    /// A recommender that retrieves before ranking when the spec has at least `settings.exhaustiveBelow` items
    /// (the retrieval model is distilled from `scorer`, and the index built, here: see
    /// ``RecommendRetrieval/build(spec:scorer:settings:parameters:users:itemSample:seed:)`` for the cost), and scores
    /// every item otherwise.
    /// - Throws: ``RetrievalError`` when the retrieval cannot be built.
    public static func withRetrieval(
        spec: FeatureSpec, settings: RetrievalSettings = RetrievalSettings(),
        parameters: IndexParameters? = nil,
        scorer: @escaping @Sendable (_ rows: [Float], _ width: Int) -> [Float]
    ) throws(RetrievalError) -> Recommender {
        guard spec.itemCount >= settings.exhaustiveBelow else { return Recommender(spec: spec, scorer: scorer) }
        let retrieval = try RecommendRetrieval.build(spec: spec, scorer: scorer, settings: settings, parameters: parameters)
        return Recommender(spec: spec, retrieval: retrieval, scorer: scorer)
    }

    /// The model's scores of `items` for the query's user at slot 0 (with ``FeatureSpec/Events/interest``, a viewed
    /// item's score is the larger of its score with and without the events).
    /// - Throws: ``RecommendError/scorerFailed(expected:got:)`` when the scorer returns another count,
    ///   ``RecommendError/nonFiniteScore(item:score:)`` when a score is not finite (an overflowing model is the
    ///   server's fault, never a cold-start user: the popularity prior would hide it).
    private func modelScores(_ items: [Int], query: RecommendQuery, affinity: [Int: Double]) throws(RecommendError)
        -> [Double]
    {
        let rows = spec.candidateRows(userFeatures: query.userFeatures, affinity: affinity, items: items, position: 0)
        let raw = scorer(rows, spec.width)
        guard raw.count == items.count else { throw .scorerFailed(expected: items.count, got: raw.count) }
        var scores = raw.map(Double.init)
        let viewed = items.indices.filter { affinity[items[$0]] != nil }
        if spec.events == .interest && !viewed.isEmpty {
            let plain = scorer(
                spec.candidateRows(
                    userFeatures: query.userFeatures, affinity: [:], items: viewed.map { items[$0] }, position: 0),
                spec.width)
            guard plain.count == viewed.count else { throw .scorerFailed(expected: viewed.count, got: plain.count) }
            for (k, index) in viewed.enumerated() { scores[index] = max(scores[index], Double(plain[k])) }
        }
        if let bad = scores.indices.first(where: { !scores[$0].isFinite }) {
            throw .nonFiniteScore(item: items[bad], score: scores[bad])
        }
        return scores
    }

    /// Ranks the candidates (all items when none are given) and returns the best `top`.
    /// - Throws: `RecommendError` for invalid input or a scorer that returns the wrong number of scores.
    public func recommend(_ query: RecommendQuery) throws(RecommendError) -> Recommendation {
        guard (1...RecommendQuery.maximumTop).contains(query.top) else { throw .invalidTop(query.top) }
        if let listed = query.candidates, listed.count > RecommendQuery.maximumCandidates {
            throw .tooManyCandidates(listed.count)
        }
        for name in query.userFeatures.keys.sorted() where !spec.allUserFeatureNames.contains(name) {
            throw .unknownUserFeature(name)
        }
        for (name, scaling) in zip(spec.userNumericNames ?? [], spec.userNumericScalings ?? []) {
            // Parsed as the transform parses it (a log's cell, CSVNumber.double): a blank value is missing, as a log's
            // blank cell is (the training mean); any other value the transform would read as missing is refused.
            if let value = query.userFeatures[name], !BlankText.isBlank(value),
                !(CSVNumber.double(value).map(scaling.admits) ?? false)
            {
                throw .notNumeric(feature: name, value: value)
            }
        }
        for event in query.events {
            guard event.item >= 0 && event.item < spec.itemCount else { throw .unknownItem(event.item) }
            guard ViewEvent.admits(seconds: event.seconds) else {
                throw .invalidSeconds(item: event.item, seconds: event.seconds)
            }
        }
        let affinity = spec.affinity(from: query.events)
        var candidates: [Int]
        if let listed = query.candidates {
            candidates = listed
        } else if let retrieval {
            do {
                candidates = try retrieval.candidates(
                    spec: spec, userFeatures: query.userFeatures, affinity: affinity,
                    excluding: query.excludeViewed ? Set(query.events.map(\.item)) : [])
            } catch {
                throw .retrievalFailed(error.description)
            }
        } else {
            candidates = Array(0..<spec.itemCount)
        }
        guard !candidates.isEmpty else { throw .noCandidates }
        var seen = Set<Int>()
        for item in candidates {
            guard item >= 0 && item < spec.itemCount else { throw .unknownItem(item) }
            guard seen.insert(item).inserted else { throw .duplicateCandidate(item) }
        }
        if query.excludeViewed {
            let viewed = Set(query.events.map(\.item))
            candidates.removeAll { viewed.contains($0) }
            guard !candidates.isEmpty else { throw .noCandidates }
        }
        let noHistory = affinity.isEmpty
        let useFallback: Bool
        switch spec.coldStartRule {
        case .popularityWhenNoSignal: useFallback = noHistory && !spec.knowsAnyFeature(query.userFeatures)
        case .popularityWhenNoHistory: useFallback = noHistory
        }
        var scores: [Double]
        var source = RecommendationSource.model
        if useFallback {
            // A click rate in [0, 1]. A spec fitted before reward logs were counted as clicks holds a reward's
            // amounts (above 1) and still decodes: its answer gave item scores above 1, which the broker refuses as
            // no probability (INTERNAL for every cold-start request). The order is kept: ties at 1 are broken by the
            // popularity itself below.
            scores = candidates.map { min(spec.popularity[$0], 1) }
            source = .coldStartFallback
        } else {
            scores = try modelScores(candidates, query: query, affinity: affinity)
            if query.candidates == nil, let retrieval {
                let settings = retrieval.retrieval.settings
                let index = retrieval.retrieval.index
                let excluded: Set<Int> = query.excludeViewed ? Set(query.events.map(\.item)) : []
                let admits = { (row: Int) in row < spec.itemCount && !excluded.contains(row) }
                // Restarts: the model scores a fixed sample spread over the items (those the index holds live and the
                // query admits), and its best rows start walks of their own; the sample's rows are candidates too.
                var restarts: [(Int, Float)] = []
                if settings.restarts > 0 && !retrieval.restartRows.isEmpty {
                    let taken = Set(candidates)
                    let sample = retrieval.restartRows.filter { !taken.contains($0) && admits($0) && index.contains(row: $0) }
                    if !sample.isEmpty {
                        let q = try modelScores(sample, query: query, affinity: affinity)
                        candidates += sample
                        scores += q
                        restarts = TopK.largestPairs(Array(zip(sample, q.map(Float.init))), count: settings.restarts)
                    }
                }
                if settings.walkBudget > 0 || !restarts.isEmpty {
                    // The retrieval model only approximates this model: walk the index's graph from the best candidates
                    // (and the restarts), scoring with the model itself, for items it ranks higher nearby. A beam of 40
                    // whatever `top` (up to 1,000): the walk corrects the best rows; a wider one would cost a round per
                    // 8 rows of it even where every neighbour is already a candidate.
                    let found = try GraphSearch.refine(
                        min(query.top, 40), index: index, scored: Array(zip(candidates, scores.map(Float.init))),
                        beam: 40, budget: settings.walkBudget, restarts: restarts, restartBudget: settings.restartBudget,
                        admits: admits
                    ) { (rows: [Int]) throws(RecommendError) -> [Float] in
                        try modelScores(rows, query: query, affinity: affinity).map(Float.init)
                    }
                    candidates += found.walked
                    scores += found.walkedScores.map(Double.init)
                }
            }
        }
        let order = candidates.indices.sorted { a, b in
            if scores[a] != scores[b] { return scores[a] > scores[b] }
            let (pa, pb) = (spec.popularity[candidates[a]], spec.popularity[candidates[b]])
            return pa != pb ? pa > pb : candidates[a] < candidates[b]
        }
        return Recommendation(
            items: order.prefix(query.top).map { ScoredItem(item: candidates[$0], score: scores[$0]) }, source: source)
    }
}
