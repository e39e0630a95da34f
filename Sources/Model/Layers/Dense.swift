/// A fully connected layer `y = f(x·Wᵀ + b)`, as a value.
///
/// The weight is stored `outputWidth × inputWidth` (PyTorch's layout and ONNX `Gemm` with
/// `transB = 1`), so row `j` holds the incoming weights of unit `j`.
public struct Dense: Sendable, Equatable {
    /// Weights, `outputWidth × inputWidth`.
    public var weight: Matrix
    /// Biases, one per output unit.
    public var bias: [Float]
    /// The activation applied after the affine map.
    public var activation: Activation

    /// Number of inputs per row.
    public var inputWidth: Int { weight.cols }
    /// Number of outputs per row.
    public var outputWidth: Int { weight.rows }
    /// Number of trainable scalars: weights then biases.
    public var parameterCount: Int { weight.values.count + bias.count }

    /// Creates a layer from explicit parameters.
    public init(weight: Matrix, bias: [Float], activation: Activation) {
        precondition(bias.count == weight.rows, "Dense: \(bias.count) biases for \(weight.rows) units")
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    /// Creates a layer with Glorot-uniform weights and zero biases, Keras's default for `Dense`.
    ///
    /// Glorot & Bengio (2010): `W ~ U(−l, l)` with `l = √(6 / (fan_in + fan_out))`. Weights are
    /// drawn row by row (unit by unit) from `rng`.
    public init(inputWidth: Int, outputWidth: Int, activation: Activation, rng: inout Xoshiro256) {
        precondition(inputWidth > 0 && outputWidth > 0, "Dense: widths must be positive")
        let limit = (6 / Float(inputWidth + outputWidth)).squareRoot()
        var w = [Float](repeating: 0, count: inputWidth * outputWidth)
        for i in w.indices { w[i] = rng.nextFloat(in: -limit, limit) }
        self.init(
            weight: Matrix(rows: outputWidth, cols: inputWidth, values: w),
            bias: [Float](repeating: 0, count: outputWidth), activation: activation)
    }

    /// Applies the layer to a batch (`rows × inputWidth`), returning `rows × outputWidth`.
    public func forward(_ x: Matrix) -> Matrix {
        forward(x, activation: activation)
    }

    /// Applies the affine map and then `activation` (which may differ from the layer's own, so
    /// training can read the last layer's logits).
    func forward(_ x: Matrix, activation: Activation) -> Matrix {
        precondition(x.cols == inputWidth, "Dense: input has \(x.cols) columns, layer expects \(inputWidth)")
        var z = Matrix(zeros: x.rows, cols: outputWidth)
        gemm(x, weight, transA: .none, transB: .transposed, into: &z)
        let n = outputWidth
        bias.withUnsafeBufferPointer { b in
            z.values.withUnsafeMutableBufferPointer { zb in
                for r in 0..<x.rows {
                    let row = UnsafeMutableBufferPointer(rebasing: zb[(r * n)..<((r + 1) * n)])
                    for j in 0..<n { row[j] += b[j] }
                    activation.apply(row)
                }
            }
        }
        return z
    }
}
