import RecModel

/// A partition of a catalogue's active items into clusters of nearby item vectors (k-means, seeded, deterministic),
/// each with its centroid, its members and a representative (the member nearest the centroid): the first stage of
/// ``ClusterRetrieval``, which scores the representatives with the ranker itself and then scores the members of the
/// best clusters.
///
/// The partition follows the catalogue (``follow(_:)``): an added active row joins the cluster of its nearest
/// centroid, a retired row leaves its cluster (a cluster whose representative left gets its member nearest the
/// centroid as the new one). Centroids are not moved by following; rebuild to re-fit them.
public struct ItemClusters: Sendable, Equatable {
    /// Item features per row (the catalogue's width).
    public let width: Int
    /// `count × width` centroids, row-major.
    public private(set) var centroids: [Float]
    /// Each cluster's member rows, ascending.
    public private(set) var members: [[Int]]
    /// Each cluster's representative row (its member nearest the centroid), or nil for an empty cluster.
    public private(set) var representatives: [Int?]
    /// `count × width` lower corners of each cluster's bounding box (its members' least value per feature; a
    /// cluster with no member has lower > upper).
    public private(set) var lower: [Float]
    /// `count × width` upper corners of each cluster's bounding box.
    public private(set) var upper: [Float]
    /// The cluster of each catalogue row, -1 for a row not held (retired, or not yet followed).
    public private(set) var clusterOfRow: [Int32]

    /// Number of clusters.
    public var count: Int { members.count }

    /// Partitions `catalogue`'s active rows into `clusters` clusters (fewer when there are fewer active rows).
    /// - Parameters:
    ///   - catalogue: the items.
    ///   - clusters: the number of clusters (at least 1).
    ///   - iterations: Lloyd iterations on the sample.
    ///   - sample: active rows the centroids are fitted on (all when fewer); every active row is then assigned.
    ///   - seed: the sampling and initialisation seed: the same seed and catalogue give the same partition.
    /// - Cost: `iterations × sample × clusters × width` for the fit, `rows × clusters × width` for the assignment.
    /// - Throws: ``RetrievalError/shape(_:)`` for fewer than 1 cluster or no active row.
    public static func build(
        catalogue: ItemCatalogue, clusters: Int, iterations: Int = 10, sample: Int = 65_536, seed: UInt64 = 1
    ) throws(RetrievalError) -> ItemClusters {
        let rows = catalogue.activeIndices
        guard clusters >= 1 else { throw .shape("item clusters need at least 1 cluster, got \(clusters)") }
        guard !rows.isEmpty else { throw .shape("item clusters need at least one active item") }
        let d = catalogue.width
        var rng = SplitMix64(seed: seed)
        var fitRows = rows
        let n = min(sample, rows.count)
        for i in 0..<n { fitRows.swapAt(i, i + rng.index(fitRows.count - i)) }
        fitRows = Array(fitRows.prefix(n))
        let k = min(clusters, n)
        var centroids = seeding(fitRows, count: k, features: catalogue.features, width: d, rng: &rng)
        var assignment = [Int](repeating: 0, count: n)
        for _ in 0..<max(iterations, 0) {
            for (i, row) in fitRows.enumerated() {
                assignment[i] = nearest(catalogue.features, offset: row * d, centroids: centroids, width: d)
            }
            centroids = means(of: fitRows, assignment: assignment, features: catalogue.features, previous: centroids, width: d)
        }
        var clustersOut = ItemClusters(
            width: d, centroids: centroids, members: Array(repeating: [], count: k),
            representatives: Array(repeating: nil, count: k), lower: Array(repeating: .infinity, count: k * d),
            upper: Array(repeating: -.infinity, count: k * d),
            clusterOfRow: Array(repeating: -1, count: catalogue.count))
        for row in rows {
            let c = nearest(catalogue.features, offset: row * d, centroids: centroids, width: d)
            clustersOut.members[c].append(row)
            clustersOut.clusterOfRow[row] = Int32(c)
        }
        // One last update from the full assignment, then the representatives.
        var all = [Int](repeating: 0, count: rows.count)
        for (i, row) in rows.enumerated() { all[i] = Int(clustersOut.clusterOfRow[row]) }
        clustersOut.centroids = means(of: rows, assignment: all, features: catalogue.features, previous: centroids, width: d)
        for c in 0..<k { clustersOut.refresh(c, features: catalogue.features) }
        return clustersOut
    }

    /// Brings the partition up to `catalogue`: active rows not held join their nearest centroid's cluster, held
    /// rows the catalogue has retired leave theirs.
    /// - Returns: how many rows were added and removed.
    /// - Throws: ``RetrievalError/catalogue(_:)`` when the catalogue has another width or fewer rows than are held.
    @discardableResult
    public mutating func follow(_ catalogue: ItemCatalogue) throws(RetrievalError) -> (added: Int, removed: Int) {
        guard catalogue.width == width else {
            throw .catalogue("the catalogue has \(catalogue.width) item features, the clusters \(width)")
        }
        guard catalogue.count >= clusterOfRow.count else {
            throw .catalogue("the catalogue has \(catalogue.count) rows, the clusters hold rows up to \(clusterOfRow.count)")
        }
        let active = catalogue.active
        clusterOfRow += Array(repeating: -1, count: active.count - clusterOfRow.count)
        var touched = Set<Int>()
        var added = 0
        var removed = 0
        for row in active.indices {
            let held = Int(clusterOfRow[row])
            if active[row] && held < 0 {
                let c = Self.nearest(catalogue.features, offset: row * width, centroids: centroids, width: width)
                let at = members[c].firstIndex { $0 > row } ?? members[c].count
                members[c].insert(row, at: at)
                clusterOfRow[row] = Int32(c)
                touched.insert(c)
                added += 1
            } else if !active[row] && held >= 0 {
                members[held].removeAll { $0 == row }
                clusterOfRow[row] = -1
                touched.insert(held)
                removed += 1
            }
        }
        for c in touched.sorted() { refresh(c, features: catalogue.features) }
        return (added, removed)
    }

    /// The member rows of the clusters of largest score, best first, until at least `budget` rows are taken (a
    /// cluster is taken whole), leaving out rows that are not active or are excluded.
    /// - Parameters:
    ///   - scores: one score per cluster (the ranker's score of its representative; an empty cluster's is ignored).
    ///   - budget: how many rows to take at least (fewer when the clusters run out).
    ///   - active: the catalogue's active flags (the second guard against retired rows).
    ///   - excluding: rows to leave out.
    public func rows(bestOf scores: [Float], budget: Int, active: [Bool], excluding: Set<Int> = []) -> [Int] {
        let order = (0..<min(scores.count, count)).filter { representatives[$0] != nil }
            .sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        var out: [Int] = []
        for c in order {
            if out.count >= budget { break }
            for row in members[c] where row < active.count && active[row] && !excluding.contains(row) { out.append(row) }
        }
        return out
    }

    /// Sets cluster `c`'s representative to its member nearest its centroid (ties by smaller row), nil when empty,
    /// and its bounding box to its members'.
    mutating func refresh(_ c: Int, features: [Float]) {
        var best: Int?
        var bestDistance = Float.infinity
        for j in 0..<width {
            lower[c * width + j] = .infinity
            upper[c * width + j] = -.infinity
        }
        for row in members[c] {
            var distance: Float = 0
            for j in 0..<width {
                let value = features[row * width + j]
                let delta = value - centroids[c * width + j]
                distance += delta * delta
                lower[c * width + j] = min(lower[c * width + j], value)
                upper[c * width + j] = max(upper[c * width + j], value)
            }
            if distance < bestDistance {
                bestDistance = distance
                best = row
            }
        }
        representatives[c] = best
    }

    /// k-means++ seeding: the first centroid a random sample row, each next one a sample row drawn with probability
    /// proportional to its squared distance from the nearest centroid so far (a row already chosen has distance 0).
    static func seeding(_ rows: [Int], count k: Int, features: [Float], width d: Int, rng: inout SplitMix64) -> [Float] {
        var centroids = [Float]()
        centroids.reserveCapacity(k * d)
        var distance = [Double](repeating: .infinity, count: rows.count)
        var next = rows[rng.index(rows.count)]
        for _ in 0..<k {
            let c = centroids.count
            centroids += features[(next * d)..<((next + 1) * d)]
            var total = 0.0
            for (i, row) in rows.enumerated() {
                var squared: Float = 0
                for j in 0..<d {
                    let delta = features[row * d + j] - centroids[c + j]
                    squared += delta * delta
                }
                distance[i] = min(distance[i], Double(squared))
                total += distance[i]
            }
            guard total > 0 else { break }
            var target = rng.uniform() * total
            next = rows[rows.count - 1]
            for (i, row) in rows.enumerated() {
                target -= distance[i]
                if target < 0 {
                    next = row
                    break
                }
            }
        }
        // Fewer distinct rows than k: the rest repeat the first centroid (they stay empty).
        while centroids.count < k * d { centroids += centroids[0..<d] }
        return centroids
    }

    /// The centroid nearest to the vector at `features[offset..<offset + width]` (ties by smaller index).
    static func nearest(_ features: [Float], offset: Int, centroids: [Float], width d: Int) -> Int {
        var best = 0
        var bestDistance = Float.infinity
        features.withUnsafeBufferPointer { x in
            centroids.withUnsafeBufferPointer { c in
                for k in 0..<(c.count / d) {
                    var distance: Float = 0
                    for j in 0..<d {
                        let delta = x[offset + j] - c[k * d + j]
                        distance += delta * delta
                    }
                    if distance < bestDistance {
                        bestDistance = distance
                        best = k
                    }
                }
            }
        }
        return best
    }

    /// The mean of each cluster's rows; a cluster with no row keeps its previous centroid.
    static func means(of rows: [Int], assignment: [Int], features: [Float], previous: [Float], width d: Int) -> [Float] {
        let k = previous.count / d
        var sums = [Double](repeating: 0, count: k * d)
        var counts = [Int](repeating: 0, count: k)
        for (i, row) in rows.enumerated() {
            let c = assignment[i]
            counts[c] += 1
            for j in 0..<d { sums[c * d + j] += Double(features[row * d + j]) }
        }
        var out = previous
        for c in 0..<k where counts[c] > 0 {
            for j in 0..<d { out[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
        }
        return out
    }
}
