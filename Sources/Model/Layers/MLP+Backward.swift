/// The gradient of a loss with respect to every parameter of an ``MLP``, layer by layer.
public struct MLPGradient: Sendable, Equatable {
    /// One gradient per layer, input side first.
    public var layers: [DenseGradient]

    /// All gradients flattened in ``MLP/flatParameters`` order.
    public var flat: [Float] {
        var out: [Float] = []
        for l in layers {
            out.append(contentsOf: l.weight.values)
            out.append(contentsOf: l.bias)
        }
        return out
    }
}

extension MLP {
    /// Runs the network keeping every layer's output for back-propagation.
    ///
    /// Element 0 is the input, element `i + 1` the output of layer `i`; the last element is the
    /// output layer's *pre-activation* (logits), because losses differentiate with respect to it.
    public func trace(_ input: Matrix) -> [Matrix] {
        precondition(input.cols == inputWidth, "MLP: input has \(input.cols) columns, model expects \(inputWidth)")
        var outs = [input]
        outs.reserveCapacity(layers.count + 1)
        for (i, layer) in layers.enumerated() {
            outs.append(layer.forward(outs[i], activation: i == layers.count - 1 ? .identity : layer.activation))
        }
        return outs
    }

    /// Back-propagates `∂L/∂logits` through a ``trace(_:)`` of this network.
    /// - Parameters:
    ///   - trace: The forward trace of the batch.
    ///   - logitGradient: `∂L/∂z` for the output layer's pre-activations.
    /// - Returns: The gradient for every parameter.
    public func backward(trace: [Matrix], logitGradient: Matrix) -> MLPGradient {
        precondition(trace.count == layers.count + 1, "MLP.backward: trace has \(trace.count) entries")
        var grads = [DenseGradient]()
        grads.reserveCapacity(layers.count)
        var upstream = logitGradient
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            let (g, dx) = layer.backward(
                input: trace[i], output: trace[i + 1], outputGradient: upstream,
                activation: i == layers.count - 1 ? .identity : layer.activation,
                needsInputGradient: i > 0)
            grads.append(g)
            if let dx { upstream = dx }
        }
        return MLPGradient(layers: grads.reversed())
    }

    /// The loss on a batch and its gradient for every parameter.
    /// - Parameters:
    ///   - input: `rows × inputWidth`.
    ///   - targets: `rows × outputWidth` targets, row-major.
    ///   - loss: The loss; ``Loss/binaryCrossEntropy`` reads the logits directly.
    public func valueAndGradient(input: Matrix, targets: [Float], loss: Loss) -> (loss: Float, gradient: MLPGradient) {
        let t = trace(input)
        let logits = t[t.count - 1]
        let (value, dz) = loss.valueAndLogitGradient(
            logits: logits.values, targets: targets, outputActivation: outputActivation)
        let g = backward(trace: t, logitGradient: Matrix(rows: logits.rows, cols: logits.cols, values: dz))
        return (value, g)
    }
}
