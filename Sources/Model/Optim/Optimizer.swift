import CNumerics

/// Adam's hyper-parameters (Kingma & Ba, 2015).
///
/// RecPool follows PyTorch's convention: `θ ← θ − lr · m̂ / (√v̂ + ε)` with bias-corrected
/// moments `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)` and ε outside the square root.
public struct AdamConfig: Sendable, Equatable, Codable {
    /// Step size; the interest model uses 0.001, the DQN 5e-4.
    public var learningRate: Float
    /// Decay of the first moment.
    public var beta1: Float
    /// Decay of the second moment.
    public var beta2: Float
    /// Added to `√v̂`.
    public var epsilon: Float

    /// Creates a configuration; the defaults are PyTorch's and Keras's.
    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// Plain SGD with optional classical momentum: `u ← μu + g`, `θ ← θ − lr·u` (PyTorch's form).
public struct SGDConfig: Sendable, Equatable, Codable {
    /// Step size.
    public var learningRate: Float
    /// Momentum `μ`; 0 disables it.
    public var momentum: Float

    /// Creates a configuration.
    public init(learningRate: Float = 0.01, momentum: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
    }
}

/// A first-order optimiser. Updates are pure functions of (parameter, gradient, state), so the
/// optimiser state is a value that can be copied, averaged and checkpointed.
public enum Optimizer: Sendable, Equatable, Codable {
    /// Adam.
    case adam(AdamConfig)
    /// SGD, optionally with momentum.
    case sgd(SGDConfig)

    /// The learning rate of either optimiser.
    public var learningRate: Float {
        switch self {
        case .adam(let c): c.learningRate
        case .sgd(let c): c.learningRate
        }
    }

    /// A fresh state for a model with `parameterCount` parameters.
    public func makeState(parameterCount: Int) -> OptimizerState {
        switch self {
        case .adam:
            OptimizerState(
                step: 0, firstMoment: [Float](repeating: 0, count: parameterCount),
                secondMoment: [Float](repeating: 0, count: parameterCount))
        case .sgd(let c):
            OptimizerState(
                step: 0, firstMoment: [Float](repeating: 0, count: c.momentum == 0 ? 0 : parameterCount),
                secondMoment: [])
        }
    }

    /// Applies one update to `model` from `gradient`, advancing `state`.
    public func update(_ model: inout MLP, gradient: MLPGradient, state: inout OptimizerState) {
        update(state: &state, parameterCount: model.parameterCount) { body in
            model.updateEachTensor(gradient: gradient, body)
        }
    }

    /// Applies one update to `model` from a gradient laid out as ``MLP/flatParameters`` (what a
    /// ``TrainingWorkspace`` holds), advancing `state`, with no allocation. Gives the same bits as
    /// ``update(_:gradient:state:)`` with the same values.
    /// - Precondition: `flatGradient.count == model.parameterCount`.
    public func update(_ model: inout MLP, flatGradient: UnsafeBufferPointer<Float>, state: inout OptimizerState) {
        update(state: &state, parameterCount: model.parameterCount) { body in
            model.updateEachTensor(flatGradient: flatGradient, body)
        }
    }

    /// One parameter tensor's update: its offset in the flat view, the parameters, their gradient.
    typealias TensorUpdate = (Int, UnsafeMutableBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void

    /// Advances `state` and runs the update rule over every tensor `visit` hands it.
    private func update(state: inout OptimizerState, parameterCount: Int, _ visit: (TensorUpdate) -> Void) {
        state.step += 1
        let t = state.step
        switch self {
        case .adam(let c):
            precondition(state.firstMoment.count == parameterCount, "Adam: state is for another model")
            let lr = c.learningRate
            let b1 = c.beta1
            let b2 = c.beta2
            let eps = c.epsilon
            let c1 = 1 / (1 - powf_(b1, t))
            let c2 = 1 / (1 - powf_(b2, t))
            state.firstMoment.withUnsafeMutableBufferPointer { m in
                state.secondMoment.withUnsafeMutableBufferPointer { v in
                    // m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·m̂/(√v̂ + ε), vectorised in C (CNumerics):
                    // the same bits as the scalar loop, about 3× faster at d_in 106 (docs/BENCHMARKS.md).
                    visit { o, p, g in
                        guard let pBase = p.baseAddress, let gBase = g.baseAddress else { return }
                        recpool_adam_update(
                            pBase, gBase, m.baseAddress! + o, v.baseAddress! + o, p.count, lr, b1, b2, eps, c1, c2)
                    }
                }
            }
        case .sgd(let c):
            let lr = c.learningRate
            let mu = c.momentum
            if mu == 0 {
                visit { _, p, g in
                    for i in 0..<p.count { p[i] -= lr * g[i] }
                }
            } else {
                precondition(state.firstMoment.count == parameterCount, "SGD: state is for another model")
                state.firstMoment.withUnsafeMutableBufferPointer { u in
                    visit { o, p, g in
                        for i in 0..<p.count {
                            let ui = mu * u[o + i] + g[i]
                            u[o + i] = ui
                            p[i] -= lr * ui
                        }
                    }
                }
            }
        }
    }
}

/// An optimiser's state as a value: the step count and per-parameter moments in
/// ``MLP/flatParameters`` order (Adam: `m` and `v`; SGD with momentum: the velocity in
/// ``firstMoment``).
public struct OptimizerState: Sendable, Equatable {
    /// Updates applied so far (Adam's `t`).
    public var step: Int
    /// Adam's `m`, or SGD's velocity.
    public var firstMoment: [Float]
    /// Adam's `v`; empty for SGD.
    public var secondMoment: [Float]

    /// Creates a state.
    public init(step: Int, firstMoment: [Float], secondMoment: [Float]) {
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    /// Both moment arrays concatenated (`m ‖ v`), for averaging across replicas. Setting
    /// requires the same total count and splits it back at the same point.
    public var flatMoments: [Float] {
        get { firstMoment + secondMoment }
        set {
            precondition(newValue.count == firstMoment.count + secondMoment.count, "OptimizerState: wrong count")
            let n = firstMoment.count
            firstMoment = Array(newValue[0..<n])
            secondMoment = Array(newValue[n...])
        }
    }
}

/// `b^t` for the bias corrections, in Double so large `t` stays exact enough.
func powf_(_ b: Float, _ t: Int) -> Float {
    var r: Double = 1
    var base = Double(b)
    var e = t
    while e > 0 {
        if e & 1 == 1 { r *= base }
        base *= base
        e >>= 1
    }
    return Float(r)
}
