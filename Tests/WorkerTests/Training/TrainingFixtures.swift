import RecModel
import RecWire
import Worker

/// Small deterministic jobs for the training tests.
enum TrainingFixtures {
    /// A CSV of `rows` rows, 4 features and a `label` from a noisy logistic rule; an odd row
    /// count so that epochs end with a smaller batch.
    static func csv(rows: Int = 203, seed: UInt64 = 11) -> [UInt8] {
        var rng = Xoshiro256(seed: seed)
        var text = "a,b,c,d,label\n"
        for _ in 0..<rows {
            let x = (0..<4).map { _ in rng.nextFloat(in: -1, 1) }
            let z = 2 * x[0] - x[1] + 0.5 * x[2] * x[3] + 0.3 * rng.nextGaussian()
            text += x.map { "\($0)" }.joined(separator: ",") + ",\(z > 0 ? 1 : 0)\n"
        }
        return Array(text.utf8)
    }

    static let bytes = csv()
    static var name: String { "sha256:" + sha256Hex(bytes) }

    static func spec(
        dataset: String = name, epochs: Int = 3, batch: Int = 16, workers: Int = 1, syncEvery: Int = 7,
        hidden: [Int]? = [8, 4], seed: UInt64 = 42
    ) -> TrainJobSpec {
        TrainJobSpec(
            dataset: dataset, epochs: epochs, batch: batch, lr: 0.01, hidden: hidden, workers: workers,
            syncEvery: syncEvery, seed: seed, validation: 0.2)
    }

    static func assignment(
        _ spec: TrainJobSpec, round: Int = 1, shard: Int = 0, shards: Int = 1, fromStep: Int = 0, steps: Int,
        state: [UInt8] = [], evaluate: Bool = false, finalize: Bool = false, included: Bool = true
    ) -> RoundAssignment {
        RoundAssignment(
            job: "job-1", round: round, shard: shard, shards: shards, fromStep: fromStep, steps: steps, spec: spec,
            stateSHA: state.isEmpty ? "" : sha256Hex(state), evaluate: evaluate, finalize: finalize,
            datasetIncluded: included)
    }

    /// `recpool fit` on the same data and settings.
    static func reference(_ spec: TrainJobSpec, csv: [UInt8] = bytes) throws -> MLPTrainer {
        let data = try NumericCSV.parse(String(decoding: csv, as: UTF8.self), path: "x.csv", headerRequired: true)
            .labeledData()
        var trainer = MLPTrainer(
            model: MLP(inputWidth: data.inputs.cols, hiddenSizes: spec.hidden, seed: spec.seed),
            optimizer: .adam(AdamConfig(learningRate: Float(spec.lr))))
        trainer.fit(
            data,
            config: TrainingConfig(
                epochs: spec.epochs, batchSize: spec.batch, validationFraction: spec.validation, seed: spec.seed))
        return trainer
    }

    /// What the broker does between rounds: the sample-weighted mean of the replicas' packs.
    static func average(_ results: [(report: RoundReport, body: [UInt8])]) throws -> [UInt8] {
        try ParameterPack.weightedMean(
            results.map { (try ParameterPack(decoding: $0.body), Double($0.report.samples)) }
        ).encoded()
    }
}
