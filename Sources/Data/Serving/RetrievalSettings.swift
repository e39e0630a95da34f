/// How ``CatalogueRetrieval`` picks the candidates a ranker scores.
///
/// A catalogue of fewer than `exhaustiveBelow` rows is scored exhaustively (every active item is a candidate);
/// a larger one gets the union of `nearest` items from the index (largest `q(s) · [x; 1]`), the `popular` items of
/// largest item prior, and the `newest` active items (rows are appended, so the highest rows are the newest:
/// item cold start gets exposure whatever its embedding says). At most `nearest + popular + newest` candidates,
/// whatever the catalogue's size.
public struct RetrievalSettings: Sendable, Equatable, Codable {
    /// Catalogues with fewer rows than this are scored exhaustively. The default, 2,000, lies between the
    /// benchmark's 1,000 items (exhaustive MLP scoring p50 0.1 ms) and 10,000 (exhaustive 4.7 ms, retrieval 0.8 ms;
    /// docs/BENCHMARKS.md, "Catalogue scale"), where retrieval's fixed cost (about 1,100 candidates) starts to pay.
    public var exhaustiveBelow: Int
    /// Candidates from the index.
    public var nearest: Int
    /// Candidates of largest item prior.
    public var popular: Int
    /// Newest active items.
    public var newest: Int
    /// The most items a model ranker (``Recommender``) scores beyond the candidates by walking the index's graph from
    /// the best of them (``GraphSearch``): the retrieval model only approximates the ranker, and an item the ranker
    /// prefers lies near its best candidates. 0 turns the walk off. The default, 2,000, bounds a request's extra cost
    /// at about twice the candidates' (on the catalogue benchmark's simulator the walk scored 170–600 items).
    public var walkBudget: Int
    /// Walks of the graph from the best `restarts` rows of a fixed sample spread over the catalogue
    /// (``restartSample`` rows, every ⌊items / restartSample⌋-th), each apart from the main walk (``GraphSearch``,
    /// "Restarts"): the walk from the candidates climbs only the ranker's peaks near them, and a large catalogue's
    /// ranker has others. 0, the default, turns them off: on the interest model's RECOMMEND they cost more than they
    /// found (docs/BENCHMARKS.md, "The pool's own RECOMMEND": 16 restarts from a sample of 1,000 left recall at 1.000
    /// at 10,000 and 100,000 items and raised it from 0.50 to 0.65 at 1,000,000, at 2 to 4 times the rows scored and
    /// the latency).
    public var restarts: Int
    /// How many rows the restarts' sample holds (about; the ranker scores them all on every request).
    public var restartSample: Int
    /// The most rows each restart's walk scores.
    public var restartBudget: Int

    /// Creates settings.
    public init(
        exhaustiveBelow: Int = 2_000, nearest: Int = 1_000, popular: Int = 50, newest: Int = 50, walkBudget: Int = 2_000,
        restarts: Int = 0, restartSample: Int = 1_000, restartBudget: Int = 200
    ) {
        self.exhaustiveBelow = exhaustiveBelow
        self.nearest = nearest
        self.popular = popular
        self.newest = newest
        self.walkBudget = walkBudget
        self.restarts = restarts
        self.restartSample = restartSample
        self.restartBudget = restartBudget
    }

    /// Reads settings; a key that is absent keeps its default (`walk_budget` and the restarts' keys are newer than the
    /// others).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RetrievalSettings()
        self.init(
            exhaustiveBelow: try c.decodeIfPresent(Int.self, forKey: .exhaustiveBelow) ?? d.exhaustiveBelow,
            nearest: try c.decodeIfPresent(Int.self, forKey: .nearest) ?? d.nearest,
            popular: try c.decodeIfPresent(Int.self, forKey: .popular) ?? d.popular,
            newest: try c.decodeIfPresent(Int.self, forKey: .newest) ?? d.newest,
            walkBudget: try c.decodeIfPresent(Int.self, forKey: .walkBudget) ?? d.walkBudget,
            restarts: try c.decodeIfPresent(Int.self, forKey: .restarts) ?? d.restarts,
            restartSample: try c.decodeIfPresent(Int.self, forKey: .restartSample) ?? d.restartSample,
            restartBudget: try c.decodeIfPresent(Int.self, forKey: .restartBudget) ?? d.restartBudget)
    }

    /// JSON keys.
    enum CodingKeys: String, CodingKey {
        case exhaustiveBelow = "exhaustive_below", nearest, popular, newest, walkBudget = "walk_budget", restarts
        case restartSample = "restart_sample", restartBudget = "restart_budget"
    }
}
