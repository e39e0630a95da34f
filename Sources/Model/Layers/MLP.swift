/// A multi-layer perceptron: a stack of ``Dense`` layers, as a value.
///
/// RecPool's interest model is `Input → Dense(d_in, ReLU) → Dense(64, ReLU) → Dense(1, sigmoid)`:
/// hidden layers use ReLU, and the output layer uses ``outputActivation`` (sigmoid for click
/// probabilities, identity for Q-values). A replica, snapshot or target network is a plain copy.
public struct MLP: Sendable, Equatable {
    /// The layers, input side first.
    public var layers: [Dense]

    /// Creates the interest model: ReLU hidden layers and one sigmoid output.
    /// - Parameters:
    ///   - inputWidth: Features per row.
    ///   - hiddenSizes: Hidden layer widths; `nil` means `[inputWidth, 64]`.
    ///   - seed: Seed for ``Xoshiro256``; the same seed gives the same weights bit for bit.
    public init(inputWidth: Int, hiddenSizes: [Int]? = nil, seed: UInt64) {
        self.init(
            inputWidth: inputWidth, hiddenSizes: hiddenSizes, outputWidth: 1,
            outputActivation: .sigmoid, seed: seed)
    }

    /// Creates an MLP with ReLU hidden layers and the given output layer, Glorot-uniform weights
    /// and zero biases. Layers draw their weights from one generator in order.
    /// - Parameters:
    ///   - inputWidth: Features per row.
    ///   - hiddenSizes: Hidden layer widths; `nil` means `[inputWidth, 64]`.
    ///   - outputWidth: Units in the output layer.
    ///   - outputActivation: The output layer's activation.
    ///   - seed: Seed for ``Xoshiro256``.
    public init(
        inputWidth: Int, hiddenSizes: [Int]? = nil, outputWidth: Int,
        outputActivation: Activation, seed: UInt64
    ) {
        var rng = Xoshiro256(seed: seed)
        let widths = [inputWidth] + (hiddenSizes ?? [inputWidth, 64]) + [outputWidth]
        var layers: [Dense] = []
        for i in 0..<(widths.count - 1) {
            let last = i == widths.count - 2
            layers.append(
                Dense(
                    inputWidth: widths[i], outputWidth: widths[i + 1],
                    activation: last ? outputActivation : .relu, rng: &rng))
        }
        self.init(layers: layers)
    }

    /// Creates an MLP from layers whose widths chain.
    public init(layers: [Dense]) {
        precondition(!layers.isEmpty, "MLP: needs at least one layer")
        for i in 1..<layers.count {
            precondition(
                layers[i].inputWidth == layers[i - 1].outputWidth,
                "MLP: layer \(i) takes \(layers[i].inputWidth) inputs, layer \(i - 1) gives \(layers[i - 1].outputWidth)")
        }
        self.layers = layers
    }

    /// Features per input row.
    public var inputWidth: Int { layers[0].inputWidth }
    /// Outputs per row.
    public var outputWidth: Int { layers[layers.count - 1].outputWidth }
    /// Hidden layer widths (every layer but the last).
    public var hiddenSizes: [Int] { layers.dropLast().map(\.outputWidth) }
    /// The output layer's activation.
    public var outputActivation: Activation { layers[layers.count - 1].activation }
    /// Total trainable scalars.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Runs the network on a batch, `rows × inputWidth` → `rows × outputWidth`.
    public func forward(_ input: Matrix) -> Matrix {
        precondition(input.cols == inputWidth, "MLP: input has \(input.cols) columns, model expects \(inputWidth)")
        var x = input
        for layer in layers { x = layer.forward(x) }
        return x
    }

    /// The output layer's pre-activations (logits), `rows × outputWidth`.
    public func logits(_ input: Matrix) -> Matrix {
        precondition(input.cols == inputWidth, "MLP: input has \(input.cols) columns, model expects \(inputWidth)")
        var x = input
        for (i, layer) in layers.enumerated() {
            x = layer.forward(x, activation: i == layers.count - 1 ? .identity : layer.activation)
        }
        return x
    }

    /// Batch inference for serving: the output for each row, flattened row-major.
    ///
    /// For the interest model (one sigmoid output) this is one click probability per row.
    /// - Precondition: `input.cols == inputWidth`.
    public func predict(_ input: Matrix) -> [Float] {
        forward(input).values
    }
}
