/// The catalogue-size-independent item encoding (spec version 3): an item is its catalogue features plus a hashed
/// item id, a user's history is the dwell-weighted mean of the viewed items' catalogue features, and user × item
/// interactions are explicit crosses. No column is per item, so `width` does not depend on `itemCount`.
///
/// Columns after `basic`'s, in order (``FeatureSpec/hashedColumnNames()``):
/// - `item_hash=k`, `k < itemHashBuckets`: one-hot of the item id's bucket (the hashing trick, Weinberger et al.,
///   "Feature Hashing for Large Scale Multitask Learning", 2009);
/// - `position=p`: one-hot of the slot;
/// - `user×item_hash=k`, `k < crossBuckets`: the user × item crosses, hashed into one shared table: for each
///   categorical user feature, its (feature, category, item id) triple, and for each item category column its
///   (feature, category, column, item code) tuple, each hashed into a bucket that gets +1 (crosses that share a
///   bucket add up). Exact one-hots of these pairs would grow with the vocabularies (1,400 columns on OBD);
/// - `user×item_rate=<feature>` for each categorical user feature, then `item_rate` (version 4, in place of or after
///   the cross buckets): the target-encoded crosses of `FeatureSpec+CrossRates.swift`;
/// - `viewed_item`, `interest_similarity`, `has_history`: as the `interest` event encoding;
/// - `history_item_category_c=k` and `history_<numeric>`: the pooled history, `Σ_j e_j · x_j / Σ_j e_j` over the
///   items `j` the user engaged with (`e_j` the dwell-weighted engagements of ``FeatureSpec/affinity(from:)``, `x_j`
///   the item's category one-hots and z-scored numeric features); all 0 without history.
extension FeatureSpec {
    /// How an item's identity enters the `extended` rows.
    public enum ItemIdEncoding: String, Codable, Sendable {
        /// Hashed item id, crosses and pooled history (version 3): the width does not grow with the catalogue.
        case hashed
    }

    /// Item-id hash buckets of a version-3 spec.
    public static let defaultItemHashBuckets = 64
    /// User × item cross buckets of a version-3 spec over a small catalogue.
    public static let defaultCrossBuckets = 512
    /// From this many items on, a spec is fitted without crosses by default (``defaultCrossBuckets(items:)``).
    public static let crossesBelowItems = 2_000

    /// The cross buckets `fit` uses when none are given: ``defaultCrossBuckets`` below ``crossesBelowItems`` items,
    /// 0 from there on.
    ///
    /// A cross of a user's category with an item id is per-item memorisation (the wide part of Cheng et al.'s "Wide &
    /// Deep Learning for Recommender Systems", 2016). Over 40 to 80 items its 512 buckets hold a few crosses each and
    /// carry signal (docs/BENCHMARKS.md, "Interest model"). Over a large catalogue each bucket mixes hundreds of
    /// items at random, and the model's score gains a term that is random per item: no index over the items'
    /// own columns can retrieve by it, and the 512 columns make every scored row about 25 times dearer in the
    /// d × d first layer. On the catalogue benchmark ("The pool's own RECOMMEND", 100,000 items) the spec with crosses
    /// (d = 640) kept 0.86 of the exhaustive top 10 at p99 17.5 ms, the spec without (d = 128) 1.000 at p99 7.2 ms.
    /// The model still learns user × item-category interactions from the one-hot columns through its hidden layers.
    public static func defaultCrossBuckets(items: Int) -> Int { items < crossesBelowItems ? defaultCrossBuckets : 0 }

    /// Whether the spec uses the version-3 hashed encoding.
    public var isHashed: Bool { featureSet == .extended && itemIdEncoding == .hashed }

    /// A bucket in `0..<count` for a tuple of integers: each value is folded into a SplitMix64 state and mixed with
    /// SplitMix64's finaliser (Steele, Lea and Flood, "Fast Splittable Pseudorandom Number Generators", 2014), so
    /// the bucket depends on every value and is the same on every machine and build.
    public static func bucket(_ values: [Int], count: Int) -> Int {
        var z: UInt64 = 0x5245_4350_4F4F_4C33  // "RECPOOL3"
        for value in values {
            z = (z ^ UInt64(bitPattern: Int64(value))) &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
        }
        return Int(z % UInt64(max(count, 1)))
    }

    /// The item-id bucket of `item`.
    public func itemHashBucket(_ item: Int) -> Int { Self.bucket([0, item], count: itemHashBuckets ?? 1) }

    /// The user × item-id cross bucket of user feature `feature` at category `code` (its unknown bucket included).
    public func crossBucket(feature: Int, code: Int, item: Int) -> Int {
        Self.bucket([1, feature, code, item], count: crossBuckets ?? 1)
    }

    /// The user × item-category cross bucket of user feature `feature` at `code` and item category column `column`
    /// at `itemCode`.
    public func crossBucket(feature: Int, code: Int, column: Int, itemCode: Int) -> Int {
        Self.bucket([2, feature, code, column, itemCode], count: crossBuckets ?? 1)
    }

    /// The width of one item's pooled representation: its category one-hots and numeric features.
    var pooledWidth: Int { itemCategoryCardinalities.reduce(0, +) + 1 + (itemNumericExtraScalings?.count ?? 0) }

    /// One item's catalogue representation (`pooledWidth` values): category one-hots, then z-scored numeric features.
    func itemRepresentation(_ item: Int) -> [Float] {
        var row: [Float] = []
        row.reserveCapacity(pooledWidth)
        for (c, cardinality) in itemCategoryCardinalities.enumerated() {
            let code = itemCategoryCodes[item][c]
            for k in 0..<cardinality { row.append(k == code ? 1 : 0) }
        }
        row.append(itemContinuousScaling.apply(itemContinuous[item]))
        for (c, scaling) in (itemNumericExtraScalings ?? []).enumerated() {
            row.append(scaling.apply(itemNumericExtra![item][c]))
        }
        return row
    }

    /// The version-3 column names after `basic`'s.
    func hashedColumnNames() -> [String] {
        var names = (0..<(itemHashBuckets ?? 0)).map { "item_hash=\($0)" }
        names += (0..<positionCount).map { "position=\($0)" }
        names += (0..<(crossBuckets ?? 0)).map { "user×item_hash=\($0)" }
        names += crossRateColumnNames
        names += ["viewed_item", "interest_similarity", "has_history"]
        for (c, cardinality) in itemCategoryCardinalities.enumerated() {
            names += (0..<cardinality).map { "history_item_category_\(c)=\($0)" }
        }
        names += ["history_item_continuous"] + (itemNumericExtraNames ?? []).map { "history_\($0)" }
        return names
    }

    /// Writes the version-3 columns of one row at `out[offset...]` (already zeroed).
    /// - Parameter userColumns: the active column of each user feature, as ``userColumns(_:)`` returns them.
    func writeHashed(
        userColumns: [Int], item: Int, position: Int, affinity: [Int: Double], into out: inout [Float], at offset: Int
    ) {
        var offset = offset
        out[offset + itemHashBucket(item)] = 1
        offset += itemHashBuckets ?? 0
        out[offset + min(max(position, 0), positionCount - 1)] = 1
        offset += positionCount
        let codes = zip(userColumns, userOffsets).map { $0 - $1 }
        if let buckets = crossBuckets, buckets > 0 {
            for (f, code) in codes.enumerated() {
                out[offset + crossBucket(feature: f, code: code, item: item)] += 1
                for c in itemCategoryCardinalities.indices {
                    let bucket = crossBucket(feature: f, code: code, column: c, itemCode: itemCategoryCodes[item][c])
                    out[offset + bucket] += 1
                }
            }
            offset += buckets
        }
        if hasCrossRates {
            for value in crossRateValues(codes: codes, item: item) {
                out[offset] = value
                offset += 1
            }
        }
        out[offset] = Float(min(affinity[item] ?? 0, Self.maximumEngagements) / Self.maximumEngagements)
        out[offset + 1] = Float(interestSimilarity(item: item, affinity: affinity))
        out[offset + 2] = affinity.values.contains { $0 > 0 } ? 1 : 0
        offset += 3
        let total = affinity.values.reduce(0) { $0 + max($1, 0) }
        guard total > 0 else { return }
        // Sorted, so the sum's rounding is the same whatever the dictionary's order.
        for (j, e) in affinity.sorted(by: { $0.key < $1.key }) where e > 0 && j >= 0 && j < itemCount {
            let weight = Float(e / total)
            for (k, x) in itemRepresentation(j).enumerated() { out[offset + k] += weight * x }
        }
    }
}
