import RecModel

/// The rows a job trains and validates on, split exactly as ``RecModel/MLPTrainer/fit(_:config:)``
/// splits them, with the generator as the split leaves it.
public struct TrainingSplit: Sendable {
    /// The training rows.
    public var train: LabeledData
    /// The held-out rows.
    public var validation: LabeledData
    /// `Xoshiro256(seed)` after the split drew its permutation: shard 0's shuffle stream.
    public var shuffleRNG: Xoshiro256
    /// Whether each validation row comes from a cold-start user, when the dataset knows.
    public var validationCold: [Bool]?

    /// Splits `data` with `LabeledData.split(validationFraction:rng:)` on `Xoshiro256(seed)`.
    public init(data: LabeledData, validationFraction: Double, seed: UInt64, validationCold: [Bool]? = nil) {
        var rng = Xoshiro256(seed: seed)
        (train, validation) = data.split(validationFraction: validationFraction, rng: &rng)
        shuffleRNG = rng
        self.validationCold = validationCold
    }

    /// A split made elsewhere (logs split by time, ``RecData/DatasetSplit``): shard 0 shuffles with
    /// `Xoshiro256(seed)`.
    public init(train: LabeledData, validation: LabeledData, seed: UInt64, validationCold: [Bool]? = nil) {
        self.train = train
        self.validation = validation
        shuffleRNG = Xoshiro256(seed: seed)
        self.validationCold = validationCold
    }
}

/// Local SGD (Stich, "Local SGD converges fast and communicates little", 2019): each replica
/// runs H Adam steps on its shard, then the broker averages the replicas.
///
/// The schedule is a pure function of (seed, shard, shards, step), so any worker can run any
/// round of any shard:
/// - shard `i` of `N` is the training rows `i, i+N, i+2N, …` (for `N = 1`, the whole set in order);
/// - epoch `e` visits the shard in the order of the `e`-th permutation of the shard's stream:
///   shard 0 continues the post-split generator (so `N = 1` reproduces `MLPTrainer.fit`
///   exactly), shard `i > 0` uses `Xoshiro256(seed: shardSeed(seed, i))`;
/// - step `s` is batch `s mod S` of epoch `⌊s / S⌋`, where `S = ⌈rows / batch⌉` and the last
///   batch of an epoch may be smaller.
public enum LocalSGD {
    /// What a run of local steps produced.
    public struct Outcome: Sendable, Equatable {
        /// The state after the steps.
        public var state: TrainingState
        /// Rows processed.
        public var samples: Int
        /// Mean training loss over those rows; nil when no row was trained on (no step ran), where it is undefined.
        public var loss: Double?
        /// The local step reached.
        public var step: Int
        /// Steps per epoch of this shard.
        public var stepsPerEpoch: Int
        /// Steps of the whole job for this shard (epochs × steps per epoch).
        public var totalSteps: Int
    }

    /// The seed of shard `shard`'s shuffle stream for `shard > 0`: `seed ⊕ (shard · φ·2⁶⁴)`,
    /// the golden-ratio increment of SplitMix64, so neighbouring shards get unrelated streams.
    public static func shardSeed(_ seed: UInt64, _ shard: Int) -> UInt64 {
        seed ^ (UInt64(shard) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Indices into `split.train` of shard `shard` of `shards`.
    public static func shardRows(trainCount: Int, shard: Int, shards: Int) -> [Int] {
        guard shard < trainCount else { return [] }
        return Array(stride(from: shard, to: trainCount, by: shards))
    }

    /// Steps per epoch for a shard of `rows` rows.
    public static func stepsPerEpoch(rows: Int, batch: Int) -> Int { (rows + batch - 1) / batch }

    /// Runs steps `fromStep ..< min(fromStep + steps, totalSteps)` of shard `shard` from `state`.
    /// - Parameters:
    ///   - state: The state to start from.
    ///   - split: The job's split.
    ///   - seed: The job's seed.
    ///   - shard: This shard, in `0..<shards`.
    ///   - shards: The number of shards.
    ///   - epochs: Epochs of the job.
    ///   - batch: Rows per step.
    ///   - learningRate: Adam's step size.
    ///   - fromStep: The local step to start at.
    ///   - steps: How many steps to run (H).
    /// - Returns: The new state, samples, mean loss and the step reached.
    public static func run(
        state: TrainingState, split: TrainingSplit, seed: UInt64, shard: Int, shards: Int, epochs: Int, batch: Int,
        learningRate: Float, fromStep: Int, steps: Int
    ) -> Outcome {
        precondition(shards > 0 && (0..<shards).contains(shard), "LocalSGD: shard \(shard) of \(shards)")
        precondition(batch > 0 && fromStep >= 0 && steps >= 0, "LocalSGD: batch > 0, fromStep ≥ 0, steps ≥ 0")
        let rows = shardRows(trainCount: split.train.count, shard: shard, shards: shards)
        let perEpoch = stepsPerEpoch(rows: rows.count, batch: batch)
        let total = perEpoch.multipliedSaturating(by: epochs)
        let end = steps >= total - min(fromStep, total) ? total : fromStep + steps  // no overflow on huge inputs
        var trainer = MLPTrainer(model: state.model, optimizer: .adam(AdamConfig(learningRate: learningRate)))
        trainer.state = state.optimizer
        guard fromStep < end else {
            return Outcome(
                state: state, samples: 0, loss: nil, step: min(fromStep, total), stepsPerEpoch: perEpoch,
                totalSteps: total)
        }
        var rng = shard == 0 ? split.shuffleRNG : Xoshiro256(seed: shardSeed(seed, shard))
        // Replay the permutations of the epochs before `fromStep`'s: O(rows) each, no training.
        var epoch = fromStep / perEpoch
        for _ in 0..<epoch { _ = rng.permutation(rows.count) }
        var order = rng.permutation(rows.count)
        var samples = 0
        var lossSum: Double = 0
        for step in fromStep..<end {
            if step / perEpoch != epoch {
                epoch = step / perEpoch
                order = rng.permutation(rows.count)
            }
            let start = (step % perEpoch) * batch
            let stop = min(start + batch, rows.count)
            // Gathered into the trainer's workspace: the same step as on a subset, without building one.
            lossSum += Double(trainer.step(from: split.train, rows: order[start..<stop].lazy.map { rows[$0] })) * Double(stop - start)
            samples += stop - start
        }
        return Outcome(
            state: TrainingState(model: trainer.model, optimizer: trainer.state), samples: samples,
            loss: samples > 0 ? lossSum / Double(samples) : nil, step: end, stepsPerEpoch: perEpoch, totalSteps: total)
    }
}
