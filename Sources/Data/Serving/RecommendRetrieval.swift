import Foundation
import RecIndex
import RecModel

/// Retrieval before ranking for the interest model's RECOMMEND (``Recommender``) over a large item set: the
/// candidates for one user are the index's nearest items under a bilinear model distilled from the model's own
/// scores, the most popular items (the spec's popularity prior, so the cold-start fallback's top items are always
/// candidates) and the newest items (the highest ids), plus the items the user viewed; the model then scores only
/// those.
///
/// **What the bilinear model sees.** A scored row mixes three kinds of columns: columns that depend on the user
/// only (user one-hots, numeric user features, the pooled history), columns that depend on the item only (item
/// categories, numeric item features, the item-id bucket), and crosses (hashed user × item buckets, the candidate's
/// own engagement, the interest similarity). ``build(spec:scorer:settings:parameters:users:itemSample:seed:)`` finds
/// the first two kinds by building rows for sampled users × sampled items (a column is the user's when it is the
/// same across the items for every user, the item's when it is the same across the users for every item, and left
/// out when it is constant), takes the state `s` from the user columns and the item vector `x` from the item
/// columns, and fits `score ≈ [s; 1]ᵀ W [φ(x); 1]` to the model's scores of those rows (``BilinearRetrieval``); the
/// crosses are approximated through the fit, and the viewed items, whose own-engagement column is a cross, are
/// added to the candidates explicitly. Nothing here grows with the number of items except the index and the item
/// vectors.
public struct RecommendRetrieval: Sendable {
    /// The index, candidate counts and the distilled model.
    public let retrieval: CatalogueRetrieval
    /// The item vectors `x` (the item columns of each item's row), as the catalogue the index follows; row = item id.
    public let items: ItemCatalogue
    /// Columns of a scored row that form the state `s`.
    public let stateColumns: [Int]
    /// Columns of a scored row that form the item vector `x`.
    public let itemColumns: [Int]
    /// The fixed sample the restarts start from (``RetrievalSettings/restarts``): every ⌊items / restartSample⌋-th
    /// item, in order; empty when the settings have no restarts.
    public let restartRows: [Int]

    /// Distils the retrieval model from `scorer` and builds the index of every item.
    /// - Parameters:
    ///   - spec: the model's feature spec (its `itemCount` items are indexed).
    ///   - scorer: the model: scores `rows.count / width` rows of `width` features.
    ///   - settings: candidate counts.
    ///   - parameters: HNSW settings; nil for ``CatalogueRetrieval/indexParameters(items:)`` (the Euclidean
    ///     reduction, and a denser graph for a catalogue of a million items).
    ///   - users: sampled user contexts for the fit (random known feature values, numeric values drawn from the
    ///     training scaling, half of them with 1 to 4 engaged items); nil for ``defaultUsers(items:)``.
    ///   - itemSample: sampled items for the fit (all items when fewer).
    ///   - focus: with more than `itemSample` items, `itemSample × focus` are drawn and scored for every sampled user,
    ///     and the fit's items are half the users' best of them and half the rest
    ///     (``focusedSample(spec:scorer:contexts:pool:count:)``); 1 fits on a uniform draw.
    ///   - fit: what the bilinear model is fitted to: the scorer's scores as they are (the default), or their logits
    ///     (``DistillationTarget``).
    ///   - seed: the sampling's seed.
    /// - Cost: `users × itemSample` rows scored once (and `users × itemSample × focus` more with a focus), `itemCount` rows built once, and the index build.
    /// - Throws: ``RetrievalError`` when the scorer returns the wrong count or non-finite scores, when no column
    ///   depends on the item alone, or the index fails.
    public static func build(
        spec: FeatureSpec, scorer: @Sendable (_ rows: [Float], _ width: Int) -> [Float],
        settings: RetrievalSettings = RetrievalSettings(),
        parameters: IndexParameters? = nil, users: Int? = nil, itemSample: Int = 1_024,
        focus: Int = 8, fit: DistillationTarget = .score, seed: UInt64 = 1
    ) throws(RetrievalError) -> RecommendRetrieval {
        let parameters = parameters ?? CatalogueRetrieval.indexParameters(items: spec.itemCount)
        let users = users ?? defaultUsers(items: spec.itemCount)
        guard spec.itemCount >= 1, users >= 2, itemSample >= 2, focus >= 1 else {
            throw .shape("retrieval needs items, at least 2 sampled users and 2 sampled items, and a focus of at least 1")
        }
        let width = spec.width
        var rng = SplitMix64(seed: seed)
        let contexts = (0..<users).map { _ in sampleContext(spec: spec, rng: &rng) }
        var pool = Array(0..<spec.itemCount)
        let drawn = min(itemSample * focus, pool.count)
        for i in 0..<drawn { pool.swapAt(i, i + rng.index(pool.count - i)) }
        pool = Array(pool.prefix(drawn))
        let sample = try focusedSample(spec: spec, scorer: scorer, contexts: contexts, pool: pool, count: itemSample)
        let nx = sample.count

        // One pass over users × items: the model's scores, and which columns vary with the user or the item only.
        var scores = [Float]()
        scores.reserveCapacity(users * nx)
        var firstUser: [Float] = []
        var firstItemOfUser: [[Float]] = []
        var sameAcrossItems = [Bool](repeating: true, count: width)
        var sameAcrossUsers = [Bool](repeating: true, count: width)
        var constant = [Bool](repeating: true, count: width)
        for (u, context) in contexts.enumerated() {
            let rows = spec.candidateRows(
                userFeatures: context.features, affinity: context.affinity, items: sample, position: 0)
            let q = scorer(rows, width)
            guard q.count == nx else { throw .shape("the model returned \(q.count) scores for \(nx) rows") }
            guard q.allSatisfy(\.isFinite) else { throw .shape("the model gave a score that is not finite") }
            scores.append(contentsOf: q)
            if u == 0 { firstUser = rows }
            firstItemOfUser.append(Array(rows[0..<width]))
            for i in 0..<nx {
                for c in 0..<width {
                    let value = rows[i * width + c]
                    if value != rows[c] { sameAcrossItems[c] = false }
                    if value != firstUser[i * width + c] { sameAcrossUsers[c] = false }
                    if value != firstUser[c] { constant[c] = false }
                }
            }
        }
        let stateColumns = (0..<width).filter { sameAcrossItems[$0] && !sameAcrossUsers[$0] && !constant[$0] }
        let itemColumns = (0..<width).filter { sameAcrossUsers[$0] && !sameAcrossItems[$0] && !constant[$0] }
        guard !itemColumns.isEmpty else { throw .shape("no column of the model's rows depends on the item alone") }
        let states = firstItemOfUser.map { row in stateColumns.map { row[$0] } }
        var itemValues = [Float]()
        itemValues.reserveCapacity(nx * itemColumns.count)
        for i in 0..<nx { for c in itemColumns { itemValues.append(firstUser[i * width + c]) } }
        let model = try BilinearRetrieval.distil(
            states: states, items: Matrix(rows: nx, cols: itemColumns.count, values: itemValues),
            scores: fit.transformed(scores),
            expansion: .automatic(itemWidth: itemColumns.count))

        let items = try itemVectors(spec: spec, columns: itemColumns)
        let built = try CatalogueRetrieval.build(
            catalogue: items, model: model, embeddings: 0, catalogueVersion: 0, settings: settings,
            parameters: parameters)
        let retrieval = try built.with(model: model, priors: spec.popularity.map(Float.init), catalogue: items)
        return RecommendRetrieval(
            retrieval: retrieval, items: items, stateColumns: stateColumns, itemColumns: itemColumns, restartRows: []
        ).withRestartSample(settings.restartSample)
    }

    /// The sampled users a distillation fits on by default: 128, and 512 from
    /// ``CatalogueRetrieval/denseGraphFrom`` items on. At 1,000,000 items the distilled model's exact 1,000 nearest
    /// kept 0.92 of the exhaustive top 10 with 128 users and 1.000 with 512 (docs/BENCHMARKS.md, "The pool's own
    /// RECOMMEND"), at four times the distillation's scoring (512 × 8,192 rows) when a replica installs a model.
    public static func defaultUsers(items: Int) -> Int {
        items >= CatalogueRetrieval.denseGraphFrom ? 512 : 128
    }

    /// `count` items of `pool` (a random draw) for the distillation's grid: all of it when it holds no more, else half
    /// the sampled users' best items under the model (round robin over the users' rankings of the pool, each user's
    /// next best not yet chosen) and half the rest of the pool in its order. The least-squares fit then spends its
    /// accuracy where retrieval must be right, on the items that compete for a user's top 10, while still seeing the
    /// bulk they must rank above (as `BilinearRetrieval.distil(ranker:…focus:…)` does for an item-input ranker).
    /// - Throws: ``RetrievalError/shape(_:)`` when the scorer returns the wrong count or a score that is not finite.
    static func focusedSample(
        spec: FeatureSpec, scorer: (_ rows: [Float], _ width: Int) -> [Float],
        contexts: [(features: [String: String], affinity: [Int: Double])], pool: [Int], count: Int
    ) throws(RetrievalError) -> [Int] {
        guard pool.count > count else { return pool }
        var scores: [[Float]] = []
        for context in contexts {
            var q: [Float] = []
            q.reserveCapacity(pool.count)
            for start in stride(from: 0, to: pool.count, by: 4_096) {
                let chunk = Array(pool[start..<min(start + 4_096, pool.count)])
                let chunkScores = scorer(
                    spec.candidateRows(
                        userFeatures: context.features, affinity: context.affinity, items: chunk, position: 0),
                    spec.width)
                guard chunkScores.count == chunk.count else {
                    throw .shape("the model returned \(chunkScores.count) scores for \(chunk.count) rows")
                }
                guard chunkScores.allSatisfy(\.isFinite) else { throw .shape("the model gave a score that is not finite") }
                q += chunkScores
            }
            scores.append(q)
        }
        return BilinearRetrieval.focusedRows(pool: pool, scores: scores, count: count)
    }

    /// The same retrieval (its index and model shared) with a restarts' sample of about `sample` rows, or none when
    /// `sample` is 0 or the settings have no restarts: the graph walk then starts from the candidates only.
    public func withRestartSample(_ sample: Int) -> RecommendRetrieval {
        let count = items.count
        let rows =
            retrieval.settings.restarts > 0 && sample > 0
            ? Array(stride(from: 0, to: count, by: max(1, count / sample))) : []
        return RecommendRetrieval(
            retrieval: retrieval, items: items, stateColumns: stateColumns, itemColumns: itemColumns, restartRows: rows)
    }

    /// The candidates for one user: the index's nearest items, the popular and newest ones (see
    /// ``CatalogueRetrieval/candidates(state:catalogue:excluding:)``) and, unless excluded, the viewed items
    /// (`affinity`'s keys), without repeats.
    /// - Throws: ``RetrievalError/index(_:)`` when the search fails.
    public func candidates(spec: FeatureSpec, userFeatures: [String: String], affinity: [Int: Double], excluding: Set<Int>)
        throws(RetrievalError) -> [Int]
    {
        let row = spec.candidateRows(userFeatures: userFeatures, affinity: affinity, items: [0], position: 0)
        let found = try retrieval.candidates(state: stateColumns.map { row[$0] }, catalogue: items, excluding: excluding)
        var rows = found.rows
        let taken = Set(rows)
        for item in affinity.keys.sorted()
        where item >= 0 && item < spec.itemCount && !excluding.contains(item) && !taken.contains(item) {
            rows.append(item)
        }
        return rows
    }

    /// Every item's item columns under an empty user context, as a catalogue (ids are the item numbers).
    static func itemVectors(spec: FeatureSpec, columns: [Int]) throws(RetrievalError) -> ItemCatalogue {
        var values = [Float]()
        values.reserveCapacity(spec.itemCount * columns.count)
        let chunk = 4_096
        for start in stride(from: 0, to: spec.itemCount, by: chunk) {
            let ids = Array(start..<min(start + chunk, spec.itemCount))
            let rows = spec.candidateRows(userFeatures: [:], affinity: [:], items: ids, position: 0)
            for k in ids.indices { for c in columns { values.append(rows[k * spec.width + c]) } }
        }
        do {
            return try ItemCatalogue(
                encoding: ItemEncoding(categorical: [], numeric: columns.map { spec.columns[$0] }),
                ids: (0..<spec.itemCount).map(String.init), features: values)
        } catch {
            throw .catalogue(error.description)
        }
    }

    /// A random user context: each categorical feature a known value (one in eight unknown), each numeric feature
    /// drawn from its training scaling, and for half the users 1 to 4 engaged items of 1 to 3 engagements.
    static func sampleContext(spec: FeatureSpec, rng: inout SplitMix64) -> (features: [String: String], affinity: [Int: Double]) {
        var features: [String: String] = [:]
        for (name, vocabulary) in zip(spec.userFeatureNames, spec.userVocabularies) where !vocabulary.isEmpty {
            if rng.index(8) != 0 { features[name] = vocabulary[rng.index(vocabulary.count)] }
        }
        for (name, scaling) in zip(spec.userNumericNames ?? [], spec.userNumericScalings ?? []) {
            features[name] = "\(scaling.mean + scaling.std * rng.normal())"
        }
        var affinity: [Int: Double] = [:]
        if rng.index(2) == 0 {
            for _ in 0..<(1 + rng.index(4)) { affinity[rng.index(spec.itemCount), default: 0] += rng.uniform(1, 3) }
        }
        return (features, affinity)
    }
}

/// What ``RecommendRetrieval/build(spec:scorer:settings:parameters:users:itemSample:focus:fit:seed:)`` fits the
/// bilinear retrieval model to. Ranking is unchanged by any increasing transform of the scores, so the target is
/// chosen for how well a bilinear form can fit it. The interest model's probability is a sigmoid of its last layer,
/// flat near 0 and 1, and the logit undoes the sigmoid: a ranker whose logit is bilinear is fitted exactly from its
/// logits (``score`` keeps 0.86 of its top tens; `DistillationTargetTests`). The pool's trained MLP is not bilinear
/// in its logit, though, and at 1,000,000 simulator items the logit fit's exact 1,000 nearest kept 0.96 of the
/// exhaustive top 10 against 1.000 for the scores' (docs/BENCHMARKS.md, "The pool's own RECOMMEND"), so ``score``
/// is the default.
public enum DistillationTarget: String, Sendable, Equatable, CaseIterable {
    /// The scores as the scorer returns them.
    case score
    /// `log(p / (1 − p))` of each score `p`, clamped to `[1e-6, 1 − 1e-6]` first: for a scorer whose scores are
    /// probabilities.
    case logit

    /// The values the fit is made to.
    public func transformed(_ scores: [Float]) -> [Float] {
        switch self {
        case .score: return scores
        case .logit:
            return scores.map { p in
                let q = Double(min(max(p, 1e-6), 1 - 1e-6))
                return Float(log(q / (1 - q)))
            }
        }
    }
}
