extension MLP {
    /// Every parameter in one array: for each layer, its weights (row-major) then its biases.
    ///
    /// This is the view used to average replicas (local SGD / FedAvg): read it from several
    /// copies, average element-wise and write it back. Setting requires the same count.
    public var flatParameters: [Float] {
        get {
            var out: [Float] = []
            out.reserveCapacity(parameterCount)
            for l in layers {
                out.append(contentsOf: l.weight.values)
                out.append(contentsOf: l.bias)
            }
            return out
        }
        set {
            precondition(newValue.count == parameterCount, "MLP.flatParameters: \(newValue.count) values for \(parameterCount) parameters")
            var o = 0
            for i in layers.indices {
                let nw = layers[i].weight.values.count
                layers[i].weight.values = Array(newValue[o..<(o + nw)])
                o += nw
                let nb = layers[i].bias.count
                layers[i].bias = Array(newValue[o..<(o + nb)])
                o += nb
            }
        }
    }

    /// Visits every parameter tensor with its gradient, in ``flatParameters`` order, passing the
    /// offset of the tensor in the flat view. Optimisers use this to update in place without
    /// flattening.
    mutating func updateEachTensor(
        gradient: MLPGradient,
        _ body: (_ offset: Int, _ parameter: UnsafeMutableBufferPointer<Float>, _ gradient: UnsafeBufferPointer<Float>) -> Void
    ) {
        precondition(gradient.layers.count == layers.count, "MLP: gradient has \(gradient.layers.count) layers, model \(layers.count)")
        var o = 0
        for i in layers.indices {
            let g = gradient.layers[i]
            precondition(g.weight.values.count == layers[i].weight.values.count && g.bias.count == layers[i].bias.count,
                         "MLP: gradient shape differs from layer \(i)")
            g.weight.values.withUnsafeBufferPointer { gw in
                layers[i].weight.values.withUnsafeMutableBufferPointer { body(o, $0, gw) }
            }
            o += g.weight.values.count
            g.bias.withUnsafeBufferPointer { gb in
                layers[i].bias.withUnsafeMutableBufferPointer { body(o, $0, gb) }
            }
            o += g.bias.count
        }
    }

    /// ``updateEachTensor(gradient:_:)`` for a gradient laid out as ``flatParameters``.
    mutating func updateEachTensor(
        flatGradient: UnsafeBufferPointer<Float>,
        _ body: (_ offset: Int, _ parameter: UnsafeMutableBufferPointer<Float>, _ gradient: UnsafeBufferPointer<Float>) -> Void
    ) {
        precondition(flatGradient.count == parameterCount, "MLP: flat gradient has \(flatGradient.count) values, model \(parameterCount)")
        var o = 0
        for i in layers.indices {
            let nw = layers[i].weight.values.count
            layers[i].weight.values.withUnsafeMutableBufferPointer {
                body(o, $0, UnsafeBufferPointer(rebasing: flatGradient[o..<(o + nw)]))
            }
            o += nw
            let nb = layers[i].bias.count
            layers[i].bias.withUnsafeMutableBufferPointer {
                body(o, $0, UnsafeBufferPointer(rebasing: flatGradient[o..<(o + nb)]))
            }
            o += nb
        }
    }
}
