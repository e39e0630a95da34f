/// Fitting a spec on training data.
extension FeatureSpec {
    /// Fits vocabularies, scalings, popularity and column order on `train` only (pass the training split).
    ///
    /// The `extended` set is hashed by default (`itemIdEncoding: .hashed`, with `itemHashBuckets` item-id buckets).
    /// Its user × item crosses are, by default, the version-4 target-encoded ones below ``crossesBelowItems`` items
    /// (`crossRates: nil` and `crossBuckets: nil`; `crossRateSmoothing` is their m-estimate weight) and none from
    /// there on (version 3). `crossBuckets: n` fits version 3's `n` hashed cross buckets instead (0: none), and
    /// `crossRates: true` or `false` forces the target-encoded crosses on or off; `crossRatePairs` bounds the (category,
    /// item) pairs the spec keeps over all user features (``maximumCrossRatePairs``; the most shown first). `itemIdEncoding: nil` fits the
    /// version-1/2 item one-hot, whose width grows with the number of items (as does `eventEncoding: .affinityZScore`).
    /// - Throws: `FeatureSpecError.emptyTrainingData`; `.noTrainingValues` for a numeric user feature blank on every
    ///   training row.
    public static func fit(
        on train: BanditDataset, featureSet: FeatureSet = .extended, engagedSeconds: Double = 10,
        popularitySmoothing: Double = 100, coldStartRule: ColdStartRule = .popularityWhenNoSignal,
        eventEncoding: EventEncoding = .interest, itemIdEncoding: ItemIdEncoding? = .hashed,
        itemHashBuckets: Int = defaultItemHashBuckets, crossBuckets: Int? = nil, crossRates: Bool? = nil,
        crossRateSmoothing: Double = defaultCrossRateSmoothing, crossRatePairs: Int = maximumCrossRatePairs
    ) throws(FeatureSpecError) -> FeatureSpec {
        guard train.rows > 0 else { throw .emptyTrainingData }
        let users = train.userFeatures
        let nUserFeatures = users.names.count
        let vocabularies: [[String]] = users.names.indices.map { column in
            let seen = Set((0..<users.rows).map { users.codes[$0 * nUserFeatures + column] })
            // A blank value is missing: it is not a category, and encodes to the unknown bucket.
            return users.categories[column].enumerated().filter {
                seen.contains(Int32($0.offset)) && !$0.element.isEmpty
            }
            .map(\.element)
        }
        let ctx = train.actionContext
        let firstNumeric = ctx.columns - train.itemNumericColumns
        let categoryColumns = Array(0..<firstNumeric)
        let itemCodes = (0..<train.nActions).map { item in categoryColumns.map { Int(ctx[item, $0]) } }
        let cardinalities = categoryColumns.map { c in (itemCodes.map { $0[c] }.max() ?? 0) + 1 }
        // Refused here, naming the column: past the limit the fitted spec could not be written, after the whole fit,
        // and the message named neither the column nor the limit.
        if let c = categoryColumns.first(where: { cardinalities[$0] > Self.maximumCategoryCardinality }) {
            throw .tooManyCategories(
                feature: c < ctx.columnNames.count ? ctx.columnNames[c] : "item feature \(c)", values: cardinalities[c],
                limit: Self.maximumCategoryCardinality)
        }
        let continuous = (0..<train.nActions).map { firstNumeric < ctx.columns ? Double(ctx[$0, firstNumeric]) : 0 }
        let extraColumns = Array((firstNumeric + 1)..<max(ctx.columns, firstNumeric + 1))
        let extra = (0..<train.nActions).map { item in extraColumns.map { Double(ctx[item, $0]) } }
        var shows = [Double](repeating: 0, count: train.nActions)
        var clicks = [Double](repeating: 0, count: train.nActions)
        for row in 0..<train.rows {
            shows[train.action[row]] += 1
            // A click, as the model's targets count it: a reward log's amounts would make the prior, a click rate,
            // exceed 1.
            if BanditDataset.isClick(reward: train.reward[row]) { clicks[train.action[row]] += 1 }
        }
        let ctr = clicks.reduce(0, +) / Double(train.rows)
        var spec = FeatureSpec(
            featureSet: featureSet, userFeatureNames: users.names, userVocabularies: vocabularies,
            itemCount: train.nActions, positionCount: train.nPositions, itemCategoryCodes: itemCodes,
            itemCategoryCardinalities: cardinalities, itemContinuous: continuous,
            itemContinuousScaling: ZScore(fitting: train.action.map { continuous[$0] }),
            affinityScaling: ZScore(
                fitting: (0..<train.rows).map { Double(train.affinity.value($0, train.action[$0])) }),
            engagedSeconds: engagedSeconds,
            popularity: (0..<train.nActions).map {
                (clicks[$0] + popularitySmoothing * ctr) / (shows[$0] + popularitySmoothing)
            },
            popularitySmoothing: popularitySmoothing, coldStartRule: coldStartRule, columns: [],
            eventEncoding: eventEncoding == .affinityZScore ? nil : eventEncoding)
        if train.userNumeric.columns > 0 {
            let numeric = train.userNumeric
            spec.userNumericNames = numeric.columnNames
            var scalings: [ZScore] = []
            for c in 0..<numeric.columns {
                // A missing value (NaN: a blank cell) is left out of the fit; it is scored as the mean.
                let present = (0..<numeric.rows).map { train.userNumericRaw[$0 * numeric.columns + c] }.filter(\.isFinite)
                // With no value there is no mean: a scaling of 0 ± 1 would pass later values in raw.
                guard !present.isEmpty else { throw .noTrainingValues(feature: numeric.columnNames[c]) }
                scalings.append(ZScore(fitting: present))
            }
            spec.userNumericScalings = scalings
        }
        if !extraColumns.isEmpty {
            spec.itemNumericExtra = extra
            spec.itemNumericExtraNames = extraColumns.map { ctx.columnNames[$0] }
            spec.itemNumericExtraScalings = extraColumns.indices.map { c in
                ZScore(fitting: train.action.map { extra[$0][c] })
            }
        }
        if spec.userNumericNames != nil || spec.itemNumericExtra != nil || spec.eventEncoding != nil { spec.version = 2 }
        // The z-scored affinity is the version-1 event encoding: it keeps the version-1 item one-hot.
        if featureSet == .extended, eventEncoding == .interest, let encoding = itemIdEncoding {
            spec.itemIdEncoding = encoding
            spec.itemHashBuckets = max(1, itemHashBuckets)
            let rates = crossRates ?? (crossBuckets == nil && train.nActions < crossesBelowItems)
            spec.crossBuckets = max(0, crossBuckets ?? (rates ? 0 : defaultCrossBuckets(items: train.nActions)))
            spec.eventEncoding = .interest
            spec.version = 3
            if rates {
                spec.fitCrossRates(on: train, smoothing: crossRateSmoothing, maximumPairs: crossRatePairs)
                spec.version = 4
            }
        }
        spec.itemIds = train.itemIds
        spec.positionValues = train.positionValues
        spec.columns = spec.columnNames()
        // Every column a name of its own, and none named `label`: the matrix `data features` writes must be one `fit`
        // and `predict` read by its header.
        var seen = Set<String>()
        for name in spec.columns {
            if name == "label" || !seen.insert(name).inserted { throw .collidingColumn(name: name) }
        }
        return spec
    }

    func columnNames() -> [String] {
        var names: [String] = []
        for (feature, vocabulary) in zip(userFeatureNames, userVocabularies) {
            names += vocabulary.map { "\(feature)=\($0)" } + ["\(feature)=<unknown>"]
        }
        names += userNumericNames ?? []
        for (c, cardinality) in itemCategoryCardinalities.enumerated() {
            names += (0..<cardinality).map { "item_category_\(c)=\($0)" }
        }
        names.append("item_continuous")
        names += itemNumericExtraNames ?? []
        if isHashed {
            names += hashedColumnNames()
        } else if featureSet == .extended {
            names += (0..<itemCount).map { "item=\($0)" }
            names += (0..<positionCount).map { "position=\($0)" }
            switch events {
            case .affinityZScore: names += ["shown_item_affinity", "has_history"]
            case .interest: names += ["viewed_item", "interest_similarity", "has_history"]
            }
        }
        return names
    }
}
