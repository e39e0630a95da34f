/// An element-wise activation applied after a dense layer's affine map.
public enum Activation: UInt8, Sendable, Equatable, CaseIterable, Codable {
    /// `f(z) = z`.
    case identity = 0
    /// `f(z) = max(0, z)`; the derivative at 0 is taken as 0.
    case relu = 1
    /// `f(z) = 1 / (1 + e^{−z})`, computed without overflow for large `|z|`.
    case sigmoid = 2

    /// The activation's name as used by the CLI and ONNX export.
    public var name: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .sigmoid: "sigmoid"
        }
    }
}

/// The logistic function, stable for any finite `z`.
@inlinable
public func logistic(_ z: Float) -> Float {
    if z >= 0 {
        return 1 / (1 + expf_(-z))
    }
    let e = expf_(z)
    return e / (1 + e)
}

@usableFromInline
func expf_(_ x: Float) -> Float { _exp(x) }

extension Activation {
    /// Applies the activation in place to a buffer of pre-activations.
    func apply(_ buf: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .identity:
            break
        case .relu:
            for i in buf.indices { buf[i] = max(buf[i], 0) }
        case .sigmoid:
            for i in buf.indices { buf[i] = logistic(buf[i]) }
        }
    }

    /// Multiplies `grad` in place by `f'(z)`, written in terms of the output `y = f(z)`:
    /// ReLU `1[y > 0]`, sigmoid `y(1 − y)`, identity `1`.
    func backpropagate(output y: UnsafeBufferPointer<Float>, gradient grad: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .identity:
            break
        case .relu:
            for i in grad.indices { grad[i] = y[i] > 0 ? grad[i] : 0 }
        case .sigmoid:
            for i in grad.indices { grad[i] *= y[i] * (1 - y[i]) }
        }
    }
}
