/// One simulated visitor of a run: what a policy sees of them, the ground truth of their clicks, and the one
/// uniform draw that decides their choice, so every policy shown this visitor meets the same choice draw.
///
/// The choice model is the multinomial proportional one of ``SimulatorWorld`` (RecSim's interest evolution)
/// with the no-click option's weight fixed at 1: on a slate where item `i_k` sits in slot `k`,
///
///     P(slot k) = a(i_k, k) / (1 + Σ_j a(i_j, j)),   P(no click) = 1 / (same),
///
/// where `a(i, k)` is the item's attraction in that slot (the odds `p / (1 − p)` of a click when the item is
/// shown alone there). A visitor clicks at most one item.
public struct SimulatedVisitor: Sendable, Equatable {
    /// Observable user features by name, as sent with RECOMMEND.
    public var userFeatures: [String: String]
    /// Attraction of each item in each slot, `items × slots`, row-major (`attraction[item * slots + slot]`).
    /// A visitor made with ``init(userFeatures:itemAttraction:slotBias:draw:)`` builds this table on each read
    /// (``attraction(item:slot:)`` does not): keep it for small worlds.
    public var attraction: [Double] {
        switch table {
        case .full(let values): values
        case .factored(let items, let bias): items.flatMap { a in bias.map { $0 * a } }
        }
    }
    /// Slots of a slate.
    public let slots: Int
    /// The uniform draw in [0, 1) that picks the choice.
    public var draw: Double
    private let table: Table

    /// How the attractions are held: the whole `items × slots` table, or, when a slot multiplies every item's
    /// attraction alike (the simulator's position bias), one value per item and one factor per slot, so a visitor
    /// of a 100,000-item world holds 100,000 values rather than 300,000.
    private enum Table: Sendable {
        case full([Double])
        case factored(items: [Double], slots: [Double])
    }

    /// Creates a visitor from the whole table.
    public init(userFeatures: [String: String], slots: Int, attraction: [Double], draw: Double) {
        precondition(slots > 0 && attraction.count % slots == 0, "SimulatedVisitor: attraction is items × slots")
        self.userFeatures = userFeatures
        self.slots = slots
        self.table = .full(attraction)
        self.draw = draw
    }

    /// Creates a visitor whose attraction of item `i` in slot `k` is `slotBias[k] · itemAttraction[i]` (the
    /// product in that order, so it equals the table ``init(userFeatures:slots:attraction:draw:)`` would hold).
    public init(userFeatures: [String: String], itemAttraction: [Double], slotBias: [Double], draw: Double) {
        precondition(!slotBias.isEmpty, "SimulatedVisitor: at least one slot")
        self.userFeatures = userFeatures
        self.slots = slotBias.count
        self.table = .factored(items: itemAttraction, slots: slotBias)
        self.draw = draw
    }

    /// Equal when they show the same features, draw and attraction in every (item, slot), however it is held.
    public static func == (a: SimulatedVisitor, b: SimulatedVisitor) -> Bool {
        a.userFeatures == b.userFeatures && a.slots == b.slots && a.draw == b.draw && a.items == b.items
            && (0..<a.items).allSatisfy { i in
                (0..<a.slots).allSatisfy { a.attraction(item: i, slot: $0) == b.attraction(item: i, slot: $0) }
            }
    }

    /// Items in the world.
    public var items: Int {
        switch table {
        case .full(let values): values.count / slots
        case .factored(let items, _): items.count
        }
    }

    /// Attraction of `item` in `slot`.
    public func attraction(item: Int, slot: Int) -> Double {
        switch table {
        case .full(let values): values[item * slots + slot]
        case .factored(let items, let bias): bias[slot] * items[item]
        }
    }

    /// Choice probabilities of each slot of `slate`, then of no click.
    /// - Throws: ``SimulatorError`` for an empty or too long slate, an unknown or a repeated item.
    public func choiceProbabilities(_ slate: [Int]) throws(SimulatorError) -> [Double] {
        try validate(slate)
        var weights = slate.enumerated().map { slot, item in attraction(item: item, slot: slot) }
        weights.append(1)
        let total = weights.reduce(0, +)
        // Infinite attractions (a world whose odds overflowed) share the click alike, never NaN.
        if total.isInfinite {
            let infinite = Double(weights.count { $0.isInfinite })
            return weights.map { $0.isInfinite ? 1 / infinite : 0 }
        }
        return weights.map { $0 / total }
    }

    /// The item this visitor clicks on `slate` (nil for no click), decided by ``draw``.
    /// - Throws: ``SimulatorError`` as ``choiceProbabilities(_:)``.
    public func clicked(_ slate: [Int]) throws(SimulatorError) -> Int? {
        var target = draw
        for (slot, p) in try choiceProbabilities(slate).dropLast().enumerated() {
            target -= p
            if target < 0 { return slate[slot] }
        }
        return nil
    }

    /// Expected clicks of `slate` (the probability of a click): `W / (1 + W)` with `W` the slate's attraction.
    public func expectedClicks(_ slate: [Int]) -> Double {
        let w = slate.enumerated().reduce(0.0) { $0 + attraction(item: $1.element, slot: $1.offset) }
        return w.isInfinite ? 1 : w / (1 + w)
    }

    private func validate(_ slate: [Int]) throws(SimulatorError) {
        guard !slate.isEmpty && slate.count <= slots else { throw .invalidSlateSize(slate.count) }
        var seen = Set<Int>()
        for item in slate {
            guard item >= 0 && item < items else { throw .unknownItem(item) }
            guard seen.insert(item).inserted else { throw .duplicateItem(item) }
        }
    }
}

/// A world that simulated visitors come from: the built-in ``SimulatorWorld`` or a ``LoggedWorld`` made from a
/// shop's logs. It knows the ground truth, so it also gives the reference slates no learner can beat on
/// observable features alone.
public protocol VisitorWorld: Sendable {
    /// Items (rows `0..<itemCount`).
    var itemCount: Int { get }
    /// Slots of a slate.
    var slots: Int { get }
    /// The observable categorical user features and their values, for one-hot contexts.
    var userVocabulary: [ItemEncoding.Vocabulary] { get }
    /// The name of every user feature a visitor carries (``userVocabulary``'s, then any numeric ones).
    var userFeatureNames: [String] { get }
    /// The visitors of a run, deterministic given `seed`.
    func visitors(count: Int, seed: UInt64) -> [SimulatedVisitor]
    /// For each visitor, the best slate of `slateLength` items a policy that sees only the observable user
    /// features can show: the slate maximising expected clicks averaged over the hidden state consistent with
    /// the features (greedy slot by slot, ``GreedySlate``).
    func featureOnlySlates(for visitors: [SimulatedVisitor], slateLength: Int) -> [[Int]]
    /// For each visitor, the slate the world's logging policy would have shown, or nil without one.
    func loggingSlates(for visitors: [SimulatedVisitor], slateLength: Int, seed: UInt64) -> [[Int]]?
}

/// The greedy slate for expected clicks under the proportional choice model: slot by slot, the remaining item
/// that most increases the mean over samples of `W / (1 + W)`, `W` the slate's attraction. Since `W / (1 + W)`
/// is increasing in `W`, with one sample and a slot effect that multiplies every item's attraction alike, this
/// is the exact argmax (the most attractive items, best slot first).
public enum GreedySlate {
    /// The slate.
    /// - Parameters:
    ///   - samples: attraction vectors (`items × slots`, row-major, as ``SimulatedVisitor/attraction``) of the
    ///     hidden states to average over, at least one.
    ///   - slots: slots per item in each sample.
    ///   - length: slate length, at most the items.
    public static func best(samples: [[Double]], slots: Int, length: Int) -> [Int] {
        guard let first = samples.first else { return [] }
        let items = first.count / slots
        var totals = [Double](repeating: 0, count: samples.count)
        var slate: [Int] = []
        var used = [Bool](repeating: false, count: items)
        for slot in 0..<min(length, items, slots) {
            var best = -1
            var bestValue = -Double.infinity
            for item in 0..<items where !used[item] {
                var value = 0.0
                for (s, sample) in samples.enumerated() {
                    let w = totals[s] + sample[item * slots + slot]
                    value += w / (1 + w)
                }
                if value > bestValue { (best, bestValue) = (item, value) }
            }
            used[best] = true
            slate.append(best)
            for (s, sample) in samples.enumerated() { totals[s] += sample[best * slots + slot] }
        }
        return slate
    }
}

extension VisitorWorld {
    /// The categorical features' names: a world whose visitors carry no numeric feature.
    public var userFeatureNames: [String] { userVocabulary.map(\.name) }
}
