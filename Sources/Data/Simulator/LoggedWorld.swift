import Foundation
import RecModel

/// A semi-synthetic world built from a shop's logs and catalogue, the way Open Bandit Pipeline's semi-synthetic
/// evaluation builds one: a ``LoggedClickModel`` fitted on the real logs gives every simulated visitor's true
/// click probabilities, and visitors' contexts are drawn uniformly from the logged rows' contexts.
///
/// Real click rates are low (OBD: about 0.4% per shown item), so learning in the world as logged would take
/// hundreds of thousands of visitors. ``clickScale`` multiplies every click's odds, `a(i, k) = s · p/(1 − p)`:
/// it shifts every log-odds by `log s`, so the ranking of items for a visitor, and so which policy is best,
/// does not change, while runs get short. Visitors choose by the proportional choice model of
/// ``SimulatedVisitor`` (at most one click each).
public struct LoggedWorld: VisitorWorld {
    /// Where the world came from, such as `obd:random/all`.
    public let name: String
    /// The items, as the pool serves them (external ids, encoded features).
    public let catalogue: ItemCatalogue
    /// The fitted click model.
    public let model: LoggedClickModel
    /// The factor on every click's odds.
    public let clickScale: Double
    /// The logs' numeric user features: carried in each visitor's features (as a request carries them), not modelled.
    public let numericUserFeatures: [String]
    /// Logged contexts: each row's one-hot user categories and raw features.
    let contexts: [(categories: [Int], features: [String: String])]
    /// The logging policy's action distribution per slot over catalogue rows, `slots × items`, or empty.
    let logging: [Double]
    /// What the logging policy is (such as `obd:bts/all`), or nil without one.
    public let loggingName: String?

    /// Builds the world.
    /// - Parameters:
    ///   - name: a label.
    ///   - logs: the real logs the click model is fitted on and the contexts are drawn from.
    ///   - catalogue: the items; a logged action is an item as ``LogLoader`` numbers it with this catalogue
    ///     (``ItemCatalogue/rowsOfLoggedItems``): the row whose id is `a` when the ids are `0..<n`, else row `a`.
    ///   - logging: logs of the logging policy whose action distribution per slot is the `logging` baseline
    ///     (nil: none), such as OBD's Bernoulli Thompson sampling logs.
    ///   - clickScale: the factor on every click's odds, above 0.
    ///   - l2: the click model's L2 penalty.
    /// - Throws: ``DataError/inconsistent(_:)`` when a logged item is not in the catalogue, the scale is not
    ///   positive and finite, or the logs cannot be fitted (no clicks, no rows).
    public init(
        name: String, logs: BanditDataset, catalogue: ItemCatalogue, logging: (name: String, data: BanditDataset)?,
        clickScale: Double, l2: Double = 1
    ) throws(DataError) {
        guard clickScale.isFinite && clickScale > 0 else {
            throw .inconsistent("the click scale must be a finite number above 0, got \(clickScale)")
        }
        // Slots counted from the top by their value (``BanditDataset/slotFromTop(_:)``), not their rank in the file: a
        // log of slots 2 and 3 made a 2-slot world whose top slot clicked at slot 2's rate. A slot the log never shows
        // between two it does gets no effect of its own (the penalty holds its weight at 0).
        let fromTop = (0..<logs.rows).map { logs.slotFromTop($0) }
        guard logs.rows == 0 || fromTop.contains(0) else {
            throw .inconsistent(
                "\(logs.name): no row was logged in the first slot (\(logs.slotNumberingText)): a world's top slot "
                    + "would click at a lower slot's rate")
        }
        let slots = max((fromTop.max() ?? 0) + 1, 1)
        let columns = logs.userFeatures
        let vocabulary = zip(columns.names, columns.categories).map {
            ItemEncoding.Vocabulary(name: $0, values: $1)
        }
        // A logged action is an item as the log loader numbered it, not an id's text: a shop's SKUs make it the row.
        let rowsOfItems = catalogue.rowsOfLoggedItems
        func rowOf(_ action: Int, in data: BanditDataset) throws(DataError) -> Int {
            guard rowsOfItems.indices.contains(action) else {
                throw .inconsistent("\(data.name): logged item \(action) is not in the catalogue")
            }
            return rowsOfItems[action]
        }
        var contexts: [(categories: [Int], features: [String: String])] = []
        var rows: [(user: [Int], item: Int, slot: Int, click: Bool)] = []
        let width = columns.names.count
        var offsets = [0]
        for values in columns.categories { offsets.append(offsets.last! + values.count) }
        for r in 0..<logs.rows {
            var categories: [Int] = []
            var features: [String: String] = [:]
            for f in 0..<width {
                let code = Int(columns.codes[r * width + f])
                let value = columns.categories[f][code]
                // A blank value is a missing feature (LogLoader's convention): no category, not sent.
                guard !value.isEmpty else { continue }
                categories.append(offsets[f] + code)
                features[columns.names[f]] = value
            }
            // Numeric user features ride along as the request carries them (the pool's policy reads them); the click
            // model is fitted on the categorical ones, so they do not change a visitor's clicks.
            for (name, value) in logs.userNumericRawValues(r) where value.isFinite { features[name] = "\(value)" }
            contexts.append((categories, features))
            rows.append((categories, try rowOf(logs.action[r], in: logs), fromTop[r], logs.reward[r] > 0))
        }
        var distribution: [Double] = []
        if let logging {
            distribution = [Double](repeating: 0, count: slots * catalogue.count)
            for r in 0..<logging.data.rows {
                let slot = min(max(logging.data.slotFromTop(r), 0), slots - 1)
                distribution[slot * catalogue.count + (try rowOf(logging.data.action[r], in: logging.data))] += 1
            }
        }
        self.name = name
        self.catalogue = catalogue
        self.model = try LoggedClickModel.fit(
            rows: rows, userVocabulary: vocabulary, catalogue: catalogue, slots: slots, l2: l2)
        self.clickScale = clickScale
        self.contexts = contexts
        self.numericUserFeatures = logs.userNumeric.columnNames
        self.logging = distribution
        self.loggingName = logging?.name
    }

    /// Items.
    public var itemCount: Int { catalogue.count }
    /// Slots.
    public var slots: Int { model.slots }
    /// The logs' categorical user features.
    public var userVocabulary: [ItemEncoding.Vocabulary] { model.userVocabulary }
    /// Every user feature a visitor carries: the categorical ones, then the numeric ones.
    public var userFeatureNames: [String] { userVocabulary.map(\.name) + numericUserFeatures }

    /// The largest attraction a visitor holds: odds of 10^12, a click probability of 1 − 10^−12. A large
    /// ``clickScale`` (up to `Double.greatestFiniteMagnitude`) saturates here instead of overflowing to infinity,
    /// whose `W / (1 + W)` is NaN.
    public static let maxAttraction = 1e12

    /// Visitors with contexts drawn uniformly from the logged rows, attraction `min(s · e^{logit}, 10^12)`.
    public func visitors(count: Int, seed: UInt64) -> [SimulatedVisitor] {
        var rng = SplitMix64(seed: seed ^ 0x10_66ED_3017_D000)
        var cache: [[Int]: [Double]] = [:]
        return (0..<count).map { _ in
            let row = rng.index(contexts.count)
            let context = contexts[row]
            let key = context.categories
            let attraction =
                cache[key]
                ?? (0..<itemCount).flatMap { item in
                    (0..<slots).map { slot in
                        min(
                            clickScale * exp(model.logit(userCategories: context.categories, item: item, slot: slot)),
                            Self.maxAttraction)
                    }
                }
            cache[key] = attraction
            return SimulatedVisitor(
                userFeatures: context.features, slots: slots, attraction: attraction, draw: rng.uniform())
        }
    }

    /// The click model is the truth and sees only the features, so the best feature-only slate is its exact
    /// argmax for the visitor (``GreedySlate`` on the visitor's own attraction).
    public func featureOnlySlates(for visitors: [SimulatedVisitor], slateLength: Int) -> [[Int]] {
        visitors.map { GreedySlate.best(samples: [$0.attraction], slots: slots, length: slateLength) }
    }

    /// Slates drawn slot by slot from the logging policy's action distribution of that slot, over the items
    /// not yet placed (uniform over them when the logs never showed any of them there).
    public func loggingSlates(for visitors: [SimulatedVisitor], slateLength: Int, seed: UInt64) -> [[Int]]? {
        guard !logging.isEmpty else { return nil }
        var rng = SplitMix64(seed: seed ^ 0x1066_1D6B_7500_0001)
        let n = itemCount
        return visitors.map { _ in
            var slate: [Int] = []
            for slot in 0..<min(slateLength, slots, n) {
                let weights = (0..<n).map { slate.contains($0) ? 0 : logging[slot * n + $0] }
                let total = weights.reduce(0, +)
                if total <= 0 {
                    let left = (0..<n).filter { !slate.contains($0) }
                    slate.append(left[rng.index(left.count)])
                    continue
                }
                var target = rng.uniform() * total
                var chosen = (0..<n).last { weights[$0] > 0 }!
                for item in 0..<n where weights[item] > 0 {
                    target -= weights[item]
                    if target < 0 { chosen = item; break }
                }
                slate.append(chosen)
            }
            return slate
        }
    }
}
