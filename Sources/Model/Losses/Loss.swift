/// A training loss, averaged over all elements of the batch.
public enum Loss: Sendable, Equatable, Codable {
    /// Binary cross-entropy computed from logits, stable for any `z` (as PyTorch's
    /// `BCEWithLogitsLoss`): `ℓ = max(z, 0) − z·y + log(1 + e^{−|z|})`, `∂ℓ/∂z = σ(z) − y`.
    /// The model's output activation must be sigmoid.
    case binaryCrossEntropy
    /// Mean squared error on the outputs: `ℓ = (p − y)²`.
    case meanSquaredError
    /// Huber loss on the outputs (Huber 1964; DQN's "error clipping"): `½r²` for `|r| ≤ δ`,
    /// else `δ(|r| − ½δ)`, with `r = p − y`.
    case huber(delta: Float)

    /// The mean loss over `outputs` and `∂L/∂outputs` (already divided by the count).
    ///
    /// For ``binaryCrossEntropy`` the outputs are logits.
    public func valueAndGradient(outputs: [Float], targets: [Float]) -> (value: Float, gradient: [Float]) {
        precondition(outputs.count == targets.count, "Loss: \(outputs.count) outputs for \(targets.count) targets")
        if outputs.isEmpty { return (0, []) }
        var grad = [Float](repeating: 0, count: outputs.count)
        let value = outputs.withUnsafeBufferPointer { p in
            targets.withUnsafeBufferPointer { y in
                grad.withUnsafeMutableBufferPointer { valueAndGradient(outputs: p, targets: y, gradient: $0) }
            }
        }
        return (value, grad)
    }

    /// ``valueAndGradient(outputs:targets:)`` on buffers, with no allocation: writes `∂L/∂outputs`
    /// (already divided by the count) into `gradient` and returns the mean loss (0 for no outputs).
    /// - Precondition: the three buffers have the same count.
    public func valueAndGradient(
        outputs p: UnsafeBufferPointer<Float>, targets y: UnsafeBufferPointer<Float>,
        gradient g: UnsafeMutableBufferPointer<Float>
    ) -> Float {
        precondition(p.count == y.count && g.count == p.count, "Loss: \(p.count) outputs, \(y.count) targets, \(g.count) gradients")
        let n = p.count
        if n == 0 { return 0 }
        let scale = 1 / Float(n)
        var total: Double = 0
        switch self {
        case .binaryCrossEntropy:
            for i in 0..<n {
                let z = p[i]
                total += Double(max(z, 0) - z * y[i] + _log1p(_exp(-abs(z))))
                g[i] = (logistic(z) - y[i]) * scale
            }
        case .meanSquaredError:
            for i in 0..<n {
                let r = p[i] - y[i]
                total += Double(r * r)
                g[i] = 2 * r * scale
            }
        case .huber(let delta):
            for i in 0..<n {
                let r = p[i] - y[i]
                let a = abs(r)
                total += Double(a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta))
                g[i] = min(max(r, -delta), delta) * scale
            }
        }
        return Float(total / Double(n))
    }

    /// The mean loss and `∂L/∂z` for a network whose output layer has pre-activations `logits`
    /// and applies `outputActivation`.
    ///
    /// Cross-entropy works on the logits directly; the other losses apply the activation and
    /// chain its derivative.
    public func valueAndLogitGradient(
        logits: [Float], targets: [Float], outputActivation: Activation
    ) -> (value: Float, gradient: [Float]) {
        precondition(logits.count == targets.count, "Loss: \(logits.count) outputs for \(targets.count) targets")
        var grad = [Float](repeating: 0, count: logits.count)
        var outputs = [Float](repeating: 0, count: isCrossEntropy ? 0 : logits.count)
        let value = logits.withUnsafeBufferPointer { z in
            targets.withUnsafeBufferPointer { y in
                grad.withUnsafeMutableBufferPointer { g in
                    outputs.withUnsafeMutableBufferPointer { o in
                        valueAndLogitGradient(
                            logits: z, targets: y, outputActivation: outputActivation, outputs: o, gradient: g)
                    }
                }
            }
        }
        return (value, grad)
    }

    /// ``valueAndLogitGradient(logits:targets:outputActivation:)`` on buffers, with no allocation:
    /// writes `∂L/∂z` into `gradient` and returns the mean loss. `outputs` is scratch for the
    /// activated outputs `f(z)` (unused, and may be empty, for cross-entropy).
    /// - Precondition: `logits`, `targets` and `gradient` have the same count, and so has `outputs`
    ///   unless the loss is cross-entropy; cross-entropy needs a sigmoid output.
    public func valueAndLogitGradient(
        logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>, outputActivation: Activation,
        outputs: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>
    ) -> Float {
        if isCrossEntropy {
            precondition(outputActivation == .sigmoid, "Loss: binary cross-entropy needs a sigmoid output")
            return valueAndGradient(outputs: logits, targets: targets, gradient: gradient)
        }
        precondition(outputs.count == logits.count, "Loss: \(outputs.count) output slots for \(logits.count) logits")
        _ = outputs.update(fromContentsOf: logits)
        outputActivation.apply(outputs)
        let value = valueAndGradient(outputs: UnsafeBufferPointer(outputs), targets: targets, gradient: gradient)
        outputActivation.backpropagate(output: UnsafeBufferPointer(outputs), gradient: gradient)
        return value
    }

    /// Whether this is ``binaryCrossEntropy``, which reads logits.
    var isCrossEntropy: Bool {
        if case .binaryCrossEntropy = self { return true }
        return false
    }
}
