import Foundation

/// A click model fitted on a shop's logged impressions, the ground truth of a ``LoggedWorld``: a logistic
/// regression on the user's categorical features, the item's encoded catalogue features, their products
/// (user × item interactions) and the slot,
///
///     logit P(click | user u, item i, slot k) = b + Σ_f w_u[f] + Σ_g w_i[g]·z_ig + Σ_{f,g} W[f,g]·z_ig + β_k,
///
/// over the user's one-hot categories `f` and the item's features `z_i` (``ItemCatalogue`` encoding, numeric
/// columns standardised over the items). It is fitted by full-batch Nesterov gradient descent on the mean
/// log-loss plus `l2 / (2n)·‖w‖²` (the bias not penalised), the semi-synthetic construction of Open Bandit
/// Pipeline (Saito et al., 2021): a model of the real logs stands in for the unknown true click probabilities.
/// Its size is (users' categories + 1) × (item features + 1) + slots: it does not grow with the items.
public struct LoggedClickModel: Sendable, Equatable {
    /// The user's categorical features and their values (the one-hot blocks, in order).
    public let userVocabulary: [ItemEncoding.Vocabulary]
    /// Slots.
    public let slots: Int
    /// Item feature columns (the catalogue's width).
    public let itemWidth: Int
    /// Weights: `[b, w_u (U), w_i (G), W (U × G, row-major by user category), β (slots)]`.
    public let weights: [Double]
    /// Standardised item features, `items × itemWidth`.
    let items: [Double]
    private let offsets: [Int]

    /// User categories in all.
    var userWidth: Int { offsets.last ?? 0 }

    init(userVocabulary: [ItemEncoding.Vocabulary], slots: Int, items: [Double], itemWidth: Int, weights: [Double]) {
        self.userVocabulary = userVocabulary
        self.slots = slots
        self.items = items
        self.itemWidth = itemWidth
        self.weights = weights
        var offsets = [0]
        for vocabulary in userVocabulary { offsets.append(offsets.last! + vocabulary.values.count) }
        self.offsets = offsets
    }

    /// Parameters for `userCategories` categories, `itemWidth` item columns and `slots` slots.
    static func parameterCount(userCategories: Int, itemWidth: Int, slots: Int) -> Int {
        1 + userCategories + itemWidth + userCategories * itemWidth + slots
    }

    /// The one-hot positions of a user's features (a value outside the vocabulary has none).
    public func userCategories(_ features: [String: String]) -> [Int] {
        userVocabulary.enumerated().compactMap { f, vocabulary in
            features[vocabulary.name].flatMap { vocabulary.values.firstIndex(of: $0) }.map { offsets[f] + $0 }
        }
    }

    /// The log-odds of a click of a user (by ``userCategories(_:)``) on `item` shown alone in `slot`.
    public func logit(userCategories user: [Int], item: Int, slot: Int) -> Double {
        var z = weights[0]
        forEachFeature(user: user, item: item, slot: slot) { index, value in z += weights[index] * value }
        return z
    }

    /// Calls `body(index, value)` for each nonzero feature of (user, item, slot) other than the bias.
    func forEachFeature(user: [Int], item: Int, slot: Int, _ body: (Int, Double) -> Void) {
        let u = userWidth
        let g = itemWidth
        for f in user { body(1 + f, 1) }
        for c in 0..<g where items[item * g + c] != 0 {
            let value = items[item * g + c]
            body(1 + u + c, value)
            for f in user { body(1 + u + g + f * g + c, value) }
        }
        body(1 + u + g + u * g + slot, 1)
    }

    /// Fits the model.
    /// - Parameters:
    ///   - rows: logged impressions: the user's categories, the catalogue row, the slot and the click.
    ///   - userVocabulary: the user features' categories.
    ///   - catalogue: the items (their encoded features).
    ///   - slots: slots of a slate.
    ///   - l2: the L2 penalty (a Gaussian prior's precision on the summed log-likelihood).
    ///   - iterations: gradient steps.
    /// - Throws: ``DataError/inconsistent(_:)`` when there are no rows, no click or no non-click (a constant
    ///   has no log-odds).
    public static func fit(
        rows: [(user: [Int], item: Int, slot: Int, click: Bool)], userVocabulary: [ItemEncoding.Vocabulary],
        catalogue: ItemCatalogue, slots: Int, l2: Double = 1, iterations: Int = 400
    ) throws(DataError) -> LoggedClickModel {
        let clicks = rows.reduce(0) { $0 + ($1.click ? 1 : 0) }
        guard clicks > 0 && clicks < rows.count else {
            throw .inconsistent("the logs have \(rows.count) rows and \(clicks) clicks: a click model needs both clicks and non-clicks")
        }
        let width = catalogue.width
        var items = catalogue.features.map(Double.init)
        // Numeric columns (after the one-hot blocks) are standardised over the items.
        let firstNumeric = width - catalogue.encoding.numeric.count
        for c in firstNumeric..<width {
            let column = (0..<catalogue.count).map { items[$0 * width + c] }
            let mean = column.reduce(0, +) / Double(column.count)
            let sd = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(column.count)).squareRoot()
            for i in 0..<catalogue.count { items[i * width + c] = sd > 0 ? (items[i * width + c] - mean) / sd : 0 }
        }
        let categories = userVocabulary.reduce(0) { $0 + $1.values.count }
        let count = parameterCount(userCategories: categories, itemWidth: width, slots: slots)
        var model = LoggedClickModel(
            userVocabulary: userVocabulary, slots: slots, items: items, itemWidth: width,
            weights: [Double](repeating: 0, count: count))
        // Each row's sparse features, once.
        let features: [[(Int, Double)]] = rows.map { row in
            var list: [(Int, Double)] = []
            model.forEachFeature(user: row.user, item: row.item, slot: row.slot) { list.append(($0, $1)) }
            return list
        }
        let n = Double(rows.count)
        let mean = Double(clicks) / n
        var w = [Double](repeating: 0, count: count)
        w[0] = log(mean / (1 - mean))
        var velocity = [Double](repeating: 0, count: count)
        let rate = 0.5
        for _ in 0..<iterations {
            var ahead = w
            for j in 0..<count { ahead[j] += 0.9 * velocity[j] }
            var gradient = ahead.enumerated().map { j, value in j == 0 ? 0 : l2 / n * value }
            for (r, row) in rows.enumerated() {
                var z = ahead[0]
                for (j, value) in features[r] { z += ahead[j] * value }
                let g = (1 / (1 + exp(-z)) - (row.click ? 1 : 0)) / n
                gradient[0] += g
                for (j, value) in features[r] { gradient[j] += g * value }
            }
            for j in 0..<count {
                velocity[j] = 0.9 * velocity[j] - rate * gradient[j]
                w[j] += velocity[j]
            }
        }
        model = LoggedClickModel(
            userVocabulary: userVocabulary, slots: slots, items: items, itemWidth: width, weights: w)
        return model
    }
}
