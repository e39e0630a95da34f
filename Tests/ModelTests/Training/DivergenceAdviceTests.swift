import Testing

@testable import RecModel

/// `recpool fit` and the pool's rounds advised a lower learning rate for features of 3e38, whose squared gradients
/// overflow Adam's second moment at any rate; the pool refused the run and `fit` kept weights frozen by it.
@Suite("What a diverged run is advised")
struct DivergenceAdviceTests {
    @Test("features past 1e15 are named, with scaling as the remedy; smaller ones get a lower learning rate")
    func advice() {
        #expect(DivergenceAdvice.text(largestFeature: 3e38, learningRate: 0.001).contains("scale or standardise the features"))
        #expect(DivergenceAdvice.text(largestFeature: 3e38, learningRate: 0.001).contains("magnitude 3e+38"))
        #expect(DivergenceAdvice.text(largestFeature: 12, learningRate: 0.5) == "training diverged at learning rate 0.5; try a lower one")
        let inputs = Matrix(rows: 2, cols: 2, values: [1, -4e20, 3, 0])
        #expect(DivergenceAdvice.largestMagnitude(inputs) == 4e20)
    }

    @Test("Adam's second moment overflows on such features while the weights stay finite: the state a run is refused for")
    func secondMomentOverflows() {
        var trainer = MLPTrainer(model: MLP(inputWidth: 2, hiddenSizes: [4], seed: 1), optimizer: .adam(AdamConfig(learningRate: 0.001)))
        let data = LabeledData(inputs: Matrix(rows: 4, cols: 2, values: [3e38, 0.5, -3e38, 0.1, 1e37, 0.2, 3e38, 0.9]), targets: [1, 0, 1, 0])
        var rng = Xoshiro256(seed: 2)
        _ = trainer.fit(train: data, validation: data, config: TrainingConfig(epochs: 1, batchSize: 2, seed: 2), rng: &rng)
        #expect(trainer.state.secondMoment.contains { !$0.isFinite })
    }
}
