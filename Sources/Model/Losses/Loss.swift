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
        let n = outputs.count
        if n == 0 { return (0, []) }
        let scale = 1 / Float(n)
        var grad = [Float](repeating: 0, count: n)
        var total: Double = 0
        outputs.withUnsafeBufferPointer { p in
            targets.withUnsafeBufferPointer { y in
                grad.withUnsafeMutableBufferPointer { g in
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
                }
            }
        }
        return (Float(total / Double(n)), grad)
    }

    /// The mean loss and `∂L/∂z` for a network whose output layer has pre-activations `logits`
    /// and applies `outputActivation`.
    ///
    /// Cross-entropy works on the logits directly; the other losses apply the activation and
    /// chain its derivative.
    public func valueAndLogitGradient(
        logits: [Float], targets: [Float], outputActivation: Activation
    ) -> (value: Float, gradient: [Float]) {
        if case .binaryCrossEntropy = self {
            precondition(outputActivation == .sigmoid, "Loss: binary cross-entropy needs a sigmoid output")
            return valueAndGradient(outputs: logits, targets: targets)
        }
        var outputs = logits
        outputs.withUnsafeMutableBufferPointer { outputActivation.apply($0) }
        var (value, grad) = valueAndGradient(outputs: outputs, targets: targets)
        outputs.withUnsafeBufferPointer { y in
            grad.withUnsafeMutableBufferPointer { outputActivation.backpropagate(output: y, gradient: $0) }
        }
        return (value, grad)
    }
}
