import Foundation

/// Everything that turns raw user context and an item into model input, fitted once on the training split and
/// shipped with the model, so that training and serving cannot disagree (no train/serve skew).
///
/// It holds the vocabularies of the categorical user features (each with an extra "unknown" bucket for values
/// never seen in training, or missing), the item table, z-score statistics, the column order, the dwell time that
/// makes a view count as an engagement, and a popularity prior for users the model knows nothing about.
/// It is `Codable` and travels as opaque JSON bytes (`encoded()` / `decode(_:)`) in the model checkpoint's
/// `featureSpec` blob.
///
/// Columns (see `columns`):
/// - `basic`: for each categorical user feature, one-hot over its training categories plus `unknown`; each numeric
///   user feature z-scored (0 when missing); for each item category column, one-hot over its codes; the item's
///   numeric features, z-scored.
/// - `extended` (for the MLP), version 4 (the default below 2,000 items): `basic`, then a hashed item id, position,
///   target-encoded user × item crosses (`FeatureSpec+CrossRates.swift`), the `interest` event columns and the pooled
///   history (see `FeatureSpec+Hashed.swift`); no column is per item, so the width does not grow with the catalogue.
/// - `extended`, version 3 (the default from 2,000 items on, without crosses; and specs fitted before version 4):
///   the same with hashed user × item cross buckets, or none, in place of the target-encoded crosses.
/// - `extended`, versions 1 and 2 (checkpoints written before version 3, still read and scored unchanged): `basic`,
///   then item one-hot, position one-hot, then the event columns of
///   ``eventEncoding``: `interest` (specs fitted now) gives `viewed_item` (the user's engagements with this item,
///   capped at ``maximumEngagements`` and divided by it, in [0, 1]), `interest_similarity` (how much of the user's
///   dwell-weighted engagement went to items sharing this item's categories, in [0, 1]) and `has_history`; specs
///   written before it (no `eventEncoding` key) keep `shown_item_affinity` (z-scored) and `has_history`.
///
/// The numeric user features, the item's numeric features after the first and the event encoding are optional
/// fields, absent from the JSON of specs written before they existed, so such a spec decodes unchanged.
public struct FeatureSpec: Codable, Sendable, Equatable {
    /// Which columns to produce.
    public enum FeatureSet: String, Codable, Sendable, CaseIterable {
        /// User one-hot with unknown buckets, item category one-hot, item continuous feature.
        case basic
        /// `basic` plus item one-hot, position one-hot, shown-item affinity and a has-history flag.
        case extended
    }

    /// How viewed items (serving) and past clicks (training, OBD's affinity) become model inputs.
    public enum EventEncoding: String, Codable, Sendable {
        /// The shown item's affinity z-scored over training impressions, and a has-history flag. Before `interest`;
        /// a single view lands far outside the training range (on OBD, about 16 standard deviations), where the
        /// network extrapolates arbitrarily: a viewed item could sink to the bottom of the ranking.
        case affinityZScore = "affinity_zscore"
        /// Bounded columns in [0, 1]: `viewed_item`, `interest_similarity` and `has_history` (see `FeatureSpec`).
        case interest
    }

    /// When `Recommender` answers from the popularity prior instead of the model.
    public enum ColdStartRule: String, Codable, Sendable {
        /// Only when the user has no engaged event and no known user-feature value: the model has no signal.
        case popularityWhenNoSignal = "popularity_when_no_signal"
        /// Whenever the user has no engaged event, whatever their features.
        case popularityWhenNoHistory = "popularity_when_no_history"
    }

    /// `(x − mean) / std`, or 0 for every value when the training values had no spread (``constant``).
    public struct ZScore: Codable, Sendable, Equatable {
        /// Training mean.
        public var mean: Double
        /// Training standard deviation (population), or 1 when it was zero.
        public var std: Double
        /// True when the training values had no spread (a constant column): ``apply(_:)`` gives 0 for every value,
        /// the training rows' value, since the network never saw the column move. Absent (nil) otherwise, and in specs
        /// written before it, whose constant columns gave `x − mean` (at serving, a value the network was never trained
        /// on reached it unscaled); those are scored as before.
        public var constant: Bool?

        /// Fits mean and standard deviation over the values shifted by the first one (the shifted-data algorithm;
        /// Chan, Golub and LeVeque, "Algorithms for computing the sample variance", The American Statistician 37(3),
        /// 1983), so a constant column's mean is its value exactly and its spread exactly 0, however large the value:
        /// summed unshifted, 60 rows of `1234567.1` have a mean one rounding off and a spread of 7e-10, which z-scores
        /// every row to −1 instead of 0. A spread of at most 1 unit in the last place of the mean (values 1 or 2 ulps
        /// apart: rounding noise, which z-scoring would blow up to ±1) counts as 0; Unix nanoseconds 1 µs apart (about
        /// 4 ulps near 1.7e18) are z-scored (a relative floor of 1e-12 once took them for a constant and fed their raw
        /// deviations to the network, and 8 ulps, the floor until 6 December 2026, took two such values for one).
        /// The spread is summed over deviations divided by the largest one, so a feature measured in tiny units
        /// (values 0 and 1e-13) keeps its own scale: an absolute floor on the variance (1e-24) once set its std to 1
        /// and fed the network 5e-14, which trained as a constant; and so does a spread whose squares overflow (values
        /// ±1e200). A spread below Float32's smallest normal number (1.2e-38), which an exported model's Float32 divisor
        /// cannot hold, counts as 0 too.
        public init(fitting values: [Double]) {
            let n = Double(max(values.count, 1))
            let shift = values.first ?? 0
            let offset = values.reduce(0) { $0 + ($1 - shift) } / n
            mean = shift + offset
            // Summed directly, as specs were always fitted (the same bits for every feature of a usual scale); only a
            // variance that squaring took below 1e-24 or past the largest double is summed again over deviations
            // divided by the largest one.
            let variance = values.reduce(0) { $0 + ($1 - shift - offset) * ($1 - shift - offset) } / n
            var spread = variance.squareRoot()
            let largest = values.reduce(0) { max($0, abs($1 - shift - offset)) }
            if variance <= 1e-24 || !variance.isFinite, largest > 0, largest.isFinite {
                let scaled = values.reduce(0) { sum, x in
                    let d = (x - shift - offset) / largest
                    return sum + d * d
                }
                spread = largest * (scaled / n).squareRoot()
            }
            let spreads = spread.isFinite && spread >= Double(Float.leastNormalMagnitude) && spread > abs(mean).ulp
            std = spreads ? spread : 1
            constant = spreads ? nil : true
        }

        /// `x` itself: mean 0, std 1.
        public static let identity = ZScore(mean: 0, std: 1)

        private init(mean: Double, std: Double) {
            self.mean = mean
            self.std = std
        }

        /// Applies the transform: `(x − mean) / std`, or 0 for a ``constant`` column.
        public func apply(_ x: Double) -> Float { constant == true ? 0 : Float((x - mean) / std) }

        /// The largest `|x − mean| / std` a served request may carry (10¹⁵; a feature constant in training in a spec
        /// written before ``constant`` has std 1, so this bounds raw values too; a ``constant`` one admits any finite
        /// value, all read as 0): unbounded, a value reaches the network as an infinite `Float` and every score
        /// becomes NaN.
        public static let maximumStandardScore = 1e15

        /// Whether `x` is a value a request may carry: finite and, unless the column is ``constant``, within
        /// ``maximumStandardScore`` of the mean.
        public func admits(_ x: Double) -> Bool {
            if constant == true { return x.isFinite }
            let z = (x - mean) / std
            return x.isFinite && z.isFinite && abs(z) <= Self.maximumStandardScore
        }
    }

    /// Format version of the JSON: 1, or 2 when the spec has numeric user features, more than one numeric item
    /// feature or an ``eventEncoding``, 3 with the hashed item encoding (``itemIdEncoding``), or 4 with the
    /// target-encoded crosses (``crossRates``), so a build that predates them refuses the spec instead of producing
    /// rows of the wrong width. This build reads 1 to 4 and scores a version 1 to 3 spec exactly as before.
    public var version: Int = 1

    /// The newest format version this build reads.
    public static let newestVersion = 4
    /// Which columns to produce.
    public var featureSet: FeatureSet
    /// User feature names, in column order.
    public var userFeatureNames: [String]
    /// For each user feature, the categories seen in training, sorted; the unknown bucket follows them.
    public var userVocabularies: [[String]]
    /// Number of items; items are `0..<itemCount`.
    public var itemCount: Int
    /// Number of positions.
    public var positionCount: Int
    /// Per item, its label code in each item category column.
    public var itemCategoryCodes: [[Int]]
    /// Number of codes in each item category column.
    public var itemCategoryCardinalities: [Int]
    /// Per item, its first numeric feature (raw; all 0 when the catalogue has no numeric feature).
    public var itemContinuous: [Double]
    /// z-score of the continuous item feature over training impressions.
    public var itemContinuousScaling: ZScore
    /// z-score of the shown item's affinity over training impressions (extended only).
    public var affinityScaling: ZScore
    /// A view at least this long counts as one engagement (one past click) in the affinity vector.
    public var engagedSeconds: Double
    /// Per item, the smoothed training click rate `(clicks + m·ctr) / (shows + m)`.
    public var popularity: [Double]
    /// Smoothing weight `m` of the popularity prior.
    public var popularitySmoothing: Double
    /// When to answer from the popularity prior.
    public var coldStartRule: ColdStartRule
    /// Column names, in order; `width == columns.count`.
    public var columns: [String]
    /// Numeric user features by name, z-scored after the categorical user columns (`nil`: none, as for OBD).
    public var userNumericNames: [String]?
    /// The training z-score of each numeric user feature, in `userNumericNames` order.
    public var userNumericScalings: [ZScore]?
    /// Numeric item features after the first (`itemContinuous`), per item, raw (`nil`: none, as for OBD).
    public var itemNumericExtra: [[Double]]?
    /// The training z-score of each column of `itemNumericExtra`, over training impressions.
    public var itemNumericExtraScalings: [ZScore]?
    /// The names of `itemNumericExtra`'s columns, for `columns`.
    public var itemNumericExtraNames: [String]?
    /// The event encoding; nil (a spec written before it existed) means `affinityZScore`.
    public var eventEncoding: EventEncoding? = nil
    /// How the `extended` set encodes the item id: nil (versions 1 and 2) is the item one-hot, whose width grows with
    /// the catalogue; `hashed` (version 3) is ``FeatureSpec/ItemIdEncoding/hashed``.
    public var itemIdEncoding: ItemIdEncoding? = nil
    /// Item-id hash buckets (version 3).
    public var itemHashBuckets: Int? = nil
    /// User × item-id cross buckets (version 3; 0 leaves the crosses out).
    public var crossBuckets: Int? = nil
    /// Version 4: per categorical user feature, its training counts per (category, item) pair, for the target-encoded
    /// crosses (``CrossRateTable``, `FeatureSpec+CrossRates.swift`); nil without them.
    public var crossRates: [CrossRateTable]? = nil
    /// Version 4: the m-estimate weight of the cross rates.
    public var crossRateSmoothing: Double? = nil
    /// Version 4: the z-score of the `item_rate` column, the logit of ``popularity``.
    public var itemRateScaling: ZScore? = nil
    /// Each item's id in the catalogue the spec was fitted on (`itemIds[k]` is row `k`'s), when the log was read with
    /// one (``BanditDataset/itemIds``); nil for generated data and specs fitted before it was kept. Per-row statistics
    /// (popularity, cross rates, the id hash) belong to these items: two items with the same catalogue features in
    /// swapped rows are told apart by it (`CheckpointEvaluation.check`).
    public var itemIds: [String]? = nil
    /// The logged slot value each position stands for (``BanditDataset/positionValues``), when the spec was fitted on a
    /// log read with a schema; nil otherwise (positions are then the slots). Another log's slots are mapped to the
    /// model's positions by these.
    public var positionValues: [Int]? = nil

    /// The event encoding in force.
    public var events: EventEncoding { eventEncoding ?? .affinityZScore }

    /// Engagements with one item beyond this count no more (`viewed_item` is `min(e, 3) / 3`), and one view counts at
    /// most this many engagements however long it lasted.
    public static let maximumEngagements = 3.0

    /// Number of model inputs.
    public var width: Int { columns.count }

    /// The JSON bytes stored in a checkpoint (keys sorted, so equal specs give equal bytes).
    /// - Throws: ``FeatureSpecError/notEncodable(_:)`` when a fitted statistic is not finite (the loaders refuse
    ///   values outside a 32-bit float's range, so this names a fault, never a crash), or when the spec has a
    ///   ``shapeProblem`` that ``decode(_:)`` would refuse: nothing is written that cannot be read back.
    public func encoded() throws(FeatureSpecError) -> [UInt8] {
        if let problem = shapeProblem { throw .notEncodable("it would not load back: \(problem)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw .notEncodable("a statistic is not finite: \(error)")
        }
    }

    /// Decodes a spec from checkpoint bytes.
    /// - Throws: `FeatureSpecError.malformed` when the bytes are not a spec of a supported version.
    public static func decode(_ bytes: [UInt8]) throws(FeatureSpecError) -> FeatureSpec {
        let spec: FeatureSpec
        do {
            spec = try JSONDecoder().decode(FeatureSpec.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw .malformed("the key \(key.stringValue) is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            // An empty path is the document itself: `null`, a number or an array where a spec's object belongs.
            throw .malformed(path.isEmpty ? "the document is not a JSON object" : "\(path) has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw .malformed(
                "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
        } catch {
            // Valid JSON whose value does not fit its field (`"version": 2.5` into an integer, a count beyond Int):
            // say so, never "not JSON".
            if !bytes.isEmpty, (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil {
                throw .malformed(
                    "a value does not fit its field (a fraction or a number out of range where an integer belongs)")
            }
            throw .malformed(bytes.isEmpty ? "the file is empty" : "not JSON")
        }
        guard (1...newestVersion).contains(spec.version) else { throw .unsupportedVersion(spec.version) }
        if spec.itemIdEncoding != nil && spec.version < 3 {
            throw .malformed("a version \(spec.version) spec cannot use the hashed item encoding (version 3)")
        }
        if spec.crossRates != nil && spec.version < 4 {
            throw .malformed("a version \(spec.version) spec cannot hold cross rates (version 4)")
        }
        if let problem = spec.shapeProblem { throw .malformed(problem) }
        return spec
    }

    /// The most slots a spec may have (as many as a model has inputs).
    public static let maximumPositions = 65_536
    /// The most hash buckets of either kind (item id, user × item cross) a spec may have.
    public static let maximumHashBuckets = 1 << 20
    /// The largest cardinality of an item category column (its one-hot width). Codes need not be dense (the
    /// simulator's are a topic index and `item mod 5`), so a catalogue of 3 items may have a column of 6 codes.
    public static let maximumCategoryCardinality = 65_536

    /// Why the spec's sizes and arrays cannot describe one catalogue and one set of columns, or `nil`: counts out of
    /// range, per-item arrays that are not `itemCount` long, item codes outside their cardinality, or `columns`
    /// other than the ones the other fields define. A checkpoint is untrusted input: without this a spec claiming
    /// `Int.max` items or slots would overflow the transform's arithmetic instead of being refused.
    public var shapeProblem: String? { shapeProblem(checkingColumns: true) }

    /// ``shapeProblem``, optionally without comparing `columns` with the fields (the ONNX export names a column it
    /// cannot write more precisely).
    func shapeProblem(checkingColumns: Bool) -> String? {
        guard itemCount > 0, (1...Self.maximumPositions).contains(positionCount) else {
            return "the spec has \(itemCount) items and \(positionCount) slots (1...\(Self.maximumPositions))"
        }
        guard userVocabularies.count == userFeatureNames.count else {
            return "userVocabularies does not match userFeatureNames"
        }
        guard (userNumericScalings?.count ?? 0) == (userNumericNames?.count ?? 0) else {
            return "userNumericScalings does not match userNumericNames"
        }
        // Bounded: a cardinality builds that many column names below.
        guard itemCategoryCardinalities.allSatisfy({ (0...Self.maximumCategoryCardinality).contains($0) }),
            itemCategoryCodes.count == itemCount,
            itemCategoryCodes.allSatisfy({ codes in
                codes.count == itemCategoryCardinalities.count
                    && zip(codes, itemCategoryCardinalities).allSatisfy { $0 >= 0 && $0 < $1 }
            })
        else { return "itemCategoryCodes is not itemCount rows of codes within itemCategoryCardinalities" }
        guard itemContinuous.count == itemCount else { return "itemContinuous does not have itemCount values" }
        guard popularity.count == itemCount else { return "popularity does not have itemCount values" }
        guard itemIds.map({ $0.count == itemCount }) ?? true else { return "itemIds does not have itemCount ids" }
        guard positionValues.map({ $0.count == positionCount && zip($0, $0.dropFirst()).allSatisfy { $0 < $1 } }) ?? true
        else { return "positionValues is not positionCount increasing slot values" }
        let extra = itemNumericExtraScalings?.count ?? 0
        guard (itemNumericExtraNames?.count ?? 0) == extra,
            extra == 0 || (itemNumericExtra?.count == itemCount && itemNumericExtra?.allSatisfy { $0.count == extra } == true)
        else { return "itemNumericExtra, itemNumericExtraScalings and itemNumericExtraNames disagree" }
        if isHashed {
            guard (1...Self.maximumHashBuckets).contains(itemHashBuckets ?? 0),
                (0...Self.maximumHashBuckets).contains(crossBuckets ?? 0)
            else { return "hash buckets out of range: \(itemHashBuckets ?? 0) item, \(crossBuckets ?? 0) cross" }
        }
        if let problem = crossRateProblem { return problem }
        if let problem = statisticsProblem { return problem }
        guard !checkingColumns || columns == columnNames() else {
            return "columns (\(columns.count)) are not the ones the spec's fields define (\(columnNames().count))"
        }
        return nil
    }
}

extension FeatureSpec {
    /// Why a fitted statistic is one no fit gives, or `nil`. A checkpoint is untrusted input, and each of these scores
    /// silently wrong rather than failing: a standard deviation of 0, negative or not finite (every z-score infinite,
    /// NaN or of the wrong sign), a negative popularity (the cold-start answer ranks by it), a
    /// negative smoothing weight, an `engagedSeconds` that is not positive (every glance, or no view, is an
    /// engagement; 0 divides 0 s by 0), a raw item value that is not finite, or a vocabulary out of order or with a
    /// category twice (the transform finds a category by binary search: out of order, a known value falls into the
    /// unknown bucket).
    var statisticsProblem: String? {
        var scalings: [(String, ZScore)] = [
            ("itemContinuousScaling", itemContinuousScaling), ("affinityScaling", affinityScaling),
        ]
        scalings += (userNumericScalings ?? []).enumerated().map { ("userNumericScalings[\($0)]", $1) }
        scalings += (itemNumericExtraScalings ?? []).enumerated().map { ("itemNumericExtraScalings[\($0)]", $1) }
        scalings += (crossRates ?? []).enumerated().map { ("crossRates[\($0)].scaling", $1.scaling) }
        scalings += itemRateScaling.map { [("itemRateScaling", $0)] } ?? []
        for (name, scaling) in scalings where !(scaling.mean.isFinite && scaling.std.isFinite && scaling.std > 0) {
            return "\(name) has mean \(scaling.mean) and std \(scaling.std): a standard deviation is positive and finite"
        }
        // A fit reads a spread below a 32-bit float's smallest normal as a constant column (`ZScore(fitting:)`): such a
        // std z-scores any other value to ±infinity, and rounded to float32 (an exported graph's) it is 0.
        for (name, scaling) in scalings where scaling.constant != true && scaling.std < Double(Float.leastNormalMagnitude) {
            return "\(name) has std \(scaling.std), below \(Float.leastNormalMagnitude) (a 32-bit float's smallest "
                + "normal), which a fit marks constant: a standard deviation no fit gives"
        }
        // A fit's mean is of 32-bit values: one beyond their range standardises every value to ±infinity in the float32
        // model input (an exported graph scored NaN for every item).
        for (name, scaling) in scalings where scaling.constant != true && abs(scaling.mean) > Double(Float.greatestFiniteMagnitude) {
            return "\(name) has mean \(scaling.mean), beyond a 32-bit float's range (±\(Float.greatestFiniteMagnitude)): a mean "
                + "no fit gives"
        }
        // Nor a spread beyond it: an exported graph's float32 divisor is then infinite, every value standardised to 0.
        for (name, scaling) in scalings where scaling.std > Double(Float.greatestFiniteMagnitude) {
            return "\(name) has std \(scaling.std), beyond a 32-bit float's range (\(Float.greatestFiniteMagnitude)): a "
                + "standard deviation no fit gives"
        }
        if let problem = ownValuesProblem { return problem }
        // Finite and 0 or more: a fit before this build summed a reward log's amounts into it (above 1), and such
        // checkpoints still score; the cold-start answer ranks by it.
        if let (item, rate) = popularity.enumerated().first(where: { !($0.element.isFinite && $0.element >= 0) }) {
            return "popularity[\(item)] is \(rate): a smoothed click rate is finite and 0 or more"
        }
        guard popularitySmoothing.isFinite, popularitySmoothing >= 0 else {
            return "popularitySmoothing is \(popularitySmoothing): a smoothing weight is finite and 0 or more"
        }
        guard engagedSeconds.isFinite, engagedSeconds > 0 else {
            return "engagedSeconds is \(engagedSeconds): a dwell time is finite and positive"
        }
        if let item = itemContinuous.indices.first(where: { !itemContinuous[$0].isFinite }) {
            return "itemContinuous[\(item)] is not finite"
        }
        if let item = (itemNumericExtra ?? []).indices.first(where: { !itemNumericExtra![$0].allSatisfy(\.isFinite) }) {
            return "itemNumericExtra[\(item)] holds a value that is not finite"
        }
        for (name, vocabulary) in zip(userFeatureNames, userVocabularies) {
            if let index = vocabulary.indices.dropFirst().first(where: {
                !CategoricalColumns.precedes(vocabulary[$0 - 1], vocabulary[$0])
            }) {
                return "the vocabulary of \(name) is not in order or names a category twice ('\(vocabulary[index - 1])', "
                    + "then '\(vocabulary[index])')"
            }
        }
        return nil
    }
}

extension FeatureSpec {
    /// Why a value the spec itself standardises (an item's numeric value, a cross rate's lift, an item rate's log-odds)
    /// would reach the model beyond ``ZScore/maximumStandardScore``, or `nil`: a request's values are refused there
    /// (``ZScore/admits(_:)``), but these come from the spec, so every score of the item was infinite or NaN (an
    /// exported graph scored NaN for every item while `eval` refused the same checkpoint).
    var ownValuesProblem: String? {
        func outside(_ value: Double, _ scaling: ZScore) -> Bool { !value.isFinite || !scaling.admits(value) }
        func describe(_ what: String, _ value: Double, _ name: String, _ scaling: ZScore) -> String {
            "\(what) is \(value), which \(name) (mean \(scaling.mean), std \(scaling.std)) standardises beyond "
                + "±\(ZScore.maximumStandardScore): statistics and values no fit gives"
        }
        if let item = itemContinuous.indices.first(where: { outside(itemContinuous[$0], itemContinuousScaling) }) {
            return describe("itemContinuous[\(item)]", itemContinuous[item], "itemContinuousScaling", itemContinuousScaling)
        }
        if let extra = itemNumericExtra, let scalings = itemNumericExtraScalings {
            for (item, row) in extra.enumerated() {
                for (column, value) in row.enumerated() where column < scalings.count && outside(value, scalings[column]) {
                    return describe(
                        "itemNumericExtra[\(item)][\(column)]", value, "itemNumericExtraScalings[\(column)]", scalings[column])
                }
            }
        }
        if let tables = crossRates, let smoothing = crossRateSmoothing {
            for (f, table) in tables.enumerated() {
                let name = "crossRates[\(f)].scaling"
                // An unseen pair's lift is 0.
                if outside(0, table.scaling) { return describe("an unseen pair's lift", 0, name, table.scaling) }
                for k in table.codes.indices where table.items[k] < popularity.count {
                    let lift = Self.lift(
                        clicks: table.clicks[k], shows: table.shows[k], prior: popularity[table.items[k]], smoothing: smoothing)
                    if outside(lift, table.scaling) { return describe("the lift of pair \(k)", lift, name, table.scaling) }
                }
            }
            if let scaling = itemRateScaling,
                let item = popularity.indices.first(where: { outside(Self.logit(popularity[$0]), scaling) })
            {
                return describe("item \(item)'s rate log-odds", Self.logit(popularity[item]), "itemRateScaling", scaling)
            }
        }
        return nil
    }
}

/// Why a feature spec could not be fitted or read.
public enum FeatureSpecError: Error, Sendable, Equatable {
    /// The bytes are not a valid spec.
    case malformed(String)
    /// The spec was written by a newer format.
    case unsupportedVersion(Int)
    /// The training data has no rows.
    case emptyTrainingData
    /// The training part of a log split by time (`log`, its first `fraction` of rows by time) has `rows`
    /// rows, fewer than the `needed` a model is fitted on.
    case emptyTrainingPart(log: String, fraction: Double, rows: Int, needed: Int)
    /// The numeric user feature `feature` is blank (missing) on every training row: it has no mean or spread to be
    /// scaled by, and a later row's value would reach the model unscaled.
    case noTrainingValues(feature: String)
    /// The categorical item feature `feature` has `values` distinct values, more than the `limit`
    /// (``FeatureSpec/maximumCategoryCardinality``) a spec encodes as one-hot columns.
    case tooManyCategories(feature: String, values: Int, limit: Int)
    /// The spec cannot be written: it holds a value JSON cannot encode (a statistic that is not finite), or its
    /// shape is one ``FeatureSpec/decode(_:)`` would refuse.
    case notEncodable(String)
    /// Two of the spec's columns get one name (`name`), or a column is named `label`: a feature named like a generated
    /// column (`label`, `has_history`, `device=ios` beside a categorical `device`). `data features` wrote a matrix
    /// `fit` then refused ("the header names column 'label' twice"), and `predict` could read no header.
    case collidingColumn(name: String)
    /// Row `row` (0-based) of `dataset` (a split's rows: `log[validation]`) holds a numeric user feature `feature` of
    /// `value`, more than ``ZScore/maximumStandardScore`` training standard deviations from the mean the spec was fitted
    /// with: serving refuses such a request, so the row cannot be used to choose or judge a model (a validation row of
    /// −1e17 scored every row alike and kept the starting weights).
    case userValueOutOfRange(dataset: String, row: Int, feature: String, value: Double)
}

extension FeatureSpecError: CustomStringConvertible {
    /// A one-line explanation naming the problem.
    public var description: String {
        switch self {
        case .malformed(let why): "malformed feature specification: \(why)"
        case .unsupportedVersion(let version):
            "feature specification version \(version) is not one this build reads (1 to \(FeatureSpec.newestVersion))"
        case .emptyTrainingData: "the training data has no rows"
        case .emptyTrainingPart(let log, let fraction, let rows, let needed):
            "the training part of \(log) (first \(Int((fraction * 100).rounded()))% by time) has \(rows) row"
                + (rows == 1 ? "" : "s") + "; at least \(needed) \(needed == 1 ? "is" : "are") needed"
        case .notEncodable(let why): "the feature specification cannot be written: \(why)"
        case .tooManyCategories(let feature, let values, let limit):
            "the categorical item feature '\(feature)' has \(values) distinct values, more than the \(limit) a feature "
                + "specification encodes (one input each): declare it numeric in the schema's [catalogue.item_features] "
                + "if its values are numbers, or group its values"
        case .collidingColumn(let name):
            "the feature columns would hold '\(name)' "
                + (name == "label" ? "as a feature, the name the label column has" : "twice")
                + ": a user or item feature is named like a column the specification makes (label, has_history, "
                + "item_continuous, NAME=VALUE one-hot columns, …); rename the feature in the schema"
        case .userValueOutOfRange(let dataset, let row, let feature, let value):
            "\(dataset) row \(row) (0-based): numeric user feature '\(feature)' is \(value), more than 1e15 training "
                + "standard deviations from the training rows' mean; serving refuses such a request, so the row cannot "
                + "be used (correct or drop the value)"
        case .noTrainingValues(let feature):
            "the numeric user feature '\(feature)' is blank on every training row: there is nothing to scale it by; "
                + "fill it, or leave it out of the schema's [logs.user_features]"
        }
    }
}

extension FeatureSpec {
    /// A note naming the numeric user features the fit read as constant (``ZScore/constant``: no spread in training,
    /// or one below a 32-bit float's smallest normal number, 1.2e-38), whose every value then encodes as 0; nil when
    /// there is none. Said by `data features` and `fit`: a feature alternating between 0 and 1e-40 was dropped
    /// without a word.
    public var constantNumericNote: String? {
        let names = zip(userNumericNames ?? [], userNumericScalings ?? []).filter { $0.1.constant == true }.map(\.0)
        guard !names.isEmpty else { return nil }
        let quoted = names.map { "'\($0)'" }.joined(separator: ", ")
        return "note: numeric user feature\(names.count == 1 ? "" : "s") \(quoted) \(names.count == 1 ? "does" : "do") "
            + "not vary over the training rows (no spread, one below \(Float.leastNormalMagnitude), or none beyond "
            + "the rounding of their mean): every value "
            + "encodes as 0 and carries nothing to the model"
    }
}
