import CHNSW

#if canImport(Glibc)
    import Glibc
#endif

/// An approximate maximum-inner-product index over item vectors, keyed by catalogue row: hnswlib's HNSW graph
/// (Debian's `libhnswlib-dev`, through the `CHNSW` shim).
///
/// Rows are ``ItemCatalogue`` rows: ``add(row:vector:)`` inserts or replaces a row's vector, ``remove(row:)`` makes
/// a row unreachable (it stays in the graph for navigation, as hnswlib's `markDelete` does), and ``search(_:k:)``
/// returns the `k` live rows of largest inner product with the query, best first, with the ``IndexVersion`` the
/// answer came from. Every call takes one lock, so one index can be searched by the serving thread while
/// another thread follows the catalogue; a rebuild builds a new index and swaps the reference.
public final class ItemIndex: @unchecked Sendable {
    // @unchecked: `graph`, `state` are read and written only between `pthread_mutex_lock` and
    // `pthread_mutex_unlock` of `mutex` (allocated once, never moved); `dimension` and `parameters` are
    // immutable. A pthread mutex rather than `Synchronization.Mutex` for the reason `LockedBox` gives
    // (ThreadSanitizer sees its waits); this target sits below RecTransport, so it cannot use `LockedBox`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let graph: OpaquePointer
    private var state: State

    /// Vector length.
    public let dimension: Int
    /// The HNSW settings it was built with.
    public let parameters: IndexParameters

    private struct State {
        var version: IndexVersion
        /// Per row ever added: whether it can be returned.
        var live: [Bool] = []
        var liveCount = 0
    }

    /// Creates an empty index.
    /// - Parameters:
    ///   - dimension: vector length (at least 1).
    ///   - version: the embeddings and catalogue versions it is built from (generation 0).
    ///   - parameters: HNSW settings.
    ///   - capacity: rows to allocate for (the index grows past it by doubling).
    /// - Throws: ``IndexError/invalidArgument(_:)`` for a dimension or parameter out of range,
    ///   ``IndexError/outOfMemory``.
    public init(
        dimension: Int, version: IndexVersion, parameters: IndexParameters = IndexParameters(), capacity: Int = 1_024
    ) throws(IndexError) {
        guard dimension >= 1 else { throw .invalidArgument("an index needs a dimension of at least 1, got \(dimension)") }
        guard parameters.m >= 2, parameters.efConstruction >= 1, parameters.efSearch >= 1, parameters.insertThreads >= 1
        else {
            throw .invalidArgument(
                "HNSW needs m ≥ 2, beams ≥ 1 and insertThreads ≥ 1, got m \(parameters.m), efConstruction \(parameters.efConstruction), efSearch \(parameters.efSearch), insertThreads \(parameters.insertThreads)")
        }
        var handle: OpaquePointer?
        try Self.check(
            recpool_hnsw_create(
                dimension, max(capacity, 1), parameters.m, parameters.efConstruction, parameters.seed,
                parameters.euclideanReduction ? 1 : 0, &handle))
        guard let handle else { throw .outOfMemory }
        recpool_hnsw_set_ef(handle, parameters.efSearch)
        graph = handle
        self.dimension = dimension
        self.parameters = parameters
        state = State(version: version)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with \(status)")
    }

    deinit {
        recpool_hnsw_free(graph)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The version the next search answers with.
    public var version: IndexVersion { locked { $0.version } }
    /// Rows that a search can return.
    public var liveCount: Int { locked { $0.liveCount } }
    /// Per row ever added (index = row): whether a search can return it. A copy, for following a catalogue.
    public var liveFlags: [Bool] { locked { $0.live } }
    /// Whether `row` can be returned by a search.
    public func contains(row: Int) -> Bool { locked { row >= 0 && row < $0.live.count && $0.live[row] } }
    /// An estimate of the graph's memory in bytes (vectors, links, labels, locks), from hnswlib's layout.
    public var memoryBytes: Int { locked { _ in recpool_hnsw_memory_bytes(graph) } }

    /// Inserts `row` with `vector`, or replaces the vector of a row already held (a removed row comes back).
    /// Bumps the generation.
    /// - Throws: ``IndexError`` for a negative row, a vector of the wrong length or not finite, or hnswlib's failure.
    public func add(row: Int, vector: [Float]) throws(IndexError) {
        try add(rows: [row], vectors: vector)
    }

    /// Inserts or replaces many rows: `vectors` holds `rows.count × dimension` values, row-major. The generation
    /// goes up by one for the batch. Rows are checked before any is inserted. Inserts run on
    /// `parameters.insertThreads` threads when the rows are distinct (see ``IndexParameters/insertThreads``).
    /// - Throws: ``IndexError`` as ``add(row:vector:)``.
    public func add(rows: [Int], vectors: [Float]) throws(IndexError) {
        guard vectors.count == rows.count * dimension else {
            throw .dimensionMismatch(expected: dimension, got: rows.isEmpty ? vectors.count : vectors.count / rows.count)
        }
        for (k, row) in rows.enumerated() {
            guard row >= 0 else { throw .negativeRow(row) }
            for j in 0..<dimension where !vectors[k * dimension + j].isFinite { throw .nonFinite(row: row) }
        }
        // hnswlib's concurrent inserts need distinct labels; a batch that repeats a row is inserted in order.
        let threads = Set(rows).count == rows.count ? max(parameters.insertThreads, 1) : 1
        let labels = rows.map { UInt64($0) }
        try lockedThrowing { state throws(IndexError) in
            try Self.check(recpool_hnsw_add_many(graph, vectors, labels, rows.count, threads))
            for row in rows {
                if row >= state.live.count { state.live.append(contentsOf: repeatElement(false, count: row + 1 - state.live.count)) }
                if !state.live[row] {
                    state.live[row] = true
                    state.liveCount += 1
                }
            }
            state.version.generation += 1
        }
    }

    /// Renumbers the graph's elements so that items near each other in the index's space sit near each other in
    /// memory (a k-d order of the stored vectors; Coleman et al., "Graph Reordering for Cache-Efficient Near Neighbor
    /// Search", NeurIPS 2022). A search then touches fewer cache lines and pages, which is what it waits on once
    /// the graph outgrows the caches (hundreds of MB at 1,000,000 items). The graph is the same, so searches return
    /// the same rows; the version is unchanged. (Inserts after it break ties between exactly equal distances by the
    /// new numbering, so with duplicate vectors the graph can then grow differently from an unrenumbered one.)
    /// Call it after a bulk ``add(rows:vectors:)`` of many rows: inserting in a spatial order would build a worse
    /// graph, renumbering after the build does not. Takes O(n log n) time and a second copy of the base level while
    /// it runs.
    /// - Throws: ``IndexError/outOfMemory``.
    public func reorderForLocality() throws(IndexError) {
        try lockedThrowing { _ throws(IndexError) in try Self.check(recpool_hnsw_reorder(graph)) }
    }

    /// Every row ever added, removed ones included, in the order the graph stores them in memory: insertion order,
    /// until ``reorderForLocality()``. For tests and diagnostics of the layout.
    public var memoryOrder: [Int] {
        locked { _ in
            let count = recpool_hnsw_count(graph)
            var labels = [UInt64](repeating: 0, count: count)
            var found = 0
            _ = recpool_hnsw_memory_order(graph, &labels, count, &found)
            return labels[..<found].map { Int($0) }
        }
    }

    /// Makes `row` unreachable: no search after this call returns it. Bumps the generation.
    /// - Throws: ``IndexError/unknownRow(_:)`` for a row never added, ``IndexError/alreadyRemoved(_:)``.
    public func remove(row: Int) throws(IndexError) {
        try lockedThrowing { state throws(IndexError) in
            guard row >= 0, row < state.live.count else { throw .unknownRow(row) }
            guard state.live[row] else { throw .alreadyRemoved(row) }
            try Self.check(recpool_hnsw_mark_deleted(graph, UInt64(row)))
            state.live[row] = false
            state.liveCount -= 1
            state.version.generation += 1
        }
    }

    /// Records that the index now follows catalogue version `catalogue` (after its adds and removes).
    public func follow(catalogue: UInt64) {
        locked { $0.version.catalogue = catalogue }
    }

    /// The `k` live rows of largest inner product with `query`, best first, and the version they came from.
    /// Deterministic for a given query and version: the HNSW search has no randomness.
    /// - Throws: ``IndexError`` for `k` below 1, a query of the wrong length or not finite.
    public func search(_ query: [Float], k: Int) throws(IndexError) -> IndexSearch {
        guard k >= 1 else { throw .invalidArgument("a search needs k ≥ 1, got \(k)") }
        guard query.count == dimension else { throw .dimensionMismatch(expected: dimension, got: query.count) }
        guard query.allSatisfy(\.isFinite) else { throw .nonFinite(row: nil) }
        var labels = [UInt64](repeating: 0, count: k)
        var scores = [Float](repeating: 0, count: k)
        var found = 0
        let version = try lockedThrowing { state throws(IndexError) -> IndexVersion in
            try Self.check(recpool_hnsw_search(graph, query, k, &labels, &scores, &found))
            return state.version
        }
        let hits = (0..<found).map { IndexHit(row: Int(labels[$0]), score: scores[$0]) }
        return IndexSearch(hits: hits, version: version)
    }

    /// The live rows linked to `row` on the graph's base level: its neighbours in the index's space (at most 2·M; a
    /// removed row is left out), for a search that walks the graph with another scorer (``GraphSearch`` in RecData).
    /// - Throws: ``IndexError/unknownRow(_:)`` when the row was never added.
    public func neighbours(of row: Int) throws(IndexError) -> [Int] {
        guard row >= 0 else { throw .negativeRow(row) }
        let capacity = 2 * parameters.m
        var labels = [UInt64](repeating: 0, count: capacity)
        var found = 0
        // One lock for the links and the live flags they are filtered by.
        let (status, rows) = locked { state -> (recpool_hnsw_status, [Int]) in
            let status = recpool_hnsw_neighbours(graph, UInt64(row), &labels, capacity, &found)
            let live = labels[..<found].map { Int($0) }.filter { $0 < state.live.count && state.live[$0] }
            return (status, live)
        }
        if status == RECPOOL_HNSW_UNKNOWN_LABEL { throw .unknownRow(row) }
        try Self.check(status)
        return rows
    }

    private func locked<T>(_ body: (inout State) -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&state)
    }

    private func lockedThrowing<T>(_ body: (inout State) throws(IndexError) -> T) throws(IndexError) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    private static func check(_ status: recpool_hnsw_status) throws(IndexError) {
        switch status {
        case RECPOOL_HNSW_OK: return
        case RECPOOL_HNSW_NO_MEMORY: throw .outOfMemory
        case RECPOOL_HNSW_INVALID_ARGUMENT: throw .invalidArgument("hnswlib refused an argument")
        default: throw .library(code: Int32(status.rawValue))
        }
    }
}

/// One row a search returned and its inner product with the query.
public struct IndexHit: Sendable, Equatable {
    /// The catalogue row.
    public var row: Int
    /// `query · vector`.
    public var score: Float

    /// Creates a hit.
    public init(row: Int, score: Float) {
        self.row = row
        self.score = score
    }
}

/// A search's answer: the rows best first and the version of the index that gave them.
public struct IndexSearch: Sendable, Equatable {
    /// Rows, best first.
    public var hits: [IndexHit]
    /// The index version the rows came from.
    public var version: IndexVersion
}
