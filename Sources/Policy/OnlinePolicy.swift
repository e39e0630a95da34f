import RecData
import RecModel
import RecWire

/// An online recommendation policy: an item-as-input Q-network over a catalogue, with exploration.
///
/// `Q(s, a) = f(s ‖ x_a)` where `s` is the one-hot encoding of the user's categorical features and `x_a` the
/// item's features from the ``OnlinePolicySpec``. A slate is built slot by slot by ``SlateExploration``, so
/// every shown item has a known propensity. The value is immutable; learning produces a new policy.
public struct OnlinePolicy: Sendable {
    /// The catalogue, encoding, exploration and learning settings.
    public let spec: OnlinePolicySpec
    /// The Q-network.
    public let network: QNetwork
    /// The catalogue's item features, `items × itemWidth`.
    public let items: Matrix
    private let codes: [[String: Int]]

    /// Creates a policy from a spec and a network of the spec's shape.
    /// - Throws: ``PolicyError`` when the spec is invalid or the network does not fit it.
    public init(spec: OnlinePolicySpec, network: QNetwork) throws(PolicyError) {
        if let problem = spec.problem { throw .invalidSpec(problem) }
        let expected = Self.network(spec: spec).network.parameterCount
        guard network.network.parameterCount == expected, network.stateWidth == spec.stateWidth,
            network.form == .itemInput(itemWidth: spec.itemWidth)
        else { throw .weightsMismatch(expected: expected, got: network.network.parameterCount) }
        guard network.network.flatParameters.allSatisfy(\.isFinite) else { throw .nonFiniteWeights }
        self.spec = spec
        self.network = network
        items = Matrix(rows: spec.itemCount, cols: spec.itemWidth, values: spec.itemFeatures.flatMap { $0 })
        codes = spec.userFeatureCardinalities.enumerated().map { feature, cardinality in
            Dictionary(uniqueKeysWithValues: (0..<cardinality).map {
                (SimulatorWorld.categoryName(feature: feature, code: $0), $0)
            })
        }
    }

    /// The untrained policy of a spec: Glorot-initialised from `spec.seed`.
    public static func initial(spec: OnlinePolicySpec) throws(PolicyError) -> OnlinePolicy {
        if let problem = spec.problem { throw .invalidSpec(problem) }
        return try OnlinePolicy(spec: spec, network: network(spec: spec))
    }

    /// A fresh network of the spec's shape.
    static func network(spec: OnlinePolicySpec) -> QNetwork {
        QNetwork(
            stateWidth: spec.stateWidth, form: .itemInput(itemWidth: max(spec.itemWidth, 1)),
            hiddenSizes: spec.hiddenSizes, seed: spec.seed)
    }

    /// The same spec with other weights.
    /// - Throws: ``PolicyError`` when the weights do not fit.
    public func with(parameters: [Float]) throws(PolicyError) -> OnlinePolicy {
        var net = network
        guard parameters.count == net.network.parameterCount else {
            throw .weightsMismatch(expected: net.network.parameterCount, got: parameters.count)
        }
        net.network.flatParameters = parameters
        return try OnlinePolicy(spec: spec, network: net)
    }

    /// The one-hot state of a user: feature `user_feature_j` with value `u{j}_{k}` sets slot `k` of block `j`.
    /// Values outside the catalogue leave their block zero.
    /// - Throws: ``PolicyError/unknownUserFeature(_:)`` for a feature name the spec does not have.
    public func state(_ userFeatures: [String: String]) throws(PolicyError) -> [Float] {
        var out = [Float](repeating: 0, count: spec.stateWidth)
        var known = 0
        var offset = 0
        for (feature, cardinality) in spec.userFeatureCardinalities.enumerated() {
            if let value = userFeatures["user_feature_\(feature)"] {
                known += 1
                if let code = codes[feature][value] { out[offset + code] = 1 }
            }
            offset += cardinality
        }
        if known != userFeatures.count {
            let names = Set(spec.userFeatureCardinalities.indices.map { "user_feature_\($0)" })
            if let unknown = userFeatures.keys.sorted().first(where: { !names.contains($0) }) {
                throw .unknownUserFeature(unknown)
            }
        }
        return out
    }

    /// Q-values of every catalogue item for a state.
    public func qValues(state: [Float]) -> [Double] {
        network.qValues(states: Matrix(rows: 1, cols: state.count, values: state), items: items).values.map(Double.init)
    }

    /// Builds a slate for a user with exploration.
    /// - Parameters:
    ///   - userFeatures: the raw context.
    ///   - candidates: items allowed (nil for the whole catalogue).
    ///   - top: slate length (nil for the spec's slate size); capped at the number of candidates.
    ///   - rng: the exploration stream.
    /// - Throws: ``PolicyError`` for bad features, candidates or `top`.
    public func recommend(
        userFeatures: [String: String], candidates: [Int]? = nil, top: Int? = nil, rng: inout Xoshiro256
    ) throws(PolicyError) -> [SlateItem] {
        let pool = try validated(candidates)
        let length = top ?? spec.slateSize
        guard length >= 1 else { throw .invalidTop(length) }
        let q = qValues(state: try state(userFeatures))
        var remaining = pool
        var slate: [SlateItem] = []
        for position in 0..<min(length, pool.count) {
            let p = SlateExploration.probabilities(remaining.map { q[$0] }, exploration: spec.exploration)
            let pick = SlateExploration.draw(p, rng: &rng)
            let item = remaining.remove(at: pick)
            slate.append(SlateItem(item: item, position: position, score: q[item], propensity: max(p[pick], 1e-12)))
        }
        return slate
    }

    /// Q-values of every catalogue item for each of many states, in one forward pass.
    public func qValues(states: [[Float]]) -> [[Double]] {
        guard !states.isEmpty else { return [] }
        let m = network.qValues(
            states: Matrix(rows: states.count, cols: spec.stateWidth, values: states.flatMap { $0 }), items: items)
        return (0..<states.count).map { i in m.values[(i * m.cols)..<((i + 1) * m.cols)].map(Double.init) }
    }

    /// The probability that this policy builds `slate` slot by slot: for each slot, the probability of its
    /// item given the items above it, with every catalogue item a candidate.
    /// - Throws: ``PolicyError`` for bad features or items.
    public func slotProbabilities(userFeatures: [String: String], slate: [Int]) throws(PolicyError) -> [Double] {
        try slotProbabilities(q: qValues(state: try state(userFeatures)), slate: slate)
    }

    /// ``slotProbabilities(userFeatures:slate:)`` from the user's Q-values over the catalogue.
    /// - Throws: ``PolicyError/unknownItem(_:)`` for an item outside the catalogue or repeated.
    public func slotProbabilities(q: [Double], slate: [Int]) throws(PolicyError) -> [Double] {
        var remaining = Array(0..<spec.itemCount)
        var out: [Double] = []
        for item in slate {
            guard let index = remaining.firstIndex(of: item) else { throw .unknownItem(item) }
            let p = SlateExploration.probabilities(remaining.map { q[$0] }, exploration: spec.exploration)
            out.append(p[index])
            remaining.remove(at: index)
        }
        return out
    }

    private func validated(_ candidates: [Int]?) throws(PolicyError) -> [Int] {
        guard let candidates else { return Array(0..<spec.itemCount) }
        guard !candidates.isEmpty else { throw .invalidCandidates("the list is empty") }
        var seen = Set<Int>()
        for item in candidates {
            guard item >= 0 && item < spec.itemCount else { throw .unknownItem(item) }
            guard seen.insert(item).inserted else { throw .invalidCandidates("item \(item) appears twice") }
        }
        return candidates
    }
}
