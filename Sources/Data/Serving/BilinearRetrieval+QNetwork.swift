import RecModel

extension BilinearRetrieval {
    /// Distils the retrieval model of an item-input Q-network `Q(s ‖ x)` (the policy's ranker) on a grid of the
    /// given user states × `itemSample` active catalogue rows drawn with `seed` (all active rows when fewer).
    ///
    /// With `focus` above 1 the fit is aimed at the top of each user's ranking, where retrieval must be right:
    /// `itemSample × focus` rows are drawn and scored for every state, and the grid's items are half the best rows
    /// of the states (taken in turn, each state's next best not yet chosen) and half the rest of the draw, so the
    /// least-squares fit spends its accuracy on the items that compete for a top 10 while still seeing the bulk it
    /// must rank below them. `focus` 1 fits on a uniform draw.
    ///
    /// Cost: one forward pass of `states.count × itemSample × (focus + 1)` rows (`× 1` for focus 1), independent of
    /// the catalogue's size. The expansion is ``ItemExpansion/automatic(itemWidth:)`` unless given; `stateExpansion`
    /// is the state's (``BilinearRetrieval/stateExpansion``).
    /// - Throws: ``RetrievalError/shape(_:)`` when the network's widths do not fit the states and the catalogue, or
    ///   `focus` is below 1.
    public static func distil(
        ranker: QNetwork, states: [[Float]], catalogue: ItemCatalogue, itemSample: Int = 2_048, seed: UInt64 = 1,
        expansion: ItemExpansion? = nil, ridge: Double = 1e-4, focus: Int = 1, stateExpansion: ItemExpansion = .linear
    ) throws(RetrievalError) -> BilinearRetrieval {
        guard case .itemInput(let itemWidth) = ranker.form, itemWidth == catalogue.width else {
            throw .shape("the ranker is not an item-input Q-network over \(catalogue.width) item features")
        }
        guard let width = states.first?.count, width == ranker.stateWidth, states.allSatisfy({ $0.count == width }) else {
            throw .shape("the sampled states do not have the ranker's state width \(ranker.stateWidth)")
        }
        guard focus >= 1, itemSample >= 2 else { throw .shape("distillation needs focus ≥ 1 and itemSample ≥ 2, got \(focus), \(itemSample)") }
        let active = catalogue.activeIndices
        guard !active.isEmpty else { throw .catalogue("no active item to distil on") }
        let drawn = min(active.count, itemSample * focus)
        var pool = active
        var rng = Xoshiro256(seed: seed)
        if active.count > drawn {
            for i in 0..<drawn { pool.swapAt(i, i + rng.nextInt(below: active.count - i)) }
            pool = Array(pool.prefix(drawn))
        }
        let stateMatrix = Matrix(rows: states.count, cols: width, values: states.flatMap { $0 })
        var rows = Array(pool.prefix(itemSample))
        if pool.count > itemSample {
            rows = focusedSample(ranker: ranker, states: stateMatrix, catalogue: catalogue, pool: pool, count: itemSample)
        }
        let items = catalogue.featureMatrix(rows: rows)
        let q = ranker.qValues(states: stateMatrix, items: items)
        return try distil(
            states: states, items: items, scores: q.values,
            expansion: expansion ?? .automatic(itemWidth: catalogue.width), ridge: ridge, stateExpansion: stateExpansion)
    }

    /// `count` rows of `pool` (a random draw): half the states' best (round robin over the states' rankings of the
    /// pool), half the rest of the pool in its order.
    static func focusedSample(ranker: QNetwork, states: Matrix, catalogue: ItemCatalogue, pool: [Int], count: Int) -> [Int] {
        let ns = states.rows
        var scores = [[Float]](repeating: [], count: ns)
        let chunk = 2_048
        for start in stride(from: 0, to: pool.count, by: chunk) {
            let end = min(start + chunk, pool.count)
            let q = ranker.qValues(states: states, items: catalogue.featureMatrix(rows: Array(pool[start..<end]))).values
            for i in 0..<ns { scores[i].append(contentsOf: q[(i * (end - start))..<((i + 1) * (end - start))]) }
        }
        return focusedRows(pool: pool, scores: scores, count: count)
    }

    /// `count` rows of `pool`: half the best of the states (round robin over each state's ranking of the pool by
    /// `scores[state][k]`, each state's next best not yet chosen), then the rest of the pool in its order.
    static func focusedRows(pool: [Int], scores: [[Float]], count: Int) -> [Int] {
        let best = count / 2
        let orders = scores.map { q in pool.indices.sorted { q[$0] != q[$1] ? q[$0] > q[$1] : $0 < $1 } }
        var chosen = Set<Int>()
        var rows: [Int] = []
        var rank = 0
        while rows.count < best && rank < pool.count {
            for order in orders where rows.count < best {
                if chosen.insert(order[rank]).inserted { rows.append(pool[order[rank]]) }
            }
            rank += 1
        }
        for k in pool.indices where rows.count < count {
            if chosen.insert(k).inserted { rows.append(pool[k]) }
        }
        return rows
    }
}

extension ItemCatalogue {
    /// The feature rows of `rows`, `rows.count × width`, as a matrix (the ranker's candidate items).
    public func featureMatrix(rows: [Int]) -> Matrix {
        var values = [Float]()
        values.reserveCapacity(rows.count * width)
        for row in rows { values.append(contentsOf: self.row(row)) }
        return Matrix(rows: rows.count, cols: width, values: values)
    }
}
