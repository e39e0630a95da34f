import RecModel

/// One raw example as both training and serving see it.
public struct RawExample: Sendable, Equatable {
    /// User features by name; missing or unseen values fall into the unknown bucket.
    public var userFeatures: [String: String]
    /// The item shown (or to score).
    public var item: Int
    /// The slot, 0-based.
    public var position: Int
    /// Past engagements per item (OBD's user-item affinity); empty for a cold-start user.
    public var affinity: [Int: Double]

    /// Creates an example.
    public init(userFeatures: [String: String], item: Int, position: Int, affinity: [Int: Double]) {
        self.userFeatures = userFeatures
        self.item = item
        self.position = position
        self.affinity = affinity
    }
}

/// Applying a spec. The same code runs for training rows and for serving requests.
extension FeatureSpec {
    /// Column offset of each user feature's first category.
    var userOffsets: [Int] {
        var offsets: [Int] = []
        var offset = 0
        for vocabulary in userVocabularies {
            offsets.append(offset)
            offset += vocabulary.count + 1
        }
        return offsets
    }

    /// Per user feature, the active column index (known category or unknown bucket). A value is read as a log's cell
    /// is (``BlankText/canonical(_:)``): ` android ` is `android`, and a blank value the log's blank one.
    public func userColumns(_ features: [String: String]) -> [Int] {
        zip(userOffsets, zip(userFeatureNames, userVocabularies)).map { offset, entry in
            let (name, vocabulary) = entry
            if let value = features[name], let index = Self.index(of: BlankText.canonical(value), in: vocabulary) {
                return offset + index
            }
            return offset + vocabulary.count
        }
    }

    /// Whether any user feature value is known to the spec: a category seen in training, or a numeric value (each read
    /// as a log's cell is: ``BlankText/canonical(_:)``, ``CSVNumber/double(_:)``).
    public func knowsAnyFeature(_ features: [String: String]) -> Bool {
        zip(userFeatureNames, userVocabularies).contains { name, vocabulary in
            features[name].map { Self.index(of: BlankText.canonical($0), in: vocabulary) != nil } ?? false
        } || (userNumericNames ?? []).contains { features[$0].flatMap(CSVNumber.double)?.isFinite ?? false }
    }

    /// Every user feature name the spec reads: the categorical ones, then the numeric ones.
    public var allUserFeatureNames: [String] { userFeatureNames + (userNumericNames ?? []) }

    /// The z-scored numeric user features of one user, in `userNumericNames` order; a missing value, or one that is
    /// not a finite number, is the training mean (0).
    public func userNumericValues(_ features: [String: String]) -> [Float] {
        userNumericValues(numbers: features.compactMapValues { CSVNumber.double($0) })
    }

    /// The z-scored numeric user features of values already read as 64-bit numbers (a log's rows,
    /// `BanditDataset.userNumericRaw`); a missing or non-finite one is 0, as in ``userNumericValues(_:)``, which
    /// parses a request's text the way a log's cell is parsed (`CSVNumber.double`), so both give the same bits.
    public func userNumericValues(numbers: [String: Double]) -> [Float] {
        zip(userNumericNames ?? [], userNumericScalings ?? []).map { name, scaling in
            guard let value = numbers[name], value.isFinite else { return 0 }
            return scaling.apply(value)
        }
    }

    static func index(of value: String, in sorted: [String]) -> Int? {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if CategoricalColumns.precedes(sorted[mid], value) { low = mid + 1 } else { high = mid }
        }
        if low < sorted.count && sorted[low] == value { return low }
        // The same value in another Unicode form (`ö` as U+00F6 or as `o` + U+0308): training's codes are keyed by
        // Swift's `==`, which calls the two equal, so the binary search by scalars must not call it unknown.
        if let equivalent = sorted.firstIndex(where: { $0 == value }) { return equivalent }
        // A vocabulary stored before values were read without surrounding white space (a checkpoint fitted on
        // `a, b, c` cells holds ` android`): its entry still matches the trimmed value.
        return sorted.firstIndex { $0 != BlankText.canonical($0) && BlankText.canonical($0) == value }
    }

    /// Appends one example's `width` values to `out`.
    public func append(_ example: RawExample, to out: inout [Float]) {
        append(
            userColumns: userColumns(example.userFeatures), userNumeric: userNumericValues(example.userFeatures),
            item: example.item, position: example.position, affinity: example.affinity, to: &out)
    }

    func append(
        userColumns: [Int], userNumeric: [Float], item: Int, position: Int, affinity: [Int: Double],
        to out: inout [Float]
    ) {
        let start = out.count
        // One memset even in a debug build, where appending a `repeatElement` walks it one generic step a value.
        out += [Float](repeating: 0, count: width)
        write(
            userColumns: userColumns, userNumeric: userNumeric, item: item, position: position, affinity: affinity,
            into: &out, at: start)
    }

    /// Writes one example's `width` values into `out[start..<start + width]`, which must hold zeros.
    func write(
        userColumns: [Int], userNumeric: [Float], item: Int, position: Int, affinity: [Int: Double],
        into out: inout [Float], at start: Int
    ) {
        for column in userColumns { out[start + column] = 1 }
        var offset = userVocabularies.reduce(0) { $0 + $1.count + 1 }
        for (k, value) in userNumeric.enumerated() { out[start + offset + k] = value }
        offset += userNumeric.count
        for (c, cardinality) in itemCategoryCardinalities.enumerated() {
            let code = itemCategoryCodes[item][c]
            if code >= 0 && code < cardinality { out[start + offset + code] = 1 }
            offset += cardinality
        }
        out[start + offset] = itemContinuousScaling.apply(itemContinuous[item])
        offset += 1
        if let extra = itemNumericExtra, let scalings = itemNumericExtraScalings {
            for (c, scaling) in scalings.enumerated() { out[start + offset + c] = scaling.apply(extra[item][c]) }
            offset += scalings.count
        }
        guard featureSet == .extended else { return }
        if isHashed {
            return writeHashed(
                userColumns: userColumns, item: item, position: position, affinity: affinity, into: &out,
                at: start + offset)
        }
        out[start + offset + item] = 1
        offset += itemCount
        out[start + offset + min(max(position, 0), positionCount - 1)] = 1
        offset += positionCount
        switch events {
        case .affinityZScore:
            out[start + offset] = affinityScaling.apply(affinity[item] ?? 0)
            offset += 1
        case .interest:
            out[start + offset] = Float(min(affinity[item] ?? 0, Self.maximumEngagements) / Self.maximumEngagements)
            out[start + offset + 1] = Float(interestSimilarity(item: item, affinity: affinity))
            offset += 2
        }
        out[start + offset] = affinity.values.contains { $0 > 0 } ? 1 : 0
    }

    /// The share of the user's engagement that went to items like `item`: with `e_j` the engagements with item `j`
    /// and `C` the item category columns, `(1/|C|) Σ_c Σ_j e_j [code_c(j) = code_c(item)] / Σ_j e_j`, in [0, 1];
    /// 0 without engagement. The item itself counts (a viewed item is like itself in every column).
    public func interestSimilarity(item: Int, affinity: [Int: Double]) -> Double {
        let total = affinity.values.reduce(0) { $0 + max($1, 0) }
        guard total > 0, !itemCategoryCardinalities.isEmpty else { return 0 }
        var share = 0.0
        for c in itemCategoryCardinalities.indices {
            let code = itemCategoryCodes[item][c]
            for (j, e) in affinity where e > 0 && j >= 0 && j < itemCount && itemCategoryCodes[j][c] == code {
                share += e
            }
        }
        return min(1, share / total / Double(itemCategoryCardinalities.count))
    }

    /// The feature matrix of logged rows (each row's shown item and slot), e.g. to train a click model.
    public func matrix(_ data: BanditDataset) -> FeatureMatrix {
        var values = [Float](repeating: 0, count: data.rows * width)
        let names = data.userFeatures.names
        for row in 0..<data.rows {
            var features: [String: String] = [:]
            for (c, name) in names.enumerated() { features[name] = data.userFeatures.value(row, c) }

            let affinity = Dictionary(
                uniqueKeysWithValues: data.affinity.entries(row).map { ($0.column, Double($0.value)) })
            write(
                userColumns: userColumns(features), userNumeric: userNumericValues(numbers: data.userNumericRawValues(row)),
                item: data.action[row],
                position: data.position[row], affinity: affinity, into: &values, at: row * width)
        }
        return FeatureMatrix(rows: data.rows, columnNames: columns, values: values)
    }

    /// Rows for scoring `items` for one user at one slot (serving, ranking metrics).
    public func candidateRows(userFeatures: [String: String], affinity: [Int: Double], items: [Int], position: Int)
        -> [Float]
    {
        let active = userColumns(userFeatures)
        let numeric = userNumericValues(userFeatures)
        var values = [Float](repeating: 0, count: items.count * width)
        for (row, item) in items.enumerated() {
            write(
                userColumns: active, userNumeric: numeric, item: item, position: position, affinity: affinity,
                into: &values, at: row * width)
        }
        return values
    }

    /// The affinity vector of a new user's events. A view shorter than `engagedSeconds` is a glance and counts
    /// nothing. With the `interest` encoding a longer view counts `min(seconds / engagedSeconds, 3)` engagements
    /// (weighted by dwell, so 30 s on an item says more than 10 s); with the old `affinityZScore` encoding it counts
    /// one.
    public func affinity(from events: [ViewEvent]) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for event in events where event.seconds >= engagedSeconds {
            let weight =
                self.events == .interest ? min(event.seconds / engagedSeconds, Self.maximumEngagements) : 1
            out[event.item, default: 0] += weight
        }
        return out
    }
}
