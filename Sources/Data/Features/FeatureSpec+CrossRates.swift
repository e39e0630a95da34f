import Foundation
import RecModel

/// Target-encoded user × item crosses (spec version 4): for each categorical user feature, one column holding how
/// much more (or less) often users with the row's category clicked the row's item than users at large, and one
/// column holding the item's own smoothed click rate. They replace the version-3 hashed cross buckets over catalogues
/// below ``FeatureSpec/crossesBelowItems`` items: `F + 1` columns instead of 512, whatever the vocabularies and the
/// catalogue, and no two crosses share a column at random.
///
/// For user feature `f` at category `v` and item `i`, with `n` impressions and `c` clicks of the pair in training and
/// `p_i` the item's smoothed click rate (``FeatureSpec/popularity``):
///
///     user×item_rate=f  =  z_f( logit((c + m · p_i) / (n + m)) − logit(p_i) )
///     item_rate         =  z( logit(p_i) )
///
/// with `m` ``FeatureSpec/crossRateSmoothing`` (the m-estimate of Micci-Barreca, "A preprocessing scheme for
/// high-cardinality categorical attributes in classification and prediction problems", SIGKDD Explorations 3(1),
/// 2001), rates clamped to `[10⁻⁶, 1 − 10⁻⁶]`, and each `z` a z-score fitted on the training rows. A pair never seen
/// in training has lift 0. A training row's own click would leak into its rate, so the rows a spec was fitted on get
/// out-of-fold values (``FeatureSpec/trainingMatrix(_:)``): each row's rate is counted over the other
/// ``FeatureSpec/crossRateFolds`` − 1 folds only, as CatBoost's ordered target statistics and k-fold target encoding
/// do (Prokhorenkova et al., "CatBoost: unbiased boosting with categorical features", NeurIPS 2018).
extension FeatureSpec {
    /// One categorical user feature's training counts per (category, item) pair, sorted by category then item.
    public struct CrossRateTable: Codable, Sendable, Equatable {
        /// The category code of each pair: its index in the feature's vocabulary, the vocabulary's size for the
        /// unknown bucket (a missing value).
        public var codes: [Int]
        /// The item of each pair, `0..<itemCount`.
        public var items: [Int]
        /// Training impressions of each pair (> 0).
        public var shows: [Double]
        /// Training clicks of each pair, `0...shows`.
        public var clicks: [Double]
        /// The column's z-score, fitted on the training rows' out-of-fold lifts.
        public var scaling: ZScore

        /// Creates a table.
        public init(codes: [Int], items: [Int], shows: [Double], clicks: [Double], scaling: ZScore) {
            self.codes = codes
            self.items = items
            self.shows = shows
            self.clicks = clicks
            self.scaling = scaling
        }

        /// The index of the pair `(code, item)`, by binary search, or nil.
        func index(code: Int, item: Int) -> Int? {
            var low = 0
            var high = codes.count
            while low < high {
                let mid = (low + high) / 2
                if (codes[mid], items[mid]) < (code, item) { low = mid + 1 } else { high = mid }
            }
            return low < codes.count && codes[low] == code && items[low] == item ? low : nil
        }
    }

    /// The m-estimate weight `m` of a version-4 spec's cross rates (chosen on the simulator's validation split).
    public static let defaultCrossRateSmoothing = 50.0
    /// The folds of the out-of-fold rates of training rows.
    public static let crossRateFolds = 5
    /// The most (category, item) pairs a spec keeps over all its user features, the most shown first: about 4 MB of
    /// JSON in the checkpoint, which must fit a WEIGHTS message.
    public static let maximumCrossRatePairs = 200_000

    /// The pairs kept per user feature: `total` (``maximumCrossRatePairs``) shared out, at least 1 each.
    static func crossRatePairsPerFeature(features: Int, total: Int = maximumCrossRatePairs) -> Int {
        max(1, total / max(features, 1))
    }
    /// Rates are clamped to `[rateFloor, 1 − rateFloor]` before the logit.
    static let rateFloor = 1e-6

    /// Whether the spec has the version-4 target-encoded crosses.
    public var hasCrossRates: Bool { crossRates != nil }

    /// The version-4 cross-rate column names: one per categorical user feature, then `item_rate`.
    var crossRateColumnNames: [String] {
        guard hasCrossRates else { return [] }
        return userFeatureNames.map { "user×item_rate=\($0)" } + ["item_rate"]
    }

    static func logit(_ p: Double) -> Double {
        let q = min(max(p, rateFloor), 1 - rateFloor)
        return log(q / (1 - q))
    }

    /// `logit((c + m·p) / (n + m)) − logit(p)`: the log-odds lift of a pair with `n` impressions and `c` clicks over
    /// its item's rate `p`.
    static func lift(clicks: Double, shows: Double, prior: Double, smoothing: Double) -> Double {
        // Unseen is exactly 0, as the serving path's missing pair is (`m·p / m` may round off `p`).
        guard shows > 0 else { return 0 }
        return logit((clicks + smoothing * prior) / (shows + smoothing)) - logit(prior)
    }

    /// The cross-rate columns of one row from the spec's own statistics (serving, and every row it was not fitted on).
    /// - Parameter codes: each user feature's category code (the unknown bucket included).
    func crossRateValues(codes: [Int], item: Int) -> [Float] {
        guard let tables = crossRates else { return [] }
        let prior = popularity[item]
        let smoothing = crossRateSmoothing ?? Self.defaultCrossRateSmoothing
        var values: [Float] = []
        values.reserveCapacity(tables.count + 1)
        for (table, code) in zip(tables, codes) {
            let lift = table.index(code: code, item: item).map {
                Self.lift(clicks: table.clicks[$0], shows: table.shows[$0], prior: prior, smoothing: smoothing)
            }
            values.append(table.scaling.apply(lift ?? 0))
        }
        values.append((itemRateScaling ?? .identity).apply(Self.logit(prior)))
        return values
    }

    /// Each row's user category codes, `rows × F`, as the transform reads them.
    func userCodes(_ data: BanditDataset) -> [[Int]] {
        let names = data.userFeatures.names
        let offsets = userOffsets
        return (0..<data.rows).map { row in
            var features: [String: String] = [:]
            for (c, name) in names.enumerated() { features[name] = data.userFeatures.value(row, c) }
            return zip(userColumns(features), offsets).map { $0 - $1 }
        }
    }

    /// The fold of training row `row`: a hash of its index, the same on every machine.
    static func crossRateFold(_ row: Int) -> Int { bucket([3, row], count: crossRateFolds) }

    /// The training rows' rows of a matrix: as ``matrix(_:)``, except that on the very rows the spec was fitted on
    /// (the same pairs counted the same), the cross-rate columns are out-of-fold: each row's rates are counted over
    /// the rows of the other folds only, so a row's own click never reaches its features. On any other rows this is
    /// ``matrix(_:)``.
    public func trainingMatrix(_ data: BanditDataset) -> FeatureMatrix {
        outOfFoldMatrix(data) ?? matrix(data)
    }

    /// ``trainingMatrix(_:)`` when its cross-rate columns are out-of-fold (`data` is the very rows the spec was fitted
    /// on, and the spec has cross rates); nil when it would be ``matrix(_:)``, the served rows, without building them.
    public func outOfFoldMatrix(_ data: BanditDataset) -> FeatureMatrix? {
        guard hasCrossRates, let first = columns.firstIndex(of: crossRateColumnNames[0]) else { return nil }
        let codes = userCodes(data)
        // Counted with the spec's own bound: a table the fit cut holds exactly the pairs kept per feature, the
        // largest table's size, and the same most-shown pairs are kept again; an uncut one holds no more.
        let kept = (crossRates ?? []).map(\.codes.count).max() ?? 0
        guard
            let statistics = CrossRateCounts(
                data, codes: codes, itemCount: itemCount, features: userFeatureNames.count,
                maximumPairs: max(kept, 1) * max(userFeatureNames.count, 1)),
            statistics.matches(crossRates ?? [])
        else { return nil }
        let full = matrix(data)
        var values = full.values
        let raw = statistics.outOfFoldLifts(
            codes: codes, smoothing: crossRateSmoothing ?? Self.defaultCrossRateSmoothing,
            popularitySmoothing: popularitySmoothing)
        let scalings = (crossRates ?? []).map(\.scaling) + [itemRateScaling ?? .identity]
        for row in 0..<data.rows {
            for (k, scaling) in scalings.enumerated() { values[row * width + first + k] = scaling.apply(raw[row][k]) }
        }
        return FeatureMatrix(rows: full.rows, columnNames: full.columnNames, values: values)
    }

    /// Fits the cross-rate tables, their smoothing and their scalings on the training rows (the spec's popularity
    /// must be fitted already).
    mutating func fitCrossRates(on train: BanditDataset, smoothing: Double, maximumPairs: Int) {
        let codes = userCodes(train)
        guard
            let statistics = CrossRateCounts(
                train, codes: codes, itemCount: itemCount, features: userFeatureNames.count, maximumPairs: maximumPairs)
        else { return }
        let raw = statistics.outOfFoldLifts(codes: codes, smoothing: smoothing, popularitySmoothing: popularitySmoothing)
        let scalings = (0...userFeatureNames.count).map { k in ZScore(fitting: raw.map { $0[k] }) }
        crossRates = statistics.tables(scalings: Array(scalings.dropLast()))
        itemRateScaling = scalings.last
        crossRateSmoothing = smoothing
    }

    /// Why the version-4 fields cannot be applied, or nil: a table per categorical user feature, each sorted by
    /// (category, item) with no pair twice, codes within the vocabulary and its unknown bucket, items in the catalogue,
    /// impressions positive and clicks `0...impressions`; a positive smoothing weight and an item-rate scaling.
    var crossRateProblem: String? {
        let present = [crossRates != nil, crossRateSmoothing != nil, itemRateScaling != nil]
        guard present.allSatisfy({ $0 == present[0] }) else {
            return "crossRates, crossRateSmoothing and itemRateScaling come together"
        }
        guard let tables = crossRates, let smoothing = crossRateSmoothing else { return nil }
        guard isHashed else { return "cross rates need the hashed item encoding" }
        guard smoothing.isFinite, smoothing > 0 else {
            return "crossRateSmoothing is \(smoothing): a smoothing weight is finite and positive"
        }
        guard tables.count == userFeatureNames.count else {
            return "crossRates has \(tables.count) tables for \(userFeatureNames.count) user features"
        }
        for (f, table) in tables.enumerated() {
            let name = "crossRates[\(f)] (\(userFeatureNames[f]))"
            let n = table.codes.count
            guard table.items.count == n, table.shows.count == n, table.clicks.count == n else {
                return "\(name): codes, items, shows and clicks differ in length"
            }
            for k in 0..<n {
                guard (0...userVocabularies[f].count).contains(table.codes[k]), (0..<itemCount).contains(table.items[k])
                else { return "\(name): pair \(k) has category \(table.codes[k]) and item \(table.items[k]), out of range" }
                guard k == 0 || (table.codes[k - 1], table.items[k - 1]) < (table.codes[k], table.items[k]) else {
                    return "\(name): pair \(k) is out of order or a repeat"
                }
                let (shows, clicks) = (table.shows[k], table.clicks[k])
                guard shows.isFinite, shows > 0, clicks.isFinite, clicks >= 0, clicks <= shows else {
                    return "\(name): pair \(k) has \(clicks) clicks in \(shows) impressions"
                }
            }
        }
        return nil
    }
}

/// Click counts per item and per (user feature, category, item) over a training part, in total and per fold.
struct CrossRateCounts {
    private let itemCount: Int
    private let features: Int
    private let rows: Int
    private let folds = FeatureSpec.crossRateFolds
    private var itemShows: [[Double]]  // [fold][item]
    private var itemClicks: [[Double]]
    private var foldRows: [Double]
    private var foldClicks: [Double]
    private var pairs: [[Int: (shows: [Double], clicks: [Double])]]  // [feature][code · itemCount + item], per fold
    private let folding: [Int]
    private let actions: [Int]

    /// Counts `data`'s rows; nil when it has none.
    init?(
        _ data: BanditDataset, codes: [[Int]], itemCount: Int, features: Int,
        maximumPairs: Int = FeatureSpec.maximumCrossRatePairs
    ) {
        guard data.rows > 0 else { return nil }
        self.itemCount = itemCount
        self.features = features
        rows = data.rows
        itemShows = Array(repeating: Array(repeating: 0, count: itemCount), count: folds)
        itemClicks = itemShows
        foldRows = Array(repeating: 0, count: folds)
        foldClicks = foldRows
        pairs = Array(repeating: [:], count: features)
        folding = (0..<data.rows).map(FeatureSpec.crossRateFold)
        actions = data.action
        let empty = (shows: [Double](repeating: 0, count: folds), clicks: [Double](repeating: 0, count: folds))
        for row in 0..<data.rows {
            let (fold, item) = (folding[row], data.action[row])
            let click: Double = BanditDataset.isClick(reward: data.reward[row]) ? 1 : 0
            itemShows[fold][item] += 1
            itemClicks[fold][item] += click
            foldRows[fold] += 1
            foldClicks[fold] += click
            for f in 0..<features {
                let key = codes[row][f] * itemCount + item
                pairs[f][key, default: empty].shows[fold] += 1
                pairs[f][key, default: empty].clicks[fold] += click
            }
        }
        // The spec travels in every checkpoint (and every WEIGHTS rollout, under the message limit): a user feature of
        // many values (a postcode) crossed with the items could hold a pair per training row. Only the most shown
        // pairs are kept; the others are unseen pairs (lift 0) at serving and in the out-of-fold values alike.
        let keep = FeatureSpec.crossRatePairsPerFeature(features: features, total: maximumPairs)
        for f in 0..<features where pairs[f].count > keep {
            let kept = pairs[f].sorted { a, b in
                let (x, y) = (a.value.shows.reduce(0, +), b.value.shows.reduce(0, +))
                return x != y ? x > y : a.key < b.key
            }.prefix(keep)
            pairs[f] = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }

    /// The counts as a spec stores them (every fold summed), with the given scalings.
    func tables(scalings: [FeatureSpec.ZScore]) -> [FeatureSpec.CrossRateTable] {
        zip(pairs, scalings).map { entries, scaling in
            let keys = entries.keys.sorted()
            return FeatureSpec.CrossRateTable(
                codes: keys.map { $0 / itemCount }, items: keys.map { $0 % itemCount },
                shows: keys.map { entries[$0]!.shows.reduce(0, +) }, clicks: keys.map { entries[$0]!.clicks.reduce(0, +) },
                scaling: scaling)
        }
    }

    /// Whether `tables` hold exactly these counts: the spec was fitted on these rows.
    func matches(_ tables: [FeatureSpec.CrossRateTable]) -> Bool {
        tables.count == features && zip(tables, self.tables(scalings: tables.map(\.scaling))).allSatisfy { $0 == $1 }
    }

    /// Each row's raw out-of-fold lifts, then its item's out-of-fold log-odds: `rows × (F + 1)`, counted over the
    /// other folds' rows; when those hold none (a part of a handful of rows), lifts 0 and the overall click rate.
    func outOfFoldLifts(codes: [[Int]], smoothing: Double, popularitySmoothing: Double) -> [[Double]] {
        let totalRows = foldRows.reduce(0, +)
        let totalClicks = foldClicks.reduce(0, +)
        let itemTotal = (0..<itemCount).map { i in (0..<folds).reduce(0.0) { $0 + itemShows[$1][i] } }
        let itemClickTotal = (0..<itemCount).map { i in (0..<folds).reduce(0.0) { $0 + itemClicks[$1][i] } }
        // Per fold: the click rate and each item's smoothed rate over the other folds.
        var priors: [[Double]] = []
        var holdsOthers: [Bool] = []
        for fold in 0..<folds {
            let others = totalRows - foldRows[fold]
            holdsOthers.append(others > 0)
            let ctr = others > 0 ? (totalClicks - foldClicks[fold]) / others : totalClicks / totalRows
            // With no row in the other folds (a training part of a handful of rows), nothing may be counted without
            // the row's own click: every item's rate is the click rate, and every lift 0 (below).
            priors.append(
                (0..<itemCount).map { i in
                    guard others > 0 else { return ctr }
                    let (n, c) = (itemTotal[i] - itemShows[fold][i], itemClickTotal[i] - itemClicks[fold][i])
                    return (c + popularitySmoothing * ctr) / (n + popularitySmoothing)
                })
        }
        return (0..<rows).map { row in
            let (fold, item) = (folding[row], actions[row])
            let prior = priors[fold][item]
            var out: [Double] = []
            out.reserveCapacity(features + 1)
            for f in 0..<features {
                guard holdsOthers[fold] else {
                    out.append(0)
                    continue
                }
                let counts = pairs[f][codes[row][f] * itemCount + item]
                let n = (counts?.shows.reduce(0, +) ?? 0) - (counts?.shows[fold] ?? 0)
                let c = (counts?.clicks.reduce(0, +) ?? 0) - (counts?.clicks[fold] ?? 0)
                out.append(FeatureSpec.lift(clicks: c, shows: n, prior: prior, smoothing: smoothing))
            }
            out.append(FeatureSpec.logit(prior))
            return out
        }
    }
}
