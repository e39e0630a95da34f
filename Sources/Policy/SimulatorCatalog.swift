import RecData
import RecModel
import RecWire

/// Builds an ``OnlinePolicySpec`` whose catalogue is a simulator world's items, so a live pool can serve the
/// simulated users of `recpool simulate`.
///
/// An item's public features are its one-hot id followed by a noisy reading of its topic vector (what a
/// catalogue's category and tag attributes would say); its quality is not observed. Users are described by
/// the world's categorical features.
public enum SimulatorCatalog {
    /// The noise on the observed topic vector.
    public static let topicNoise = 0.25

    /// The spec for `world`.
    public static func spec(
        world: SimulatorWorld, hiddenSizes: [Int] = [64], exploration: ExplorationSpec = ExplorationSpec(),
        learning: OnlineLearningSpec = OnlineLearningSpec(), seed: UInt64 = 1
    ) -> OnlinePolicySpec {
        let config = world.config
        var rng = SplitMix64(seed: config.seed ^ 0xCA7A_1061)
        let d = config.topics
        let features: [[Float]] = (0..<config.items).map { item in
            var row = [Float](repeating: 0, count: config.items)
            row[item] = 1
            for t in 0..<d {
                row.append(Float(world.topicVectors[item * d + t] + topicNoise * rng.normal()))
            }
            return row
        }
        return OnlinePolicySpec(
            userFeatureCardinalities: config.userFeatureCardinalities, itemFeatures: features,
            hiddenSizes: hiddenSizes, slateSize: config.positions, exploration: exploration, learning: learning,
            seed: seed)
    }
}
