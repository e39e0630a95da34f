import RecModel

/// The top items of an item-input ranker `Q(s ‖ x)` found by best-first search over ``ItemClusters``: an upper
/// bound of `Q` over each cluster's bounding box (interval bound propagation through the ranker's layers: every
/// activation it has, identity, ReLU and sigmoid, is nondecreasing, so a box of inputs maps to a box of outputs),
/// then the clusters' members scored in the order of their bounds until the next bound is no larger than the
/// `k`-th best score found (the top `k` is then exact) or `budget` items were scored.
public enum ClusterSearch {
    /// What a search found.
    public struct Found: Sendable, Equatable {
        /// The best rows, best first (ties by smaller row).
        public var rows: [Int]
        /// Their scores.
        public var scores: [Float]
        /// Items scored.
        public var scored: Int
        /// Whether the search stopped on the bound (the top is exhaustive scoring's) rather than the budget.
        public var exact: Bool
    }

    /// For each cluster, an upper bound of `ranker`'s score for `state` over the cluster's bounding box
    /// (`-infinity` for an empty cluster).
    /// - Precondition: `ranker` is item-input with `clusters.width` item features and `state` has its state width.
    public static func upperBounds(ranker: QNetwork, state: [Float], clusters: ItemClusters) -> [Float] {
        let c = clusters.count
        let d = clusters.width
        let inputs = state.count + d
        var center = [Float](repeating: 0, count: c * inputs)
        var radius = [Float](repeating: 0, count: c * inputs)
        for k in 0..<c {
            for j in 0..<state.count { center[k * inputs + j] = state[j] }
            for j in 0..<d {
                let (lo, hi) = (clusters.lower[k * d + j], clusters.upper[k * d + j])
                guard lo <= hi else { continue }
                center[k * inputs + state.count + j] = (lo + hi) / 2
                radius[k * inputs + state.count + j] = (hi - lo) / 2
            }
        }
        var mid = Matrix(rows: c, cols: inputs, values: center)
        var spread = Matrix(rows: c, cols: inputs, values: radius)
        for layer in ranker.network.layers {
            let affine = Dense(weight: layer.weight, bias: layer.bias, activation: .identity).forward(mid)
            let absolute = Matrix(rows: layer.weight.rows, cols: layer.weight.cols, values: layer.weight.values.map(abs))
            let zeroBias = [Float](repeating: 0, count: layer.bias.count)
            let widened = Dense(weight: absolute, bias: zeroBias, activation: .identity).forward(spread)
            var lo = zip(affine.values, widened.values).map { $0 - $1 }
            var hi = zip(affine.values, widened.values).map { $0 + $1 }
            apply(layer.activation, &lo)
            apply(layer.activation, &hi)
            mid = Matrix(rows: c, cols: layer.outputWidth, values: zip(lo, hi).map { ($0 + $1) / 2 })
            spread = Matrix(rows: c, cols: layer.outputWidth, values: zip(lo, hi).map { ($1 - $0) / 2 })
        }
        return (0..<c).map { k in
            clusters.representatives[k] == nil ? -.infinity : mid.values[k] + spread.values[k]
        }
    }

    /// The `k` best active, not excluded rows for `state`, by best-first search over the clusters.
    /// - Parameters:
    ///   - k: how many rows (at least 1).
    ///   - ranker: the item-input ranker.
    ///   - state: the user state.
    ///   - catalogue: the catalogue in force (features and active flags).
    ///   - clusters: its partition.
    ///   - budget: items to score at most (a cluster is scored whole, so the last one can pass it).
    ///   - excluding: rows to leave out.
    public static func top(
        _ k: Int, ranker: QNetwork, state: [Float], catalogue: ItemCatalogue, clusters: ItemClusters, budget: Int,
        excluding: Set<Int> = []
    ) -> Found {
        let bounds = upperBounds(ranker: ranker, state: state, clusters: clusters)
        let order = bounds.indices.filter { bounds[$0] > -.infinity }
            .sorted { bounds[$0] != bounds[$1] ? bounds[$0] > bounds[$1] : $0 < $1 }
        let active = catalogue.active
        var best: [(Int, Float)] = []
        var scored = 0
        var next = 0
        // Score a batch of clusters at a time (one forward pass), then check the bound of the next one.
        let batch = max(64, budget / 16)
        while next < order.count {
            if best.count >= k, let kth = best.last, bounds[order[next]] <= kth.1 { break }
            if scored >= budget { break }
            var rows: [Int] = []
            while next < order.count && rows.count < batch {
                if best.count >= k, let kth = best.last, bounds[order[next]] <= kth.1 { break }
                rows += clusters.members[order[next]].filter { $0 < active.count && active[$0] && !excluding.contains($0) }
                next += 1
            }
            guard !rows.isEmpty else { continue }
            let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: rows)
            scored += rows.count
            best = TopK.largest(best + Array(zip(rows, q)), count: k)
        }
        let exact = next >= order.count || (best.count >= k && bounds[order[next]] <= best[best.count - 1].1)
        return Found(rows: best.map(\.0), scores: best.map(\.1), scored: scored, exact: exact)
    }

    /// The `k` best active, not excluded rows for `state`, searching the clusters in the order of their
    /// representatives' scores: the ranker scores every cluster's representative (one batched pass), then the
    /// members of the clusters of best representative until at least `budget` rows are scored, then the members of
    /// the `neighbours` clusters of centroid nearest to each of the best `expand` rows found so far (the best items
    /// often lie in a cluster next to a good one whose representative scored lower). Not exact: a cluster none of
    /// whose neighbours nor representative scores well is never scored.
    /// - Returns: the best rows and their scores, and how many rows were scored (`exact` is false).
    public static func byRepresentatives(
        _ k: Int, ranker: QNetwork, state: [Float], catalogue: ItemCatalogue, clusters: ItemClusters, budget: Int,
        expand: Int = 20, neighbours: Int = 8, excluding: Set<Int> = []
    ) -> Found {
        let active = catalogue.active
        let reps = clusters.representatives.compactMap { $0 }.filter { active[$0] && !excluding.contains($0) }
        let repScores = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: reps)
        var seen = Set(reps)
        var scores = [Float](repeating: -.infinity, count: clusters.count)
        for (row, score) in zip(reps, repScores) { scores[Int(clusters.clusterOfRow[row])] = score }
        let first = clusters.rows(bestOf: scores, budget: budget, active: active, excluding: excluding)
            .filter { seen.insert($0).inserted }
        var rows = reps + first
        var values = repScores + CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: first)
        if expand > 0 && neighbours > 0 {
            let best = TopK.largest(Array(zip(rows, values)), count: expand).map(\.0)
            let more = neighbourRows(
                of: best, clusters: clusters, catalogue: catalogue, neighbours: neighbours, excluding: excluding,
                seen: &seen)
            rows += more
            values += CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: more)
        }
        let best = TopK.largest(Array(zip(rows, values)), count: k)
        return Found(rows: best.map(\.0), scores: best.map(\.1), scored: rows.count, exact: false)
    }

    /// Refines another retrieval's ranked candidates: the ranker scores the members of the `neighbours` clusters
    /// of centroid nearest to each of the best `expand` scored rows (the ranker is smooth in the item's features,
    /// so items it ranks above those rows lie near them even where the first retrieval's model disagreed), and the
    /// best `k` of everything scored are returned.
    /// - Parameters:
    ///   - scored: the first retrieval's candidates with the ranker's scores.
    /// - Returns: the best rows and their scores, and how many rows were scored here (`exact` is false).
    public static func refine(
        _ k: Int, ranker: QNetwork, state: [Float], catalogue: ItemCatalogue, clusters: ItemClusters,
        scored: [(Int, Float)], expand: Int = 20, neighbours: Int = 8, excluding: Set<Int> = []
    ) -> Found {
        var seen = Set(scored.map(\.0))
        let more = neighbourRows(
            of: TopK.largest(scored, count: expand).map(\.0), clusters: clusters, catalogue: catalogue,
            neighbours: neighbours, excluding: excluding, seen: &seen)
        let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: more)
        let best = TopK.largest(scored + Array(zip(more, q)), count: k)
        return Found(rows: best.map(\.0), scores: best.map(\.1), scored: more.count, exact: false)
    }

    /// Applies a nondecreasing activation elementwise.
    static func apply(_ activation: Activation, _ values: inout [Float]) {
        switch activation {
        case .identity: break
        case .relu: for i in values.indices { values[i] = max(values[i], 0) }
        case .sigmoid: for i in values.indices { values[i] = logistic(values[i]) }
        }
    }

    /// The active rows, not in `excluding` nor yet in `seen` (added to it), of the `neighbours` clusters whose
    /// centroids are nearest (squared Euclidean distance) to each of `rows`' item inputs.
    static func neighbourRows(
        of rows: [Int], clusters: ItemClusters, catalogue: ItemCatalogue, neighbours: Int, excluding: Set<Int>,
        seen: inout Set<Int>
    ) -> [Int] {
        let active = catalogue.active
        let d = clusters.width
        var taken = Set<Int>()
        for row in rows {
            let x = catalogue.row(row)
            let distances = (0..<clusters.count).map { c -> (Int, Float) in
                var sum: Float = 0
                for (j, v) in x.enumerated() {
                    let delta = v - clusters.centroids[c * d + j]
                    sum += delta * delta
                }
                return (c, -sum)
            }
            for (c, _) in TopK.largest(distances, count: neighbours) { taken.insert(c) }
        }
        return taken.sorted().flatMap { clusters.members[$0] }
            .filter { $0 < active.count && active[$0] && !excluding.contains($0) && seen.insert($0).inserted }
    }
}
