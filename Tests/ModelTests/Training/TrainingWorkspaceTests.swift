import Testing

@testable import RecModel

/// The training step on reused buffers (``TrainingWorkspace``, issue #19): the same loss, gradient
/// and updated weights, bit for bit, as the allocating path (``MLP/valueAndGradient(input:targets:loss:)``
/// then ``Optimizer/update(_:gradient:state:)``), whatever the batch sizes, losses and optimisers,
/// and buffers that stop growing once a batch size has been seen.
@Suite("Training step on a reused workspace")
struct TrainingWorkspaceTests {
    /// `rows` random rows of `width` features with `k` targets each (0/1 labels for cross-entropy).
    static func data(rows: Int, width: Int, k: Int = 1, labels: Bool = true, seed: UInt64) -> LabeledData {
        var rng = Xoshiro256(seed: seed)
        let x = (0..<(rows * width)).map { _ in rng.nextFloat(in: -2, 2) }
        let y = (0..<(rows * k)).map { _ in labels ? Float(rng.nextInt(below: 2)) : rng.nextFloat(in: -1, 1) }
        return LabeledData(inputs: Matrix(rows: rows, cols: width, values: x), targets: y)
    }

    /// One step the allocating way: the reference the workspace path must equal.
    static func referenceStep(
        _ model: inout MLP, _ state: inout OptimizerState, _ batch: LabeledData, _ optimizer: Optimizer, _ loss: Loss
    ) -> Float {
        let (value, gradient) = model.valueAndGradient(input: batch.inputs, targets: batch.targets, loss: loss)
        optimizer.update(&model, gradient: gradient, state: &state)
        return value
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var hidden: [Int]
        var outputs: Int
        var activation: Activation
        var optimizer: Optimizer
        var loss: Loss
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "interest model, BCE, Adam", hidden: [12, 6], outputs: 1, activation: .sigmoid,
             optimizer: .adam(AdamConfig(learningRate: 0.01)), loss: .binaryCrossEntropy),
        Case(name: "Q-network, Huber, SGD with momentum", hidden: [9], outputs: 3, activation: .identity,
             optimizer: .sgd(SGDConfig(learningRate: 0.05, momentum: 0.9)), loss: .huber(delta: 1)),
        Case(name: "sigmoid output, MSE, plain SGD", hidden: [7, 7, 5], outputs: 2, activation: .sigmoid,
             optimizer: .sgd(SGDConfig(learningRate: 0.1)), loss: .meanSquaredError),
    ]

    @Test("steps of changing batch sizes give the allocating path's losses and weights bit for bit", arguments: cases)
    func sameBits(_ c: Case) {
        let width = 10
        let initial = MLP(inputWidth: width, hiddenSizes: c.hidden, outputWidth: c.outputs, outputActivation: c.activation, seed: 3)
        var trainer = MLPTrainer(model: initial, optimizer: c.optimizer, loss: c.loss)
        var model = initial
        var state = c.optimizer.makeState(parameterCount: model.parameterCount)
        // Grow, shrink, grow again, one row, and an empty batch.
        for (i, rows) in [8, 32, 5, 64, 1, 32, 0, 17].enumerated() {
            let batch = Self.data(rows: rows, width: width, k: c.outputs, labels: c.loss == .binaryCrossEntropy, seed: UInt64(i))
            let expected = Self.referenceStep(&model, &state, batch, c.optimizer, c.loss)
            let got = trainer.step(batch)
            #expect(got.bitPattern == expected.bitPattern, "step \(i) (\(rows) rows): loss \(got) against \(expected)")
            #expect(trainer.model == model, "step \(i) (\(rows) rows): weights differ")
            #expect(trainer.state == state, "step \(i) (\(rows) rows): optimiser state differs")
        }
        #expect(trainer.model != initial)
    }

    @Test("a step on gathered rows equals a step on the subset")
    func gatheredRows() {
        let data = Self.data(rows: 200, width: 6, seed: 9)
        var a = MLPTrainer(model: MLP(inputWidth: 6, hiddenSizes: [8, 4], seed: 1))
        var b = a
        var rng = Xoshiro256(seed: 4)
        for size in [32, 32, 7, 32] {
            let order = rng.permutation(data.count)
            let rows = order[0..<size]
            let got = a.step(from: data, rows: rows)
            let expected = b.step(data.subset(rows))
            #expect(got.bitPattern == expected.bitPattern)
            #expect(a == b)
        }
    }

    @Test("the buffers are sized once for a batch size and reused after that")
    func reuse() {
        let batch = Self.data(rows: 32, width: 12, seed: 2)
        var trainer = MLPTrainer(model: MLP(inputWidth: 12, seed: 5))
        trainer.step(batch)
        let sized = trainer.workspaceAllocations
        #expect(sized == 1)
        for _ in 0..<10 { trainer.step(batch) }
        trainer.step(Self.data(rows: 8, width: 12, seed: 3))
        #expect(trainer.workspaceAllocations == sized)
        trainer.step(Self.data(rows: 33, width: 12, seed: 4))
        #expect(trainer.workspaceAllocations == sized + 1)
    }

    @Test("a copied trainer steps on its own buffers and leaves the original as it was")
    func copies() {
        let batch = Self.data(rows: 16, width: 5, seed: 6)
        var original = MLPTrainer(model: MLP(inputWidth: 5, seed: 2))
        original.step(batch)
        let snapshot = original
        var copy = original
        copy.step(Self.data(rows: 16, width: 5, seed: 7))
        #expect(original == snapshot)
        #expect(copy != original)
        // The original's next step is unchanged by the copy's.
        var fresh = snapshot
        #expect(original.step(batch).bitPattern == fresh.step(batch).bitPattern)
        #expect(original == fresh)
    }
}
