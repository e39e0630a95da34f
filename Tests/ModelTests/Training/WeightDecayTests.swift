import Foundation
import Testing

@testable import RecModel

@Suite("Decoupled weight decay and the constant predictor")
struct WeightDecayTests {
    /// Rows with a real but weak signal and a low positive rate, as clicks are: `x ∈ U(−1, 1)^8` and
    /// `P(y = 1) = σ(−3 + 1.5·x₀ − 1.5·x₁ + x₂·x₃)`, about 7% positives.
    static func clicks(rows: Int, seed: UInt64) -> LabeledData {
        var rng = Xoshiro256(seed: seed)
        var x = [Float](), y = [Float]()
        for _ in 0..<rows {
            let row = (0..<8).map { _ in rng.nextFloat(in: -1, 1) }
            let z = -3 + 1.5 * row[0] - 1.5 * row[1] + row[2] * row[3]
            x += row
            y.append(rng.nextFloat(in: 0, 1) < 1 / (1 + exp(-z)) ? 1 : 0)
        }
        return LabeledData(inputs: Matrix(rows: rows, cols: 8, values: x), targets: y)
    }

    /// Mean binary cross-entropy of `scores` on `labels` (scores clamped to [1e-7, 1 − 1e-7]).
    static func logLoss(_ scores: [Float], _ labels: [Float]) -> Double {
        zip(scores, labels).map { s, y in
            let p = min(max(Double(s), 1e-7), 1 - 1e-7)
            return -(Double(y) * log(p) + (1 - Double(y)) * log(1 - p))
        }.reduce(0, +) / Double(labels.count)
    }

    @Test("one step multiplies every weight matrix by 1 − lr·λ after the update and leaves the biases alone")
    func decayIsDecoupled() {
        let model = MLP(inputWidth: 3, hiddenSizes: [4, 2], seed: 1)
        let batch = LabeledData(inputs: Matrix(rowArrays: [[1, 2, 3], [-1, 0, 1]]), targets: [1, 0])
        var plain = MLPTrainer(model: model, optimizer: .sgd(SGDConfig(learningRate: 0.5)))
        var decayed = MLPTrainer(model: model, optimizer: .sgd(SGDConfig(learningRate: 0.5)), weightDecay: 0.2)
        plain.step(batch)
        decayed.step(batch)
        let keep: Float = 1 - 0.5 * 0.2
        for (p, d) in zip(plain.model.layers, decayed.model.layers) {
            #expect(d.weight.values == p.weight.values.map { $0 * keep })
            #expect(d.bias == p.bias)
        }
        // λ = 0 is exactly the plain optimiser.
        var zero = MLPTrainer(model: model, optimizer: .sgd(SGDConfig(learningRate: 0.5)), weightDecay: 0)
        zero.step(batch)
        #expect(zero.model == plain.model)
    }

    @Test("with only the decay acting, the output layer returns to the constant predictor's zero weights")
    func decayPullsTowardTheConstant() {
        // SGD at lr 0.1 with λ 5 multiplies the weights by 0.5 per step; on an all-zero row whose target is the
        // click rate every gradient is 0 (or, for the output bias, below float rounding), so only the decay acts.
        var trainer = MLPTrainer(model: MLP(inputWidth: 4, hiddenSizes: [3], seed: 2))
        trainer.startFromConstant(clickRate: 0.05)
        trainer.model.layers[1].weight.values = [0.8, -0.4, 0.2]
        let bias = trainer.model.layers[1].bias
        var decaying = MLPTrainer(
            model: trainer.model, optimizer: .sgd(SGDConfig(learningRate: 0.1)), weightDecay: 5)
        let batch = LabeledData(inputs: Matrix(zeros: 1, cols: 4), targets: [0.05])
        for _ in 0..<40 { decaying.step(batch) }
        #expect(decaying.model.layers.allSatisfy { $0.weight.values.allSatisfy { abs($0) < 1e-9 } })
        #expect(zip(decaying.model.layers[1].bias, bias).allSatisfy { abs($0 - $1) < 1e-6 })
        let scores = decaying.model.predict(Matrix(rowArrays: [[1, -1, 0.5, 0]]))
        #expect(abs(Double(scores[0]) - 0.05) < 0.01)
    }

    @Test("the default architecture started at the constant, with decay and best-epoch restore, beats it on new rows")
    func beatsTheConstantOnHeldOutRows() {
        let train = Self.clicks(rows: 3000, seed: 1)
        let validation = Self.clicks(rows: 1000, seed: 2)
        let test = Self.clicks(rows: 3000, seed: 3)
        let rate = train.targets.reduce(0, +) / Float(train.count)
        var trainer = MLPTrainer(model: MLP(inputWidth: 8, seed: 4), weightDecay: 0.1)
        trainer.startFromConstant(clickRate: Double(rate))
        var rng = Xoshiro256(seed: 5)
        let history = trainer.fit(
            train: train, validation: validation,
            config: TrainingConfig(epochs: 10, seed: 5, earlyStoppingPatience: 3, startingWeightsCandidate: true),
            rng: &rng)
        let constant = Self.logLoss([Float](repeating: rate, count: test.count), test.targets)
        let model = Self.logLoss(trainer.model.predict(test.inputs), test.targets)
        #expect(history.bestEpoch ?? -1 >= 0, "no epoch beat the constant on validation: \(history.epochs)")
        #expect(model < 0.95 * constant, "test log-loss \(model) against the constant's \(constant)")
    }
}
