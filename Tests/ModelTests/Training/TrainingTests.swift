import Testing

@testable import RecModel

@Suite("Training the interest model")
struct TrainingTests {
    /// Label 1 exactly when x₀ + x₁ − x₂ > 0: a problem whose answer is known.
    static func synthetic(rows: Int, width: Int, seed: UInt64) -> LabeledData {
        var rng = Xoshiro256(seed: seed)
        var x = [Float](), y = [Float]()
        for _ in 0..<rows {
            let row = (0..<width).map { _ in rng.nextFloat(in: -1, 1) }
            x += row
            y.append(row[0] + row[1] - row[2] > 0 ? 1 : 0)
        }
        return LabeledData(inputs: Matrix(rows: rows, cols: width, values: x), targets: y)
    }

    @Test("the MLP learns a linearly separable rule to high accuracy")
    func learns() {
        let train = Self.synthetic(rows: 2000, width: 8, seed: 1)
        let test = Self.synthetic(rows: 1000, width: 8, seed: 2)
        var trainer = MLPTrainer(model: MLP(inputWidth: 8, hiddenSizes: [16, 8], seed: 4))
        let before = trainer.evaluateLoss(test)
        let history = trainer.fit(train, config: TrainingConfig(epochs: 20, seed: 1))
        let after = trainer.evaluateLoss(test)
        let predicted = trainer.model.predict(test.inputs)
        let correct = zip(predicted, test.targets).filter { ($0 >= 0.5) == ($1 > 0.5) }.count
        #expect(history.epochs.count == 20)
        #expect(history.epochs.last!.trainLoss < history.epochs.first!.trainLoss)
        #expect(Double(correct) / Double(test.count) > 0.95)
        #expect(after < before / 3)
    }

    @Test("the same seed trains to the same weights bit for bit")
    func deterministic() {
        let data = Self.synthetic(rows: 300, width: 5, seed: 3)
        var a = MLPTrainer(model: MLP(inputWidth: 5, seed: 8))
        var b = MLPTrainer(model: MLP(inputWidth: 5, seed: 8))
        a.fit(data, config: TrainingConfig(epochs: 3, seed: 2))
        b.fit(data, config: TrainingConfig(epochs: 3, seed: 2))
        #expect(a == b)
        var c = MLPTrainer(model: MLP(inputWidth: 5, seed: 8))
        c.fit(data, config: TrainingConfig(epochs: 3, seed: 3))
        #expect(a.model != c.model)
    }

    @Test("early stopping ends the run and restores the best validation weights")
    func earlyStopping() {
        // Random labels: validation loss stops improving quickly.
        var rng = Xoshiro256(seed: 6)
        let x = Matrix(rows: 200, cols: 20, values: (0..<4000).map { _ in rng.nextFloat(in: -1, 1) })
        let data = LabeledData(inputs: x, targets: (0..<200).map { _ in Float(rng.nextInt(below: 2)) })
        var trainer = MLPTrainer(model: MLP(inputWidth: 20, hiddenSizes: [64, 64], seed: 1), optimizer: .adam(AdamConfig(learningRate: 0.01)))
        let h = trainer.fit(data, config: TrainingConfig(epochs: 200, seed: 1, earlyStoppingPatience: 3))
        #expect(h.stoppedEarly)
        #expect(h.epochs.count < 200)
        let bestLoss = h.epochs.compactMap(\.validationLoss).min()!
        var splitRNG = Xoshiro256(seed: 1)  // fit's split draws first from the config seed
        let (_, v) = data.split(validationFraction: 0.2, rng: &splitRNG)
        #expect(abs(trainer.evaluateLoss(v) - bestLoss) < 1e-6)
    }

    @Test("SGD without momentum moves each weight by exactly −lr·gradient")
    func sgdStep() {
        let model = MLP(inputWidth: 3, hiddenSizes: [2], seed: 1)
        let batch = LabeledData(inputs: Matrix(rowArrays: [[1, 2, 3], [-1, 0, 1]]), targets: [1, 0])
        let (_, g) = model.valueAndGradient(input: batch.inputs, targets: batch.targets, loss: .binaryCrossEntropy)
        var trainer = MLPTrainer(model: model, optimizer: .sgd(SGDConfig(learningRate: 0.5)))
        trainer.step(batch)
        let want = zip(model.flatParameters, g.flat).map { $0 - 0.5 * $1 }
        #expect(trainer.model.flatParameters == want)
    }

    @Test("flat parameter and moment views round-trip")
    func flatViews() {
        var trainer = MLPTrainer(model: MLP(inputWidth: 4, seed: 2))
        trainer.step(LabeledData(inputs: Matrix(rowArrays: [[1, 0, 0, 1]]), targets: [1]))
        var copy = trainer
        copy.model.flatParameters = trainer.model.flatParameters
        copy.state.flatMoments = trainer.state.flatMoments
        #expect(copy == trainer)
        #expect(trainer.state.flatMoments.count == 2 * trainer.model.parameterCount)
    }
}

@Suite("Keeping the best validation epoch")
struct BestEpochTests {
    /// Random labels and a large step: the validation loss is lowest early and rises after it.
    static func noisy() -> (LabeledData, LabeledData) {
        var rng = Xoshiro256(seed: 11)
        func part(_ rows: Int) -> LabeledData {
            let x = Matrix(rows: rows, cols: 12, values: (0..<(rows * 12)).map { _ in rng.nextFloat(in: -1, 1) })
            return LabeledData(inputs: x, targets: (0..<rows).map { _ in Float(rng.nextInt(below: 2)) })
        }
        return (part(160), part(80))
    }

    static func trainer() -> MLPTrainer {
        MLPTrainer(
            model: MLP(inputWidth: 12, hiddenSizes: [32, 16], seed: 3), optimizer: .adam(AdamConfig(learningRate: 0.02)))
    }

    @Test("a run whose validation loss rises after epoch 2 ends with epoch 2's weights, and stops after the patience")
    func restoresBestEpoch() {
        let (train, validation) = Self.noisy()
        var rng = Xoshiro256(seed: 5)
        var restored = Self.trainer()
        let history = restored.fit(
            train: train, validation: validation, config: TrainingConfig(epochs: 8, seed: 5, earlyStoppingPatience: 4),
            rng: &rng)
        let losses = history.epochs.compactMap(\.validationLoss)
        #expect(history.bestEpoch == 1, "validation losses \(losses)")
        #expect(losses[2...].allSatisfy { $0 > losses[1] }, "validation losses \(losses)")
        #expect(history.stoppedEarly && history.epochs.count == 6 && history.restoredBest)
        // The same run stopped by hand after epoch 2 holds exactly the weights the restored run ends with.
        var rng2 = Xoshiro256(seed: 5)
        var twoEpochs = Self.trainer()
        twoEpochs.fit(
            train: train, validation: validation, config: TrainingConfig(epochs: 2, seed: 5, restoreBestEpoch: false),
            rng: &rng2)
        #expect(restored.model == twoEpochs.model)
        #expect(restored.state == twoEpochs.state)
        #expect(restored.evaluateLoss(validation) == losses[1])
    }

    @Test("patience running out on the last epoch asked for is not a stop: every epoch ran, stopped early is false")
    func patienceOnTheLastEpochIsNoStop() {
        // The run above stops after epoch 6 (best epoch 2, patience 4); asked for exactly 6 epochs it runs them all.
        let (train, validation) = Self.noisy()
        var rng = Xoshiro256(seed: 5)
        var trainer = Self.trainer()
        let history = trainer.fit(
            train: train, validation: validation, config: TrainingConfig(epochs: 6, seed: 5, earlyStoppingPatience: 4),
            rng: &rng)
        #expect(history.epochs.count == 6)
        #expect(history.bestEpoch == 1)
        #expect(!history.stoppedEarly)
        #expect(history.restoredBest)
        // One epoch more and the same patience does stop it early, after 6 of 7.
        var rng7 = Xoshiro256(seed: 5)
        var seven = Self.trainer()
        let stopped = seven.fit(
            train: train, validation: validation, config: TrainingConfig(epochs: 7, seed: 5, earlyStoppingPatience: 4),
            rng: &rng7)
        #expect(stopped.stoppedEarly && stopped.epochs.count == 6)
    }

    @Test("--no-restore-best keeps the last epoch, and patience 0 runs every epoch")
    func keepsLastEpoch() {
        let (train, validation) = Self.noisy()
        var rng = Xoshiro256(seed: 5)
        var last = Self.trainer()
        let history = last.fit(
            train: train, validation: validation,
            config: TrainingConfig(epochs: 8, seed: 5, earlyStoppingPatience: 0, restoreBestEpoch: false), rng: &rng)
        #expect(history.epochs.count == 8 && !history.stoppedEarly && !history.restoredBest)
        #expect(history.bestEpoch == 1)
        #expect(last.evaluateLoss(validation) == history.epochs[7].validationLoss)
    }

    @Test("a model started at the constant predictor scores the click rate and never ends validating worse than it")
    func neverWorseThanConstant() {
        let (train, validation) = Self.noisy()
        var trainer = Self.trainer()
        let rate = Double(train.targets.reduce(0, +)) / Double(train.count)
        let started = trainer.startFromConstant(clickRate: rate)
        #expect(started)
        let start = trainer.model.predict(validation.inputs)
        #expect(start.allSatisfy { abs(Double($0) - rate) < 1e-6 })
        var rng = Xoshiro256(seed: 5)
        let history = trainer.fit(
            train: train, validation: validation,
            config: TrainingConfig(epochs: 6, seed: 5, earlyStoppingPatience: 3, startingWeightsCandidate: true),
            rng: &rng)
        // Whatever the epochs do, the run ends at the lowest of the constant's and the epochs' validation losses.
        let constant = MLPTrainer(model: { var m = Self.trainer(); m.startFromConstant(clickRate: rate); return m.model }())
            .evaluateLoss(validation)
        let losses = history.epochs.compactMap(\.validationLoss)
        let lowest = min(constant, losses.min()!)
        #expect(trainer.evaluateLoss(validation) == lowest && lowest <= constant)
        #expect(history.bestEpoch == (lowest == constant ? -1 : losses.firstIndex(of: lowest)))
    }
}
