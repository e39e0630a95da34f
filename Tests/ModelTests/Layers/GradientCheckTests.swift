import Testing

@testable import RecModel

@Suite("Finite-difference gradient checks")
struct GradientCheckTests {
    typealias R = DoubleReference

    @Test("Dense back-propagation matches double-precision finite differences", arguments: Activation.allCases)
    func dense(activation: Activation) {
        var rng = Xoshiro256(seed: 11)
        let (rows, inW, outW) = (4, 5, 3)
        let layer = Dense(inputWidth: inW, outputWidth: outW, activation: activation, rng: &rng)
            .with(bias: (0..<outW).map { _ in rng.nextFloat(in: -0.5, 0.5) })
        // Keep every pre-activation away from ReLU's kink so finite differences are valid.
        var x = R.randomMatrix(rows, inW, &rng)
        while matmul(x, layer.weight, transB: .transposed).values.enumerated().contains(where: { abs($0.element + layer.bias[$0.offset % outW]) < 0.05 }) {
            x = R.randomMatrix(rows, inW, &rng)
        }
        let c = R.randomMatrix(rows, outW, &rng)  // L = Σ c ⊙ y, so ∂L/∂y = c
        let y = layer.forward(x)
        let (g, dx) = layer.backward(input: x, output: y, outputGradient: c)

        let cD = c.values.map(Double.init)
        func objective(_ xv: [Double], _ wv: [Double], _ bv: [Double]) -> Double {
            let out = R.dense(x: xv, rows: rows, w: wv, b: bv, inW: inW, outW: outW, f: activation)
            return zip(out, cD).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let xD = x.values.map(Double.init), wD = layer.weight.values.map(Double.init), bD = layer.bias.map(Double.init)
        let nW = R.numericGradient(wD) { objective(xD, $0, bD) }
        let nB = R.numericGradient(bD) { objective(xD, wD, $0) }
        let nX = R.numericGradient(xD) { objective($0, wD, bD) }
        #expect(R.relativeError(g.weight.values, nW) < 1e-3)
        #expect(R.relativeError(g.bias, nB) < 1e-3)
        #expect(R.relativeError(dx!.values, nX) < 1e-3)
    }

    @Test(
        "each loss's gradient matches finite differences of its own value",
        arguments: [Loss.binaryCrossEntropy, .meanSquaredError, .huber(delta: 1)])
    func losses(loss: Loss) {
        var rng = Xoshiro256(seed: 5)
        let n = 16
        var outputs = (0..<n).map { _ in rng.nextFloat(in: -3, 3) }
        let targets: [Float] = (0..<n).map { _ in loss == .binaryCrossEntropy ? Float(rng.nextInt(below: 2)) : rng.nextFloat(in: -3, 3) }
        // Keep Huber residuals away from |r| = δ, where the second derivative jumps.
        for i in 0..<n where abs(abs(outputs[i] - targets[i]) - 1) < 0.05 { outputs[i] += 0.2 }
        let (value, grad) = loss.valueAndGradient(outputs: outputs, targets: targets)
        let reference = R.loss(loss, outputs: outputs.map(Double.init), targets: targets.map(Double.init))
        #expect(abs(Double(value) - reference) < 1e-5 * max(1, abs(reference)))
        let numeric = R.numericGradient(outputs.map(Double.init)) {
            R.loss(loss, outputs: $0, targets: targets.map(Double.init))
        }
        #expect(R.relativeError(grad, numeric) < 1e-3)
    }

    @Test(
        "a whole MLP's gradient matches finite differences for each loss",
        arguments: [(Loss.binaryCrossEntropy, Activation.sigmoid), (.meanSquaredError, .sigmoid), (.huber(delta: 1), .identity)])
    func mlp(loss: Loss, output: Activation) {
        var rng = Xoshiro256(seed: 9)
        var model = MLP(inputWidth: 6, hiddenSizes: [5, 4], outputWidth: 1, outputActivation: output, seed: 3)
        var flat = model.flatParameters
        for i in flat.indices where flat[i] == 0 { flat[i] = rng.nextFloat(in: -0.3, 0.3) }  // non-zero biases
        model.flatParameters = flat
        let x = R.randomMatrix(8, 6, &rng)
        let targets: [Float] = (0..<8).map { _ in Float(rng.nextInt(below: 2)) * (output == .identity ? 2 : 1) }
        let (_, g) = model.valueAndGradient(input: x, targets: targets, loss: loss)
        let numeric = R.numericGradient(flat.map(Double.init)) { R.mlpLoss(model, flat: $0, x: x, targets: targets, loss: loss) }
        #expect(R.relativeError(g.flat, numeric) < 1e-3)
    }
}

extension Dense {
    func with(bias: [Float]) -> Dense { Dense(weight: weight, bias: bias, activation: activation) }
}
