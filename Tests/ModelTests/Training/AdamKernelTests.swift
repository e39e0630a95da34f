import Testing

@testable import RecModel

@Suite("Adam's vectorised step")
struct AdamKernelTests {
    /// Adam written out one parameter at a time, as Kingma and Ba's Algorithm 1 (PyTorch's ε outside the root).
    static func reference(
        parameters p: inout [Float], gradient g: [Float], m: inout [Float], v: inout [Float], step t: Int, _ c: AdamConfig
    ) {
        let c1 = 1 / (1 - powf_(c.beta1, t))
        let c2 = 1 / (1 - powf_(c.beta2, t))
        for i in p.indices {
            let mi = c.beta1 * m[i] + (1 - c.beta1) * g[i]
            let vi = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i]
            m[i] = mi
            v[i] = vi
            p[i] -= c.learningRate * (mi * c1) / ((vi * c2).squareRoot() + c.epsilon)
        }
    }

    @Test("three steps give the scalar loop's parameters and moments bit for bit, over tensors of every width mod 4",
          arguments: [(5, [3]), (7, [6, 1]), (106, [106, 64])])
    func bitForBit(shape: (Int, [Int])) {
        let config = AdamConfig(learningRate: 0.01)
        var model = MLP(inputWidth: shape.0, hiddenSizes: shape.1, seed: 11)
        var state = Optimizer.adam(config).makeState(parameterCount: model.parameterCount)
        var p = model.flatParameters
        var m = [Float](repeating: 0, count: p.count)
        var v = m
        var rng = Xoshiro256(seed: 5)
        for step in 1...3 {
            // Gradients over several magnitudes, zeros among them (√0 in the denominator).
            let gradient = (0..<p.count).map { i -> Float in
                i % 7 == 0 ? 0 : Float(rng.nextDouble() * 2 - 1) * (i % 3 == 0 ? 1e-4 : 3)
            }
            gradient.withUnsafeBufferPointer { Optimizer.adam(config).update(&model, flatGradient: $0, state: &state) }
            Self.reference(parameters: &p, gradient: gradient, m: &m, v: &v, step: step, config)
            #expect(model.flatParameters.map(\.bitPattern) == p.map(\.bitPattern), "parameters after step \(step)")
            #expect(state.firstMoment.map(\.bitPattern) == m.map(\.bitPattern), "m after step \(step)")
            #expect(state.secondMoment.map(\.bitPattern) == v.map(\.bitPattern), "v after step \(step)")
        }
        #expect(model.flatParameters.allSatisfy { $0.isFinite })
    }
}
