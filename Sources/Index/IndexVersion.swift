/// What built an ``ItemIndex``: the version of the embeddings its vectors came from, the catalogue version it was
/// last brought up to, and how many insert and remove operations it has taken (its build's bulk insert the first).
///
/// Retrieval is a deterministic function of the query and the index's contents, and the contents are a function of
/// these three numbers, so a logged version names the candidate set a slate was drawn from.
/// JSON keys: `embeddings`, `catalogue`, `generation`.
public struct IndexVersion: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The version of the model the item and query embeddings come from (for a policy, its version).
    public var embeddings: UInt64
    /// The catalogue version the index follows.
    public var catalogue: UInt64
    /// Insert and remove operations the index has taken, its build's bulk insert the first (so 1 before any change).
    public var generation: UInt64

    /// Creates a version.
    public init(embeddings: UInt64, catalogue: UInt64, generation: UInt64 = 0) {
        self.embeddings = embeddings
        self.catalogue = catalogue
        self.generation = generation
    }

    /// `e<embeddings>.c<catalogue>.g<generation>`, as logged.
    public var description: String { "e\(embeddings).c\(catalogue).g\(generation)" }
}

/// HNSW settings (Malkov & Yashunin, 2018, "Efficient and robust approximate nearest neighbor search using
/// Hierarchical Navigable Small World graphs"): `m` links per node, a build beam of `efConstruction`, a search
/// beam of `efSearch` (a search of `k` uses `max(efSearch, k)`), the seed of the level generator, and the threads a
/// batch of inserts uses.
public struct IndexParameters: Sendable, Equatable {
    /// Links per node (hnswlib's M; layer 0 keeps 2M).
    public var m: Int
    /// Beam width while inserting.
    public var efConstruction: Int
    /// Beam width while searching.
    public var efSearch: Int
    /// Seed of the level generator, so a build is reproducible.
    public var seed: UInt64
    /// Threads that insert one batch (``ItemIndex/add(rows:vectors:)``). 1 (the default) inserts in row order, so
    /// the same vectors always give the same graph and the same answers; more threads build faster (hnswlib inserts
    /// concurrently) but the graph then depends on the threads' timing, so two replicas' indexes of one version
    /// can return slightly different candidates.
    public var insertThreads: Int
    /// Whether the graph holds the Euclidean reduction of inner product (Bachrach et al., 2014: an item `x` stored
    /// as `[x ; √(R² − |x|²)]` in hnswlib's L2 space, a query as `[q ; 0]`, `R²` four times the first batch's largest
    /// `|x|²`) instead of hnswlib's inner-product space. Answers are the exact `q·x` either way. On the catalogue
    /// benchmark's cubic item expansion it searched faster and found more of the exact top rows; on a 2-d spiral it
    /// found far fewer; so false (the inner-product space) is the default.
    public var euclideanReduction: Bool
    /// Whether a bulk build renumbers the graph for memory locality once its rows are in
    /// (``ItemIndex/reorderForLocality()``; `CatalogueRetrieval.build` in RecData reads it). The default, true,
    /// changes no answer; false keeps hnswlib's insertion order, for the benchmark's side-by-side comparison.
    public var localityOrder: Bool

    /// Creates parameters (hnswlib's usual M and a moderate build beam).
    public init(
        m: Int = 16, efConstruction: Int = 100, efSearch: Int = 300, seed: UInt64 = 1, insertThreads: Int = 1,
        euclideanReduction: Bool = false, localityOrder: Bool = true
    ) {
        self.localityOrder = localityOrder
        self.m = m
        self.efConstruction = efConstruction
        self.efSearch = efSearch
        self.seed = seed
        self.insertThreads = insertThreads
        self.euclideanReduction = euclideanReduction
    }
}
