import RecData
import RecModel
import RecWire

/// The simulator world as one catalogue among others: an ``ItemCatalogue`` of its items and the user-feature
/// schema of its users, so a live pool can serve the simulated users of `recpool simulate`.
///
/// An item's public features are a noisy reading of its topic vector (what a catalogue's category and tag
/// attributes would say), columns `topic_0…`; its id is `item_{k}` (two digits) and its quality is not observed.
/// Users are described by the world's categorical features `user_feature_j` with values `u{j}_{kk}`, each
/// value known to the encoding.
public enum SimulatorCatalog {
    /// The noise on the observed topic vector.
    public static let topicNoise = 0.25

    /// The external id of item `k`.
    public static func itemId(_ k: Int) -> String { k < 10 ? "item_0\(k)" : "item_\(k)" }

    /// The world's items as a catalogue (every item active).
    public static func catalogue(world: SimulatorWorld) -> ItemCatalogue {
        let config = world.config
        var rng = SplitMix64(seed: config.seed ^ 0xCA7A_1061)
        let d = config.topics
        var values: [Float] = []
        for item in 0..<config.items {
            for t in 0..<d { values.append(Float(world.topicVectors[item * d + t] + topicNoise * rng.normal())) }
        }
        let encoding = ItemEncoding(categorical: [], numeric: (0..<d).map { "topic_\($0)" })
        // The rows are finite by construction and the ids distinct, so this cannot fail.
        return try! ItemCatalogue(encoding: encoding, ids: (0..<config.items).map(itemId), features: values)
    }

    /// The world's user features, each with its values known.
    public static func userFeatures(world: SimulatorWorld, buckets: Int = 1) -> [UserFeatureSpec] {
        world.config.userFeatureCardinalities.enumerated().map { j, cardinality in
            UserFeatureSpec(
                name: "user_feature_\(j)", kind: .categorical,
                values: (0..<cardinality).map { SimulatorWorld.categoryName(feature: j, code: $0) }, buckets: buckets)
        }
    }

    /// The spec for `world`.
    public static func spec(
        world: SimulatorWorld, exploration: ExplorationSpec = ExplorationSpec(),
        learning: OnlineLearningSpec = OnlineLearningSpec(), seed: UInt64 = 1
    ) -> OnlinePolicySpec {
        var spec = OnlinePolicySpec(
            userFeatures: userFeatures(world: world), itemFeatures: [], slateSize: world.config.positions,
            exploration: exploration, learning: learning, seed: seed)
        spec.setCatalogue(catalogue(world: world))
        return spec
    }
}
