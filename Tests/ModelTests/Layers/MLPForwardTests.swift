import Testing

@testable import RecModel

@Suite("MLP forward pass and initialisation")
struct MLPForwardTests {
    @Test("the default architecture is d_in → d_in → 64 → 1 with 18,255 parameters at d_in 106")
    func defaultArchitecture() {
        let mlp = MLP(inputWidth: 106, seed: 1)
        #expect(mlp.layers.map(\.outputWidth) == [106, 64, 1])
        #expect(mlp.layers.map(\.activation) == [.relu, .relu, .sigmoid])
        #expect(mlp.parameterCount == 18_255)
    }

    @Test("the same seed gives the same weights and a different seed does not")
    func seeding() {
        #expect(MLP(inputWidth: 10, seed: 42) == MLP(inputWidth: 10, seed: 42))
        #expect(MLP(inputWidth: 10, seed: 42) != MLP(inputWidth: 10, seed: 43))
    }

    @Test("Glorot-uniform weights stay inside the limit, spread across it, and biases are zero")
    func glorot() {
        let mlp = MLP(inputWidth: 50, hiddenSizes: [30], seed: 3)
        let w = mlp.layers[0].weight.values
        let limit = (6 / Float(50 + 30)).squareRoot()
        #expect(w.allSatisfy { abs($0) <= limit })
        #expect(w.max()! > 0.9 * limit && w.min()! < -0.9 * limit)
        let mean = w.reduce(0, +) / Float(w.count)
        #expect(abs(mean) < 0.02)
        #expect(mlp.layers.allSatisfy { $0.bias.allSatisfy { $0 == 0 } })
    }

    @Test("predict equals a hand-computed forward pass")
    func handComputed() {
        let hidden = Dense(
            weight: Matrix(rowArrays: [[1, -1], [0.5, 2]]), bias: [0, -1], activation: .relu)
        let out = Dense(weight: Matrix(rowArrays: [[1, -2]]), bias: [0.25], activation: .sigmoid)
        let mlp = MLP(layers: [hidden, out])
        // Row [2, 1]: hidden z = [1, 2] → relu [1, 2]; logit = 1 − 4 + 0.25 = −2.75.
        // Row [0, 1]: hidden z = [−1, 1] → relu [0, 1]; logit = −2 + 0.25 = −1.75.
        let p = mlp.predict(Matrix(rowArrays: [[2, 1], [0, 1]]))
        #expect(abs(p[0] - 1 / (1 + expf_(2.75))) < 1e-6)
        #expect(abs(p[1] - 1 / (1 + expf_(1.75))) < 1e-6)
        #expect(mlp.logits(Matrix(rowArrays: [[2, 1]])).values == [-2.75])
    }

    @Test("sigmoid is stable at extreme logits")
    func stableSigmoid() {
        #expect(logistic(-1000) == 0)
        #expect(logistic(1000) == 1)
        #expect(logistic(0) == 0.5)
    }
}
