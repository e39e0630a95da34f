import Foundation
import RecData
import RecModel
import RecWire

/// An online recommendation policy over a catalogue: a contextual bandit whose last layer is Bayesian linear
/// regression on user × item interaction features (``PolicyFeatures``, ``BayesianLastLayer``), with slot-by-slot
/// exploration over its scores, so every shown item has an exact propensity.
///
/// The policy scores with ``coefficients``: the posterior mean (``initial(spec:)``, ``with(statistics:)``, what the
/// broker's guard evaluates) or a Thompson sample (``sampled(rng:)``, what a learning replica serves until its next
/// update). The value is immutable; learning produces a new policy.
public struct OnlinePolicy: Sendable {
    /// The longest slate `recommend` draws unless the spec's own slate size is longer: each slot redraws over the
    /// remaining candidates, so a slate costs its length × the candidates, on the worker's session thread.
    public static let maximumTop = 100

    /// The catalogue, encoding, exploration and learning settings.
    public let spec: OnlinePolicySpec
    /// The catalogue the policy serves: the one it was made from (``init(spec:catalogue:statistics:coefficients:)``,
    /// ``with(catalogue:)``, sharing its buffers), else the spec's items as a RecData catalogue (numeric columns `f0`,
    /// `f1`, …, over the spec's own row buffer).
    public let catalogue: ItemCatalogue
    /// The inputs' encoding.
    public let features: PolicyFeatures
    /// The learnt posterior.
    public let statistics: BayesianLastLayer
    /// What the policy scores with.
    public let coefficients: BayesianLastLayer.Coefficients
    /// Each item's reduced row `x̃` (its `y = [1 ‖ x̃]` without the constant): the catalogue's own rows when the
    /// features neither standardise nor project them, else the reduced table.
    let reducedRows: ReducedRows
    /// Each item's id bucket.
    let itemBuckets: [Int]
    /// The rows that may be recommended, ascending (computed once, not per request).
    public let activeRows: [Int]

    /// Where each item's `x̃` lives.
    enum ReducedRows: Sendable {
        /// `x̃ = row[0..<P]` of the catalogue's flat `Float` rows (`stride` = their width): no copy.
        case rows([Float], stride: Int)
        /// The projected rows, `items × P` doubles, row-major (the projection computes them in `Double`).
        case projected([Double])
    }

    /// Creates a policy with learnt statistics, scoring with `coefficients` (nil: the posterior mean).
    /// - Throws: ``PolicyError`` when the spec is invalid, the statistics do not fit it or are not finite.
    public init(
        spec: OnlinePolicySpec, statistics: BayesianLastLayer? = nil,
        coefficients: BayesianLastLayer.Coefficients? = nil
    ) throws(PolicyError) {
        try self.init(spec: spec, catalogue: nil, statistics: statistics, coefficients: coefficients)
    }

    /// Creates a policy over `catalogue`, the catalogue the spec's items were set from
    /// (``OnlinePolicySpec/setCatalogue(_:)``): the policy keeps that value (its ids, rows, flags and id lookup
    /// are not copied) instead of building its own. A catalogue whose ids, rows or flags are not the spec's is not
    /// used (the policy builds its own from the spec, as ``init(spec:statistics:coefficients:)`` does).
    /// - Throws: ``PolicyError`` when the spec is invalid, the statistics do not fit it or are not finite.
    public init(
        spec: OnlinePolicySpec, catalogue: ItemCatalogue?, statistics: BayesianLastLayer? = nil,
        coefficients: BayesianLastLayer.Coefficients? = nil
    ) throws(PolicyError) {
        if let problem = spec.problem { throw .invalidSpec(problem) }
        try self.init(
            spec: spec, catalogue: catalogue, features: try PolicyFeatures(spec: spec), statistics: statistics,
            coefficients: coefficients)
    }

    /// ``init(spec:catalogue:statistics:coefficients:)`` with the spec's encoding already built (its item projection
    /// is not built twice); the spec's ``OnlinePolicySpec/problem`` was checked.
    init(
        spec: OnlinePolicySpec, catalogue: ItemCatalogue?, features: PolicyFeatures, statistics: BayesianLastLayer?,
        coefficients: BayesianLastLayer.Coefficients? = nil
    ) throws(PolicyError) {
        try PolicyFeatures.checkBucketValues(idBuckets: spec.idBuckets, width: features.width)
        let stats = statistics ?? BayesianLastLayer(width: features.width, buckets: spec.idBuckets)
        guard stats.width == features.width, stats.buckets == spec.idBuckets else {
            throw .weightsMismatch(
                expected: Self.parameterCount(width: features.width, buckets: spec.idBuckets),
                got: Self.parameterCount(width: stats.width, buckets: stats.buckets))
        }
        let chosen: BayesianLastLayer.Coefficients
        if let coefficients {
            guard coefficients.theta.count == stats.width, coefficients.bias.count == stats.buckets else {
                throw .weightsMismatch(expected: stats.width + stats.buckets, got: coefficients.theta.count + coefficients.bias.count)
            }
            chosen = coefficients
        } else {
            guard let mean = stats.coefficients(
                lambda: spec.learning.priorPrecision, interceptMean: spec.learning.priorLogOdds, noise: nil) else {
                throw .nonFiniteWeights
            }
            chosen = mean
        }
        self.spec = spec
        self.features = features
        self.statistics = stats
        self.coefficients = chosen
        if let catalogue, Self.holds(catalogue, itemsOf: spec) {
            self.catalogue = catalogue
        } else {
            self.catalogue = try Self.catalogue(of: spec)
        }
        if features.projects || features.standardises || !Self.withinModelBound(self.catalogue.features) {
            var reduced: [Double] = []
            reduced.reserveCapacity(spec.itemCount * features.itemDims)
            for row in spec.itemFeatures { reduced.append(contentsOf: features.reduce(row)) }
            reducedRows = .projected(reduced)
        } else {
            reducedRows = .rows(self.catalogue.features, stride: spec.itemWidth)
        }
        itemBuckets = spec.itemIds.map { PolicyHash.bucket(itemId: $0, buckets: spec.idBuckets) }
        activeRows = spec.itemActive.indices.filter { spec.itemActive[$0] }
    }

    /// This policy's spec and items with other statistics and coefficients (no re-encoding of the catalogue).
    init(_ other: OnlinePolicy, statistics: BayesianLastLayer, coefficients: BayesianLastLayer.Coefficients) {
        spec = other.spec
        catalogue = other.catalogue
        features = other.features
        reducedRows = other.reducedRows
        itemBuckets = other.itemBuckets
        activeRows = other.activeRows
        self.statistics = statistics
        self.coefficients = coefficients
    }

    /// Whether every item value is within ±``ItemScaling/modelValueBound``, so the catalogue's rows are read as they
    /// are (else they are clipped into a reduced table).
    static func withinModelBound(_ values: [Float]) -> Bool {
        let bound = Float(ItemScaling.modelValueBound)
        return values.allSatisfy { $0 >= -bound && $0 <= bound }
    }

    /// Whether `catalogue` holds exactly the spec's items (ids, rows, flags; equal buffers compare at once).
    static func holds(_ catalogue: ItemCatalogue, itemsOf spec: OnlinePolicySpec) -> Bool {
        catalogue.width == spec.itemWidth && catalogue.count == spec.itemCount && catalogue.ids == spec.itemIds
            && catalogue.active == spec.itemActive && catalogue.features == spec.itemFeatures.values
    }

    /// Item `item`'s reduced row `x̃` (`features.itemDims` values).
    func reducedRow(_ item: Int) -> [Double] {
        let p = features.itemDims
        switch reducedRows {
        case .rows(let rows, let stride):
            return (0..<p).map { Double(rows[item * stride + $0]) }
        case .projected(let rows):
            return Array(rows[(item * p)..<((item + 1) * p)])
        }
    }

    /// The logits `(Θᵀz)·y_a + β_{b(a)}` of `items` for `v = Θᵀz` (`features.yWidth` values), summed in the order
    /// `β`, then `v₀·1`, then `v_{1+j}·x̃_j`.
    func logits(v: [Double], bias: [Double], items: [Int]) -> [Double] {
        let p = features.itemDims
        switch reducedRows {
        case .rows(let rows, let stride):
            return rows.withUnsafeBufferPointer { x in
                items.map { item in
                    var q = bias[itemBuckets[item]]
                    q += v[0] * 1
                    let base = item * stride
                    for j in 0..<p { q += v[1 + j] * Double(x[base + j]) }
                    return q
                }
            }
        case .projected(let rows):
            return rows.withUnsafeBufferPointer { x in
                items.map { item in
                    var q = bias[itemBuckets[item]]
                    q += v[0] * 1
                    let base = item * p
                    for j in 0..<p { q += v[1 + j] * x[base + j] }
                    return q
                }
            }
        }
    }

    /// The untrained policy of a spec: the prior's mean (every score 0). With `catalogue` (the catalogue the spec's
    /// items were set from) the policy shares it rather than building its own
    /// (``init(spec:catalogue:statistics:coefficients:)``).
    public static func initial(spec: OnlinePolicySpec, catalogue: ItemCatalogue? = nil) throws(PolicyError)
        -> OnlinePolicy
    {
        try OnlinePolicy(spec: spec, catalogue: catalogue)
    }

    /// Parameters a pack of this shape holds: the statistics of a `width`-wide interaction vector with `buckets` id
    /// buckets (``BayesianLastLayer``), one `Float` each in a ``ParameterPack``.
    public static func parameterCount(width: Int, buckets: Int) -> Int {
        width * width + width + buckets * (width + 3)
    }

    /// The same spec with other statistics, scoring with their posterior mean.
    /// - Throws: ``PolicyError`` when they do not fit.
    public func with(statistics: BayesianLastLayer) throws(PolicyError) -> OnlinePolicy {
        guard statistics.width == self.statistics.width, statistics.buckets == self.statistics.buckets else {
            throw .weightsMismatch(
                expected: Self.parameterCount(width: self.statistics.width, buckets: self.statistics.buckets),
                got: Self.parameterCount(width: statistics.width, buckets: statistics.buckets))
        }
        guard let mean = statistics.coefficients(
            lambda: spec.learning.priorPrecision, interceptMean: spec.learning.priorLogOdds, noise: nil) else {
            throw .nonFiniteWeights
        }
        return OnlinePolicy(self, statistics: statistics, coefficients: mean)
    }

    /// The same posterior scoring with a Thompson sample drawn from `rng`.
    /// - Throws: ``PolicyError/nonFiniteWeights`` when the posterior cannot be sampled.
    public func sampled(rng: inout Xoshiro256) throws(PolicyError) -> OnlinePolicy {
        try sampled(statistics: statistics, rng: &rng)
    }

    /// A policy of this spec scoring with a Thompson sample of `statistics` drawn from `rng`.
    /// - Throws: ``PolicyError/nonFiniteWeights`` when the posterior cannot be sampled.
    public func sampled(statistics: BayesianLastLayer, rng: inout Xoshiro256) throws(PolicyError) -> OnlinePolicy {
        let stream = Xoshiro256(seed: rng.next())
        guard
            let draw = statistics.coefficients(
                lambda: spec.learning.priorPrecision, interceptMean: spec.learning.priorLogOdds,
                noise: (spec.learning.noiseVariance, stream))
        else { throw .nonFiniteWeights }
        return OnlinePolicy(self, statistics: statistics, coefficients: draw)
    }

    /// Events learnt into the statistics of the item-id bucket of `item`.
    public func shows(item: Int) -> Double { statistics.k[itemBuckets[item]] }

    /// Whether `item` still gets the cold-start exploration (its bucket has fewer than `cold_start_shows` events).
    public func isNew(item: Int) -> Bool { shows(item: item) < Double(spec.learning.coldStartShows) }

    /// The user vector `z` of a context.
    /// - Throws: ``PolicyError`` for an unknown or malformed user feature, an unknown viewed item or a bad dwell.
    public func userVector(_ userFeatures: [String: String], viewed: [ViewedItem] = []) throws(PolicyError) -> [Double] {
        let encoded = try features.encode(userFeatures)
        for view in viewed {
            guard view.item >= 0 && view.item < spec.itemCount else { throw .unknownItem(view.item) }
            guard ViewEvent.admits(seconds: view.seconds) else { throw .invalidDwell(view.seconds) }
        }
        return features.userVector(encoded: encoded, viewed: viewed) { item in reducedRow(item) }
    }

    /// `φ(z, item)` for the item shown at `position`.
    public func interactions(z: [Double], item: Int, position: Int = 0) -> [Double] {
        let y = [1] + reducedRow(item)
        return features.interactions(z: z, y: y[...], position: position)
    }

    /// The item-id bucket of a row.
    public func bucket(of item: Int) -> Int { itemBuckets[item] }

    /// Scores of `items` for a user vector: the click probability `σ(η)` of the logit `η = θᵀφ(z, a) + β_{b(a)}` (top
    /// slot), computed as `(Θᵀz)·y_a + β` in `O(Z·Y + |items|·Y)`.
    public func scores(z: [Double], items: [Int]) -> [Double] {
        let zw = features.zWidth
        let yw = features.yWidth
        var v = [Double](repeating: 0, count: yw)
        let theta = coefficients.theta
        for i in 0..<zw where z[i] != 0 {
            for j in 0..<yw { v[j] += z[i] * theta[i * yw + j] }
        }
        return logits(v: v, bias: coefficients.bias, items: items).map { 1 / (1 + exp(-$0)) }
    }

    /// Scores of every catalogue row (retired ones included) for a context.
    /// - Throws: ``PolicyError`` for a bad context.
    public func qValues(userFeatures: [String: String], viewed: [ViewedItem] = []) throws(PolicyError) -> [Double] {
        scores(z: try userVector(userFeatures, viewed: viewed), items: Array(0..<spec.itemCount))
    }

    /// Builds a slate with exploration.
    /// - Parameters:
    ///   - userFeatures: the raw context.
    ///   - viewed: what the user viewed so far, with dwell (RECOMMEND's `events`).
    ///   - candidates: rows to choose from (retrieval's few hundred), nil for every active item. Retired rows are
    ///     left out; the propensities are exact given the remaining candidates.
    ///   - top: slate length (nil for the spec's slate size); capped at the number of candidates.
    ///   - rng: the exploration stream.
    /// - Throws: ``PolicyError`` for bad features, candidates or `top`.
    public func recommend(
        userFeatures: [String: String], viewed: [ViewedItem] = [], candidates: [Int]? = nil, top: Int? = nil,
        rng: inout Xoshiro256
    ) throws(PolicyError) -> [SlateItem] {
        let length = top ?? spec.slateSize
        // Each slot redraws over the remaining pool, so a slate costs length × pool: both are bounded.
        guard length >= 1 && length <= max(spec.slateSize, Self.maximumTop) else { throw .invalidTop(length) }
        if let candidates, candidates.count > RecommendQuery.maximumCandidates {
            throw .invalidCandidates(
                "at most \(RecommendQuery.maximumCandidates) items may be listed, got \(candidates.count)")
        }
        let pool = try validated(candidates)
        let q = scores(z: try userVector(userFeatures, viewed: viewed), items: pool)
        var remaining = Array(pool.indices)
        var slate: [SlateItem] = []
        for position in 0..<min(length, pool.count) {
            let p = probabilities(remaining.map { q[$0] }, items: remaining.map { pool[$0] })
            let pick = SlateExploration.draw(p, rng: &rng)
            let index = remaining.remove(at: pick)
            slate.append(
                SlateItem(
                    item: pool[index], id: catalogue.ids[pool[index]], position: position, score: q[index],
                    propensity: max(p[pick], 1e-12)))
        }
        return slate
    }

    /// The next slot's distribution over `items` (with scores `q`): the exploration rule plus the cold-start share.
    public func probabilities(_ q: [Double], items: [Int]) -> [Double] {
        SlateExploration.probabilities(
            q, exploration: spec.exploration, isNew: items.map(isNew(item:)),
            coldStartShare: spec.learning.coldStartShare)
    }

    /// The probability that this policy builds `slate` slot by slot from every active item: for each slot, the
    /// probability of its item given the items above it.
    /// - Throws: ``PolicyError`` for bad features or items.
    public func slotProbabilities(
        userFeatures: [String: String], viewed: [ViewedItem] = [], slate: [Int]
    ) throws(PolicyError) -> [Double] {
        let pool = activeRows
        return try slotProbabilities(
            q: scores(z: try userVector(userFeatures, viewed: viewed), items: pool), pool: pool, slate: slate)
    }

    /// ``slotProbabilities(userFeatures:viewed:slate:)`` from the scores `q` of the items `pool`.
    /// - Throws: ``PolicyError/unknownItem(_:)`` for an item outside `pool` or repeated.
    public func slotProbabilities(q: [Double], pool: [Int], slate: [Int]) throws(PolicyError) -> [Double] {
        var remaining = Array(pool.indices)
        var out: [Double] = []
        for item in slate {
            guard let index = remaining.firstIndex(where: { pool[$0] == item }) else { throw .unknownItem(item) }
            let p = probabilities(remaining.map { q[$0] }, items: remaining.map { pool[$0] })
            out.append(p[index])
            remaining.remove(at: index)
        }
        return out
    }

    private func validated(_ candidates: [Int]?) throws(PolicyError) -> [Int] {
        // The pool's state first, whatever the request names: with no active item nothing can be served.
        guard !activeRows.isEmpty else { throw .noActiveItem }
        guard let candidates else { return activeRows }
        guard !candidates.isEmpty else { throw .invalidCandidates("the list is empty") }
        var seen = Set<Int>()
        var out: [Int] = []
        for item in candidates {
            guard item >= 0 && item < spec.itemCount else { throw .unknownItem(item) }
            guard seen.insert(item).inserted else { throw .invalidCandidates("item \(item) appears twice") }
            if spec.itemActive[item] { out.append(item) }
        }
        guard !out.isEmpty else { throw .invalidCandidates("every candidate is a retired item") }
        return out
    }
}
