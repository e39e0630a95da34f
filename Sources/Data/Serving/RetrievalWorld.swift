import RecModel

/// A simulator world seen as a shop, for measuring retrieval: its items as an ``ItemCatalogue`` (numeric features
/// `topic_0…`, a noisy reading of each item's topic vector, so the width is the number of topics whatever the
/// number of items), its users as one-hot states, and a ranker (an item-input Q-network) fitted to its click
/// probabilities. The recall test and `scripts/bench catalogue` share it.
public enum RetrievalWorld {
    /// The noise on the observed topic vector (as the simulator catalogue's).
    public static let topicNoise = 0.25

    /// The world's items as a catalogue: ids `sku-<row>`, features `topic_0 … topic_{d−1}`.
    public static func catalogue(world: SimulatorWorld) -> ItemCatalogue {
        let d = world.config.topics
        var rng = SplitMix64(seed: world.config.seed ^ 0xCA7A_1061)
        let features = world.topicVectors.map { Float($0 + topicNoise * rng.normal()) }
        let encoding = ItemEncoding(categorical: [], numeric: (0..<d).map { "topic_\($0)" })
        // The rows are built here from finite values of the right count, so the initialiser cannot refuse them.
        return try! ItemCatalogue(
            encoding: encoding, ids: (0..<world.config.items).map { "sku-\($0)" }, features: features)
    }

    /// A population user's state: one block per categorical user feature, the user's code set to 1.
    public static func state(world: SimulatorWorld, user: Int) -> [Float] {
        let cardinalities = world.config.userFeatureCardinalities
        var out = [Float](repeating: 0, count: cardinalities.reduce(0, +))
        var offset = 0
        for (j, c) in cardinalities.enumerated() {
            out[offset + Int(world.featureCodes[user * cardinalities.count + j])] = 1
            offset += c
        }
        return out
    }

    /// An item-input Q-network `Q(s ‖ x)` fitted by mean squared error to the world's click probability in the
    /// top slot on `samples` random (user, item) pairs: a ranker as the policy's learner would make one.
    public static func ranker(
        world: SimulatorWorld, catalogue: ItemCatalogue, hiddenSizes: [Int] = [64], samples: Int = 20_000,
        epochs: Int = 3, seed: UInt64 = 1
    ) -> QNetwork {
        let stateWidth = world.config.userFeatureCardinalities.reduce(0, +)
        var net = QNetwork(
            stateWidth: stateWidth, form: .itemInput(itemWidth: catalogue.width), hiddenSizes: hiddenSizes, seed: seed)
        var rng = Xoshiro256(seed: seed)
        var inputs = [Float]()
        var targets = [Float]()
        inputs.reserveCapacity(samples * (stateWidth + catalogue.width))
        for _ in 0..<samples {
            let user = rng.nextInt(below: world.config.users)
            let item = rng.nextInt(below: world.config.items)
            inputs.append(contentsOf: state(world: world, user: user))
            inputs.append(contentsOf: catalogue.row(item))
            targets.append(Float(world.clickProbability(user: user, item: item, position: 0)))
        }
        var trainer = MLPTrainer(model: net.network, loss: .meanSquaredError)
        _ = trainer.fit(
            LabeledData(inputs: Matrix(rows: samples, cols: stateWidth + catalogue.width, values: inputs), targets: targets),
            config: TrainingConfig(
                epochs: epochs, batchSize: 64, validationFraction: 0, seed: seed, loss: .meanSquaredError,
                optimizer: .adam(AdamConfig(learningRate: 0.003))))
        net.network = trainer.model
        return net
    }
}
