import RecModel

extension BilinearRetrieval {
    /// Distils the retrieval model of an item-input Q-network `Q(s ‖ x)` (the policy's ranker) on a grid of the
    /// given user states × `itemSample` active catalogue rows drawn with `seed` (all active rows when fewer).
    /// Cost: one forward pass of `states.count × itemSample` rows, independent of the catalogue's size. The
    /// expansion is ``ItemExpansion/automatic(itemWidth:)`` unless given.
    /// - Throws: ``RetrievalError/shape(_:)`` when the network's widths do not fit the states and the catalogue.
    public static func distil(
        ranker: QNetwork, states: [[Float]], catalogue: ItemCatalogue, itemSample: Int = 2_048, seed: UInt64 = 1,
        expansion: ItemExpansion? = nil, ridge: Double = 1e-4
    ) throws(RetrievalError) -> BilinearRetrieval {
        guard case .itemInput(let itemWidth) = ranker.form, itemWidth == catalogue.width else {
            throw .shape("the ranker is not an item-input Q-network over \(catalogue.width) item features")
        }
        guard let width = states.first?.count, width == ranker.stateWidth, states.allSatisfy({ $0.count == width }) else {
            throw .shape("the sampled states do not have the ranker's state width \(ranker.stateWidth)")
        }
        let active = catalogue.activeIndices
        guard !active.isEmpty else { throw .catalogue("no active item to distil on") }
        var rows = active
        if active.count > itemSample {
            var rng = Xoshiro256(seed: seed)
            for i in 0..<itemSample { rows.swapAt(i, i + rng.nextInt(below: active.count - i)) }
            rows = Array(rows.prefix(itemSample))
        }
        let items = catalogue.featureMatrix(rows: rows)
        let q = ranker.qValues(states: Matrix(rows: states.count, cols: width, values: states.flatMap { $0 }), items: items)
        return try distil(
            states: states, items: items, scores: q.values,
            expansion: expansion ?? .automatic(itemWidth: catalogue.width), ridge: ridge)
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
