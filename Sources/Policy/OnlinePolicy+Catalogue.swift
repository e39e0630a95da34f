import RecData
import RecModel
import RecWire

extension OnlinePolicySpec {
    /// A spec over a shop's catalogue and user-feature schema.
    ///
    /// Each schema feature becomes a ``UserFeatureSpec``: a categorical one gets `values` (its known values: from
    /// `vocabularies`, else the schema's declared `values`) and columns for every other value: `buckets` hashed ones
    /// when it has no known values, one shared column when it has (a declared vocabulary names the values that
    /// matter; hashing the rest would only add columns that collide); a numeric one is standardised with
    /// `(mean, scale)` from `statistics`, else as the schema declares them (default 0 and 1). Numeric item columns beyond unit scale are standardised
    /// over the catalogue (``itemScaling(for:)``).
    /// - Parameters:
    ///   - catalogue: the items (rows, ids, feature rows, active flags).
    ///   - userFeatures: the schema's user features (`[logs.user_features]`).
    ///   - vocabularies: known values per categorical feature name.
    ///   - statistics: `(mean, scale)` per numeric feature name.
    ///   - buckets: hashed columns per categorical feature.
    public static func make(
        catalogue: ItemCatalogue, userFeatures: [DataSchema.Feature], vocabularies: [String: [String]] = [:],
        statistics: [String: (mean: Double, scale: Double)] = [:], buckets: Int = 8, idBuckets: Int = 1024,
        itemDims: Int = 16, slateSize: Int = 3, exploration: ExplorationSpec = ExplorationSpec(),
        learning: OnlineLearningSpec = OnlineLearningSpec(), seed: UInt64 = 1
    ) -> OnlinePolicySpec {
        let users = userFeatures.map { feature -> UserFeatureSpec in
            switch feature.kind {
            case .categorical:
                let values = vocabularies[feature.name] ?? feature.values ?? []
                return UserFeatureSpec(
                    name: feature.name, kind: .categorical, values: values, buckets: values.isEmpty ? buckets : 1)
            case .numeric:
                let s = statistics[feature.name] ?? (feature.mean ?? 0, feature.scale ?? 1)
                return UserFeatureSpec(name: feature.name, kind: .numeric, buckets: 0, mean: s.mean, scale: s.scale)
            }
        }
        var spec = OnlinePolicySpec(
            userFeatures: users, itemFeatures: [], idBuckets: idBuckets, itemDims: itemDims, slateSize: slateSize,
            exploration: exploration, learning: learning, seed: seed)
        spec.setCatalogue(catalogue)
        spec.itemScaling = itemScaling(for: catalogue)
        return spec
    }

    /// The item scaling a policy over `catalogue` starts its lineage with: each numeric column that reaches beyond
    /// ±``ItemScaling/unitScaleBound`` is centred on its mean over the recommendable items and divided by its
    /// standard deviation (1 for a constant column); every other column is read as it is. Nil when no column needs
    /// it, so a catalogue near unit scale (the simulator's, the Open Bandit Dataset's) is read exactly as before.
    public static func itemScaling(for catalogue: ItemCatalogue) -> ItemScaling? {
        var mean = [Double](repeating: 0, count: catalogue.width)
        var scale = [Double](repeating: 1, count: catalogue.width)
        var standardised = false
        for column in catalogue.numericColumnStatistics where column.maximumMagnitude > ItemScaling.unitScaleBound {
            mean[column.column] = column.mean
            scale[column.column] = column.standardDeviation > 0 ? column.standardDeviation : 1
            standardised = true
        }
        return standardised ? ItemScaling(mean: mean, scale: scale) : nil
    }

    /// Replaces the items with `catalogue`'s rows, ids and active flags: the catalogue's own buffers, shared (copy
    /// on write), so the spec adds no per-item memory to the catalogue it was set from.
    public mutating func setCatalogue(_ catalogue: ItemCatalogue) {
        itemIds = catalogue.ids
        itemActive = catalogue.active
        // The catalogue's own flat buffer (shared, not copied); it always holds count × width values.
        itemFeatures =
            ItemFeatureRows(values: catalogue.features, width: catalogue.width, count: catalogue.count)
            ?? ItemFeatureRows()
    }
}

extension OnlinePolicy {
    /// The spec's items as an ``ItemCatalogue`` (numeric columns `f0`, `f1`, …).
    static func catalogue(of spec: OnlinePolicySpec) throws(PolicyError) -> ItemCatalogue {
        let encoding = ItemEncoding(categorical: [], numeric: (0..<spec.itemWidth).map { "f\($0)" })
        do {
            return try ItemCatalogue(
                encoding: encoding, ids: spec.itemIds, features: spec.itemFeatures.values, active: spec.itemActive)
        } catch {
            throw .invalidSpec(error.description)
        }
    }

    /// The same learnt weights over another version of the catalogue (items added, retired, or re-described).
    ///
    /// Nothing learnt depends on the number of items, so the statistics carry over unchanged: an added item is
    /// scored from its features (and its id bucket's bias, 0 a priori) at once, and shares the cold-start
    /// exploration until its bucket has `cold_start_shows` events; a retired item (`active` false) is never in a
    /// slate again. The policy keeps scoring with its current coefficients.
    /// - Throws: ``PolicyError/catalogueMismatch(_:)`` when the feature width differs or a row moved (an id of the
    ///   current catalogue is not at the same row).
    public func with(catalogue next: ItemCatalogue) throws(PolicyError) -> OnlinePolicy {
        guard next.width == spec.itemWidth else {
            throw .catalogueMismatch("items have \(next.width) features, the policy was built for \(spec.itemWidth)")
        }
        if let moved = spec.itemIds.indices.first(where: { $0 >= next.count || next.ids[$0] != spec.itemIds[$0] }) {
            throw .catalogueMismatch(
                "item \(spec.itemIds[moved]) is not at row \(moved) of the new catalogue: rows never move (retire instead)")
        }
        var changed = spec
        changed.setCatalogue(next)
        return try OnlinePolicy(spec: changed, catalogue: next, statistics: statistics, coefficients: coefficients)
    }
}
