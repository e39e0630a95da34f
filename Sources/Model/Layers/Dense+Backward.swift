/// The gradient of a loss with respect to one ``Dense`` layer's parameters.
public struct DenseGradient: Sendable, Equatable {
    /// `∂L/∂W`, `outputWidth × inputWidth`.
    public var weight: Matrix
    /// `∂L/∂b`, one per unit.
    public var bias: [Float]
}

extension Dense {
    /// Back-propagates through the layer.
    ///
    /// With `dZ = dY ⊙ f'(Z)`: `∂L/∂W = dZᵀ·X`, `∂L/∂b = Σ_rows dZ`, `∂L/∂X = dZ·W`.
    /// - Parameters:
    ///   - x: The input the forward pass saw.
    ///   - y: The forward pass's output, after `activation`.
    ///   - dy: `∂L/∂Y`, same shape as `y`.
    ///   - activation: The activation the forward pass applied (defaults to the layer's).
    ///   - needsInputGradient: Whether to compute `∂L/∂X` (the first layer does not need it).
    /// - Returns: The parameter gradient, and `∂L/∂X` when asked for.
    public func backward(
        input x: Matrix, output y: Matrix, outputGradient dy: Matrix,
        activation: Activation? = nil, needsInputGradient: Bool = true
    ) -> (gradient: DenseGradient, inputGradient: Matrix?) {
        precondition(y.rows == x.rows && y.cols == outputWidth, "Dense.backward: output shape mismatch")
        precondition(dy.rows == y.rows && dy.cols == y.cols, "Dense.backward: gradient shape mismatch")
        var dz = dy
        let f = activation ?? self.activation
        y.values.withUnsafeBufferPointer { yb in
            dz.values.withUnsafeMutableBufferPointer { f.backpropagate(output: yb, gradient: $0) }
        }
        var dw = Matrix(zeros: outputWidth, cols: inputWidth)
        gemm(dz, x, transA: .transposed, transB: .none, into: &dw)
        var db = [Float](repeating: 0, count: outputWidth)
        let n = outputWidth
        dz.values.withUnsafeBufferPointer { zb in
            db.withUnsafeMutableBufferPointer { bb in
                for r in 0..<dz.rows {
                    let base = r * n
                    for j in 0..<n { bb[j] += zb[base + j] }
                }
            }
        }
        var dx: Matrix? = nil
        if needsInputGradient {
            var m = Matrix(zeros: x.rows, cols: inputWidth)
            gemm(dz, weight, transA: .none, transB: .none, into: &m)
            dx = m
        }
        return (DenseGradient(weight: dw, bias: db), dx)
    }
}
