import Foundation
import Testing

@testable import RecModel

/// The fixture written by `scripts/reference/mlp_reference.py`.
private struct GoldenRun: Decodable {
    struct Batch: Decodable {
        var inputs: [Float]
        var targets: [Float]
    }
    var inputWidth: Int
    var hiddenSizes: [Int]
    var learningRate: Float
    var initial: [Float]
    var batches: [Batch]
    var losses: [Double]
    var final: [Double]
}

@Suite("Golden run against the numpy reference")
struct GoldenRunTests {
    @Test("20 Adam steps from the reference's initial weights land on its final weights within 1e-5")
    func twentyAdamSteps() throws {
        let golden = try JSONDecoder().decode(GoldenRun.self, from: Fixtures.data("mlp_golden.json"))
        var model = MLP(inputWidth: golden.inputWidth, hiddenSizes: golden.hiddenSizes, seed: 0)
        try #require(model.parameterCount == golden.initial.count)
        model.flatParameters = golden.initial
        var trainer = MLPTrainer(model: model, optimizer: .adam(AdamConfig(learningRate: golden.learningRate)))
        for (i, batch) in golden.batches.enumerated() {
            let inputs = Matrix(rows: batch.targets.count, cols: golden.inputWidth, values: batch.inputs)
            let loss = trainer.step(LabeledData(inputs: inputs, targets: batch.targets))
            #expect(abs(Double(loss) - golden.losses[i]) < 1e-5, "loss at step \(i + 1)")
        }
        #expect(trainer.state.step == 20)
        let got = trainer.model.flatParameters
        let worst = zip(got, golden.final).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-5, "largest weight difference \(worst)")
        // The run must have moved the weights well beyond the tolerance, or the check proves nothing.
        let moved = zip(golden.initial, golden.final).map { abs(Double($0) - $1) }.max()!
        #expect(moved > 1e-3)
    }
}
