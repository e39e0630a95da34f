import RecIndex
import RecModel

/// Retrieval before ranking over an ``ItemCatalogue``: an ``ItemIndex`` of the catalogue's item embeddings under a
/// ``BilinearRetrieval`` model, and the candidates for one user state (``candidates(state:catalogue:excluding:)``).
///
/// The index follows the catalogue (``follow(_:version:)``: appended rows are added, retired rows removed), and
/// every candidate is checked against ``ItemCatalogue/active`` again, so a retired item is never a candidate
/// once the catalogue that retires it is the one passed in. Retrieval is a deterministic function of the state,
/// the catalogue, the index's ``IndexVersion`` and the query model and priors in force (for a policy, its served
/// coefficients), so a slate's slot probabilities within the candidates are
/// exact and every item outside them has probability 0: logging the version with the slate keeps the
/// propensities exact. The value is Sendable; the index inside takes its own lock.
public struct CatalogueRetrieval: Sendable {
    /// The query and item embeddings.
    public let model: BilinearRetrieval
    /// Candidate counts and the exhaustive threshold.
    public let settings: RetrievalSettings
    /// The index of the catalogue's active items.
    public let index: ItemIndex
    /// Rows of largest item prior at build time, best first (`settings.popular × 4` of them, filtered when read).
    public private(set) var popularRows: [Int]
    /// The ranker's item-only term by group, when it has one (a policy's bucket bias): the nearest rows are then
    /// completed with every row that could still enter the top ``PriorGroups/certifiedTop`` (see ``PriorGroups``).
    public var groups: PriorGroups? = nil

    /// The index settings of both served retrievals, the online policy's exact bilinear model and the interest model's
    /// distilled one (``RecommendRetrieval``): hnswlib's defaults in the Euclidean reduction of inner product
    /// (Bachrach et al., "Speeding up the Xbox recommender system using a Euclidean transformation for inner-product
    /// spaces", RecSys 2014). On the simulator's policy (`scripts/bench catalogue --paths policy`, docs/BENCHMARKS.md,
    /// "Bucket biases") the inner-product space found 0.948 of the exhaustive top 10 at 100,000 items and the
    /// reduction 0.999, at about the same latency; on shop-like catalogues of 20,000 items with 2, 3 or 6 Gaussian
    /// features (a policy's item embeddings of 3, 4 or 7 dimensions, two Thompson samples each) the reduction found
    /// all of the top 10 for 10 users in every case, the inner-product space 0.83–0.99. For the interest model's
    /// RECOMMEND (`--paths recommender`, "The pool's own RECOMMEND") the inner-product space found 0.57 and 0.37 at
    /// 10,000 and 100,000 items, the reduction 1.000 at both.
    public static let indexParameters = IndexParameters(euclideanReduction: true)

    /// From this many items ``indexParameters(items:)`` builds a denser graph.
    public static let denseGraphFrom = 500_000

    /// The interest model's index settings for a catalogue of `items` items: ``indexParameters`` below
    /// ``denseGraphFrom`` items, and from there twice the links per node (M 32), twice the build beam (200) and a
    /// search beam of 2,000 (the 1,000 nearest are then the best 1,000 of 2,000 found, re-scored exactly). An
    /// HNSW graph's search finds less of the true nearest items as the catalogue grows at fixed M (Malkov &
    /// Yashunin, 2018, on the choice of M). At 1,000,000 items with M 16 the index's 1,000 nearest kept 0.49–0.79
    /// of the exhaustive top 10 where the distilled model's exact 1,000 kept all of it; with M 32 and a build
    /// beam of 200 it kept 0.94–0.98 over three builds, at 1.3 times the index bytes and 3.7 times the build time
    /// (docs/BENCHMARKS.md, "The pool's own RECOMMEND").
    public static func indexParameters(items: Int) -> IndexParameters {
        var parameters = indexParameters
        if items >= denseGraphFrom {
            parameters.m = 32
            parameters.efConstruction = 200
            parameters.efSearch = 2_000
        }
        return parameters
    }

    /// Builds the index of a catalogue's active items.
    /// - Parameters:
    ///   - catalogue: the items; its feature width must be the model's `itemWidth`.
    ///   - model: the embeddings.
    ///   - embeddings: the version of the ranker `model` was distilled from.
    ///   - catalogueVersion: the catalogue's version.
    ///   - settings: candidate counts.
    ///   - parameters: HNSW settings; with `localityOrder` the graph is renumbered for memory locality once built.
    /// - Throws: ``RetrievalError/catalogue(_:)`` for a feature width that does not fit, ``RetrievalError/index(_:)``.
    public static func build(
        catalogue: ItemCatalogue, model: BilinearRetrieval, embeddings: UInt64, catalogueVersion: UInt64,
        settings: RetrievalSettings = RetrievalSettings(), parameters: IndexParameters = IndexParameters()
    ) throws(RetrievalError) -> CatalogueRetrieval {
        guard catalogue.width == model.itemWidth else {
            throw .catalogue("the catalogue has \(catalogue.width) item features, the retrieval model \(model.itemWidth)")
        }
        let rows = catalogue.activeIndices
        do {
            let index = try ItemIndex(
                dimension: model.dimension, version: IndexVersion(embeddings: embeddings, catalogue: catalogueVersion),
                parameters: parameters, capacity: max(catalogue.count, 1))
            try index.add(rows: rows, vectors: model.embeddings(rows: rows, features: catalogue.features))
            if parameters.localityOrder { try index.reorderForLocality() }
            let keep = settings.popular * 4
            let priors = rows.map { ($0, model.itemPrior(item: catalogue.row($0))) }
            let popular = TopK.largest(priors, count: keep).map(\.0)
            return CatalogueRetrieval(model: model, settings: settings, index: index, popularRows: popular)
        } catch {
            throw .index(error)
        }
    }

    /// The same index with another query model of the same dimension and popular rows of largest `priors`
    /// (one per catalogue row; a ranker's own item-only term, such as a policy's bucket bias).
    /// - Throws: ``RetrievalError/shape(_:)`` when the model's dimension differs from the index's, when either
    ///   model embeds items in the projected space or is reduced and the two differ (the items were embedded with
    ///   the old `W` or `P`),
    ///   or when `priors` does not have one value per row.
    /// - Parameter groups: the item-only term by group, for the completion of the nearest rows (nil: none); its
    ///   features must be `catalogue`'s.
    public func with(
        model next: BilinearRetrieval, priors: [Float], catalogue: ItemCatalogue, groups: PriorGroups? = nil
    ) throws(RetrievalError) -> CatalogueRetrieval {
        try with(model: next, priors: priors, catalogue: catalogue, groups: groups, checkPriors: true)
    }

    private func with(
        model next: BilinearRetrieval, priors: [Float], catalogue: ItemCatalogue, groups: PriorGroups?, checkPriors: Bool
    ) throws(RetrievalError) -> CatalogueRetrieval {
        guard next.dimension == index.dimension else {
            throw .shape("the index holds \(index.dimension)-dimensional items, the model \(next.dimension)")
        }
        // Projected or reduced items were embedded with the model's own W or P: another would query them wrongly.
        guard (next.itemsIndependentOfWeights && model.itemsIndependentOfWeights) || next == model else {
            throw .shape(
                "the index holds items embedded by another model's W or P (\(model.itemSpace.rawValue) item space, rank \(model.rank))")
        }
        guard !checkPriors || priors.count == catalogue.count else {
            throw .shape("\(catalogue.count) rows need \(catalogue.count) priors, got \(priors.count)")
        }
        if let groups {
            guard groups.groupOfRow.count == catalogue.count, groups.features.count == catalogue.features.count else {
                throw .shape(
                    "the prior groups cover \(groups.groupOfRow.count) rows of \(groups.features.count) feature values, "
                        + "the catalogue \(catalogue.count) rows of \(catalogue.features.count)")
            }
        }
        let active = catalogue.active
        let popular = TopK.largest(priors.indices.filter { active[$0] }.map { ($0, priors[$0]) }, count: settings.popular * 4)
        return CatalogueRetrieval(
            model: next, settings: settings, index: index, popularRows: popular.map(\.0), groups: groups)
    }

    /// The same index with another query model of the same dimension, completed by `groups` (a ranker whose item-only
    /// term is one prior per group, such as a policy's bucket bias), whose popular rows are the active members of the
    /// groups of largest prior, best group first and by row within a group: the rows of largest prior, found without
    /// a pass over the catalogue, so a policy update costs O(groups), not O(items).
    /// - Throws: as ``with(model:priors:catalogue:groups:)``.
    public func with(model next: BilinearRetrieval, catalogue: ItemCatalogue, groups: PriorGroups) throws(RetrievalError)
        -> CatalogueRetrieval
    {
        let active = catalogue.active
        var popular: [Int] = []
        let wanted = settings.popular * 4
        search: for g in groups.order {
            for row in groups.rowsByGroup[Int(g)] where Int(row) < active.count && active[Int(row)] {
                guard popular.count < wanted else { break search }
                popular.append(Int(row))
            }
        }
        var built = try with(model: next, priors: [], catalogue: catalogue, groups: groups, checkPriors: false)
        built.popularRows = popular
        return built
    }

    /// Brings the index up to `catalogue`: rows the index has never held and the catalogue holds active are added,
    /// rows the index holds and the catalogue has retired are removed, and the index records `version`.
    /// - Returns: how many rows were added and removed.
    /// - Throws: ``RetrievalError/catalogue(_:)`` when the catalogue has another width, ``RetrievalError/index(_:)``.
    @discardableResult
    public func follow(_ catalogue: ItemCatalogue, version: UInt64) throws(RetrievalError) -> (added: Int, removed: Int) {
        guard catalogue.width == model.itemWidth else {
            throw .catalogue("the catalogue has \(catalogue.width) item features, the retrieval model \(model.itemWidth)")
        }
        let live = index.liveFlags
        let active = catalogue.active
        let added = (0..<active.count).filter { active[$0] && ($0 >= live.count || !live[$0]) }
        let removed = (0..<min(live.count, active.count)).filter { live[$0] && !active[$0] }
        do {
            if !added.isEmpty { try index.add(rows: added, vectors: model.embeddings(rows: added, features: catalogue.features)) }
            for row in removed { try index.remove(row: row) }
        } catch {
            throw .index(error)
        }
        index.follow(catalogue: version)
        return (added.count, removed.count)
    }

    /// The candidates for one user: every active row for a catalogue below `settings.exhaustiveBelow` rows,
    /// otherwise the index's nearest rows, the popular rows and the newest rows, each active and not excluded,
    /// without repeats, in that order; with ``groups``, then every row of a group whose prior could still lift it
    /// into the top ``PriorGroups/certifiedTop`` (``PriorGroups``), best group first.
    /// - Parameters:
    ///   - state: the ranker's user state (`model.stateWidth` values).
    ///   - catalogue: the catalogue in force (its `active` is the second guard against retired items).
    ///   - excluding: rows to leave out (the user's viewed items when asked).
    /// - Throws: ``RetrievalError`` for a state of another width or an index failure.
    public func candidates(state: [Float], catalogue: ItemCatalogue, excluding: Set<Int> = [])
        throws(RetrievalError) -> RetrievedCandidates
    {
        let active = catalogue.active
        if catalogue.count < settings.exhaustiveBelow {
            return RetrievedCandidates(
                rows: active.indices.filter { active[$0] && !excluding.contains($0) }, version: nil)
        }
        let query = try model.query(state: state)
        var seen = Set<Int>()
        var rows: [Int] = []
        func take(_ row: Int) -> Bool {
            guard row < active.count, active[row], !excluding.contains(row), seen.insert(row).inserted else { return false }
            rows.append(row)
            return true
        }
        let found: IndexSearch
        do {
            found = try index.search(query, k: settings.nearest + min(excluding.count, settings.nearest))
        } catch {
            throw .index(error)
        }
        var taken = 0
        var takenHits: [IndexHit] = []
        takenHits.reserveCapacity(settings.nearest)
        for hit in found.hits where taken < settings.nearest {
            if take(hit.row) {
                taken += 1
                takenHits.append(hit)
            }
        }
        taken = 0
        for row in popularRows where taken < settings.popular {
            if take(row) { taken += 1 }
        }
        taken = 0
        var row = active.count - 1
        let oldest = max(0, active.count - 8 * settings.newest - excluding.count)
        while row >= oldest && taken < settings.newest {
            if take(row) { taken += 1 }
            row -= 1
        }
        // Only the hits taken: a hit searched for beyond `nearest` (room for excluded rows) is no candidate, so it
        // may neither raise the threshold nor lower the floor.
        let truncated = groups.map { complete(groups: $0, query: query, hits: takenHits, take: take) } ?? false
        return RetrievedCandidates(rows: rows, version: found.version, truncated: truncated)
    }

    /// Adds the rows that could still enter the top `groups.certifiedTop` once their group's prior is counted: the
    /// threshold `S` is the `certifiedTop`-th best `q · e + prior` among the rows seen so far (the index's hits
    /// first), `s_K` the hits' smallest `q · e`; a group is scanned while its prior exceeds `S − s_K`, and a row of it
    /// is taken when its own `q · e + prior` exceeds `S`, which then rises. Stops after `groups.scanLimit` rows.
    /// - Returns: whether it stopped at `groups.scanLimit` with a group left that could still hold a better row.
    private func complete(groups: PriorGroups, query: [Float], hits: [IndexHit], take: (Int) -> Bool) -> Bool {
        guard hits.count >= groups.certifiedTop, let floor = hits.map(\.score).min() else { return false }
        // The best `certifiedTop` full scores so far, smallest first: `best[0]` is the threshold.
        var best = TopK.largest(
            hits.enumerated().map { ($0.offset, $0.element.score + groups.prior(ofRow: $0.element.row)) },
            count: groups.certifiedTop
        ).map(\.1).reversed() as [Float]
        let dimension = model.dimension
        var scanned = 0
        for g in groups.order {
            let prior = groups.prior[Int(g)]
            guard prior + floor > best[0] else { break }
            guard scanned < groups.scanLimit else { return true }
            let group = groups.rowsByGroup[Int(g)]
            let members = group.prefix(groups.scanLimit - scanned).map { Int($0) }
            scanned += members.count
            let vectors = model.embeddings(rows: members, features: groups.features)
            vectors.withUnsafeBufferPointer { v in
                for (i, row) in members.enumerated() {
                    var inner: Float = 0
                    let base = i * dimension
                    for j in 0..<dimension { inner += query[j] * v[base + j] }
                    let full = inner + prior
                    guard full > best[0], take(row) else { continue }
                    // Raise the threshold: drop the smallest, keep the rest sorted.
                    best.removeFirst()
                    best.insert(full, at: best.firstIndex { $0 > full } ?? best.count)
                }
            }
            if members.count < group.count { return true }
        }
        return false
    }
}

/// The candidates retrieval gave for one user and the index version they came from (nil when the catalogue was
/// scored exhaustively).
public struct RetrievedCandidates: Sendable, Equatable {
    /// Catalogue rows.
    public var rows: [Int]
    /// The index version, or nil for exhaustive scoring.
    public var version: IndexVersion?

    /// Whether the completion by grouped priors (``PriorGroups``) stopped at its scan limit with groups left that
    /// could still hold a better row: the candidates may then miss part of the top.
    public var truncated: Bool

    /// Whether every active item was a candidate.
    public var exhaustive: Bool { version == nil }

    /// Creates candidates.
    public init(rows: [Int], version: IndexVersion?, truncated: Bool = false) {
        self.rows = rows
        self.version = version
        self.truncated = truncated
    }
}

/// Partial selection of the largest values.
public enum TopK {
    /// The `count` pairs of largest value, best first; ties by smaller key.
    public static func largestPairs(_ pairs: [(Int, Float)], count: Int) -> [(Int, Float)] { largest(pairs, count: count) }

    /// The `count` pairs of largest value, best first; ties by smaller key. O(n log count).
    static func largest(_ pairs: [(Int, Float)], count: Int) -> [(Int, Float)] {
        guard count > 0 else { return [] }
        func better(_ a: (Int, Float), _ b: (Int, Float)) -> Bool { a.1 != b.1 ? a.1 > b.1 : a.0 < b.0 }
        var kept: [(Int, Float)] = []
        kept.reserveCapacity(count + 1)
        for pair in pairs {
            if kept.count == count, let last = kept.last, !better(pair, last) { continue }
            let at = kept.firstIndex { better(pair, $0) } ?? kept.count
            kept.insert(pair, at: at)
            if kept.count > count { kept.removeLast() }
        }
        return kept
    }
}

/// Ranking the candidates with an item-input Q-network: the second stage of retrieval-then-ranking, and, with every
/// active row as a candidate, exhaustive scoring.
public enum CandidateRanking {
    /// `Q(s ‖ x_row)` for each row, in the rows' order.
    public static func scores(ranker: QNetwork, state: [Float], catalogue: ItemCatalogue, rows: [Int]) -> [Float] {
        ranker.qValues(states: Matrix(rows: 1, cols: state.count, values: state), items: catalogue.featureMatrix(rows: rows))
            .values
    }

    /// The `k` rows of largest score, best first (ties by smaller row).
    public static func top(_ k: Int, rows: [Int], scores: [Float]) -> [Int] {
        TopK.largest(Array(zip(rows, scores)), count: k).map(\.0)
    }
}
