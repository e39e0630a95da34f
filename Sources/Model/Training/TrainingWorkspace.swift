/// Scratch memory for a training step (``MLP/valueAndGradient(rows:input:targets:loss:workspace:)``
/// and ``MLPTrainer/step(_:)``), so that a step in steady state allocates nothing.
///
/// One buffer holds, back to back: every layer's output for the batch (the forward trace; the
/// last layer's is its logits), two ping-pong buffers of `rows × widest layer output` for the
/// back-propagated `∂L/∂Z` and `∂L/∂X` (the second one is also the loss's scratch for the
/// activated outputs), and the gradient of every parameter in ``MLP/flatParameters`` order, which
/// the optimiser reads in place. Two more buffers hold a mini-batch gathered from a larger data set
/// (``MLPTrainer/step(from:rows:)``). Buffers grow only when a batch has more rows than any before
/// it or the network changes shape, so a trainer at a steady batch size sizes them once.
///
/// A value: each trainer owns its own, and a copied trainer copies it lazily (on its next step).
public struct TrainingWorkspace: Sendable {
    /// Trace, deltas and gradient, laid out as the type's documentation says.
    var storage: [Float] = []
    /// A gathered mini-batch's inputs, `rows × inputWidth`.
    var inputs: [Float] = []
    /// A gathered mini-batch's targets, `rows × outputWidth`.
    var targets: [Float] = []
    /// The rows the storage is laid out for.
    public private(set) var capacityRows = 0
    /// Each layer's output width when the storage was laid out (input width first).
    var widths: [Int] = []
    /// How many times a buffer was (re)allocated: a caller can check that reuse holds.
    public internal(set) var allocations = 0

    /// Creates an empty workspace; the first step sizes it.
    public init() {}

    /// Where each region starts in ``storage`` for a given row capacity.
    struct Layout {
        /// Rows each region holds.
        var rows: Int
        /// The widest layer output.
        var widest: Int
        /// Floats in the trace (every layer's output for `rows` rows), which starts at 0.
        var traceCount: Int
        /// Start of the first delta buffer.
        var deltaA: Int { traceCount }
        /// Start of the second delta buffer.
        var deltaB: Int { traceCount + rows * widest }
        /// Start of the flat gradient.
        var gradient: Int { traceCount + 2 * rows * widest }
    }

    /// Whether the storage is laid out for `model` at `rows` rows or more.
    private func fits(_ model: MLP, rows: Int) -> Bool {
        guard rows <= capacityRows, widths.count == model.layers.count + 1, widths[0] == model.inputWidth else {
            return false
        }
        for (i, layer) in model.layers.enumerated() where widths[i + 1] != layer.outputWidth { return false }
        return true
    }

    /// Lays the storage out for `model` at `rows` rows, reallocating only when it has to, and
    /// returns the layout in use (for the capacity, which may exceed `rows`).
    mutating func reserve(for model: MLP, rows: Int) -> Layout {
        if !fits(model, rows: rows) {
            let sameShape = widths.count == model.layers.count + 1 && fits(model, rows: 0)
            capacityRows = max(rows, sameShape ? capacityRows : 0, 1)
            widths = [model.inputWidth] + model.layers.map(\.outputWidth)
            let layout = layout(for: model)
            storage = [Float](repeating: 0, count: layout.gradient + model.parameterCount)
            allocations += 1
        }
        return layout(for: model)
    }

    private func layout(for model: MLP) -> Layout {
        var trace = 0
        var widest = 0
        for layer in model.layers {
            trace += capacityRows * layer.outputWidth
            widest = max(widest, layer.outputWidth)
        }
        return Layout(rows: capacityRows, widest: widest, traceCount: trace)
    }

    /// Where the gradient of the last ``MLP/valueAndGradient(rows:input:targets:loss:workspace:)``
    /// for `model` lies in ``storage``, in ``MLP/flatParameters`` order.
    func gradientRange(of model: MLP) -> Range<Int> {
        let start = layout(for: model).gradient
        return start..<(start + model.parameterCount)
    }

    /// Copies the rows `indices` of `data` into ``inputs`` and ``targets``, growing them only when
    /// they have to, and returns the number of rows.
    mutating func gather<C: Collection>(_ data: LabeledData, rows indices: C) -> Int where C.Element == Int {
        let width = data.inputs.cols
        let k = data.targetWidth
        let n = indices.count
        if inputs.count < max(n * width, 1) {
            inputs = [Float](repeating: 0, count: max(n * width, 1))
            allocations += 1
        }
        if targets.count < max(n * k, 1) {
            targets = [Float](repeating: 0, count: max(n * k, 1))
            allocations += 1
        }
        data.inputs.values.withUnsafeBufferPointer { source in
            inputs.withUnsafeMutableBufferPointer { target in
                var d = 0
                for r in indices {
                    precondition(r >= 0 && r < data.count, "TrainingWorkspace.gather: row \(r) out of 0..<\(data.count)")
                    for c in 0..<width { target[d + c] = source[r * width + c] }
                    d += width
                }
            }
        }
        data.targets.withUnsafeBufferPointer { source in
            targets.withUnsafeMutableBufferPointer { target in
                var d = 0
                for r in indices {
                    for c in 0..<k { target[d + c] = source[r * k + c] }
                    d += k
                }
            }
        }
        return n
    }
}

extension MLP {
    /// The mean loss on a batch of `rows` rows read in place from `input` (row-major,
    /// `rows × inputWidth`) against `targets` (`rows × outputWidth`), and the gradient of every
    /// parameter, left in `workspace` (``TrainingWorkspace/gradientRange(of:)``), with no
    /// allocation once the workspace is sized.
    ///
    /// The same products, in the same order and shapes, as ``valueAndGradient(input:targets:loss:)``
    /// (forward `Z = X·Wᵀ` then bias and activation; back-propagation `dZ = dY ⊙ f'(Z)`,
    /// `∂L/∂W = dZᵀ·X`, `∂L/∂b = Σ_rows dZ`, `∂L/∂X = dZ·W`), so the two give the same bits.
    /// - Precondition: `input.count >= rows * inputWidth`, `targets.count == rows * outputWidth`.
    public func valueAndGradient(
        rows: Int, input: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>, loss: Loss,
        workspace: inout TrainingWorkspace
    ) -> Float {
        precondition(rows >= 0, "MLP: negative batch \(rows)")
        precondition(
            input.count >= rows * inputWidth, "MLP: \(input.count) input values for \(rows) rows of \(inputWidth) features")
        precondition(targets.count == rows * outputWidth, "MLP: \(targets.count) targets for \(rows) rows of \(outputWidth) outputs")
        let layout = workspace.reserve(for: self, rows: rows)
        let count = layers.count
        return workspace.storage.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            // Each layer's output starts where the one before it ends.
            func output(_ i: Int) -> UnsafeMutablePointer<Float> {
                var offset = 0
                for j in 0..<i { offset += layout.rows * layers[j].outputWidth }
                return base + offset
            }
            // An empty batch reads no input: any valid address stands in for it.
            let source = rows > 0 ? input.baseAddress! : UnsafePointer(base)
            var x = source
            for (i, layer) in layers.enumerated() {
                let z = output(i)
                layer.weight.values.withUnsafeBufferPointer { w in
                    gemm(
                        m: rows, n: layer.outputWidth, k: layer.inputWidth, a: x, lda: layer.inputWidth, transA: .none,
                        b: w.baseAddress!, ldb: layer.inputWidth, transB: .transposed, c: z)
                }
                let activation = i == count - 1 ? Activation.identity : layer.activation
                layer.bias.withUnsafeBufferPointer { activation.applyBiased(z, rows: rows, bias: $0) }
                x = UnsafePointer(z)
            }
            let n = rows * outputWidth
            var upstream = base + layout.deltaA
            var spare = base + layout.deltaB
            let value = loss.valueAndLogitGradient(
                logits: UnsafeBufferPointer(start: x, count: n), targets: targets, outputActivation: outputActivation,
                outputs: UnsafeMutableBufferPointer(start: spare, count: loss.isCrossEntropy ? 0 : n),
                gradient: UnsafeMutableBufferPointer(start: upstream, count: n))
            // The gradient's offsets in flatParameters order: each layer's weights, then its biases.
            var gradientEnd = layout.gradient + parameterCount
            for i in stride(from: count - 1, through: 0, by: -1) {
                let layer = layers[i]
                let outputs = layer.outputWidth
                let inputs = layer.inputWidth
                let dz = UnsafeMutableBufferPointer(start: upstream, count: rows * outputs)
                if i < count - 1 {
                    layer.activation.backpropagate(output: UnsafeBufferPointer(start: output(i), count: rows * outputs), gradient: dz)
                }
                let db = base + gradientEnd - outputs
                let dw = db - outputs * inputs
                gradientEnd -= layer.parameterCount
                let layerInput = i == 0 ? source : UnsafePointer(output(i - 1))
                gemm(
                    m: outputs, n: inputs, k: rows, a: upstream, lda: outputs, transA: .transposed,
                    b: layerInput, ldb: inputs, transB: .none, c: dw)
                db.update(repeating: 0, count: outputs)
                for r in 0..<rows {
                    let row = upstream + r * outputs
                    for j in 0..<outputs { db[j] += row[j] }
                }
                if i > 0 {
                    layer.weight.values.withUnsafeBufferPointer { w in
                        gemm(
                            m: rows, n: inputs, k: outputs, a: upstream, lda: outputs, transA: .none,
                            b: w.baseAddress!, ldb: inputs, transB: .none, c: spare)
                    }
                    swap(&upstream, &spare)
                }
            }
            return value
        }
    }
}
