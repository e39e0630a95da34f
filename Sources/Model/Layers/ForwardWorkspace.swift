/// Scratch memory for the serving forward pass (``MLP/forward(rows:input:workspace:_:)``), so that a
/// call in steady state allocates nothing.
///
/// It holds two ping-pong buffers of `capacityRows × widest layer output` floats: layer `i` reads
/// the buffer layer `i − 1` wrote and writes the other. The buffers grow only when a batch has more
/// rows than any before it (or the network a wider layer), so a replica serving a steady mix of
/// batch sizes sizes them once. A value: each thread that scores owns its own (the worker's core
/// keeps one per served replica), and moving it between threads is a plain copy.
public struct ForwardWorkspace: Sendable {
    /// Both buffers, back to back: `[0, half)` and `[half, 2·half)`.
    var storage: [Float] = []
    /// The rows each buffer holds at the current size.
    public private(set) var capacityRows = 0
    /// The widest layer output each buffer holds at the current size.
    public private(set) var capacityWidth = 0
    /// How many times the buffers were (re)allocated: a caller can check that reuse holds.
    public private(set) var allocations = 0

    /// Creates an empty workspace; the first forward pass sizes it.
    public init() {}

    /// Makes room for `rows` rows of up to `width` outputs, reallocating only when it has to.
    mutating func reserve(rows: Int, width: Int) {
        guard rows > capacityRows || width > capacityWidth else { return }
        capacityRows = max(rows, capacityRows)
        capacityWidth = max(width, capacityWidth)
        storage = [Float](repeating: 0, count: 2 * capacityRows * capacityWidth)
        allocations += 1
    }
}

extension Activation {
    /// Adds `bias` to every row of the `rows × bias.count` buffer `z` and applies the activation,
    /// in one pass over it (the epilogue onnxruntime fuses into its `Gemm`).
    func applyBiased(_ z: UnsafeMutablePointer<Float>, rows: Int, bias: UnsafeBufferPointer<Float>) {
        let n = bias.count
        switch self {
        case .identity:
            for r in 0..<rows {
                let row = z + r * n
                for j in 0..<n { row[j] += bias[j] }
            }
        case .relu:
            for r in 0..<rows {
                let row = z + r * n
                for j in 0..<n { row[j] = max(row[j] + bias[j], 0) }
            }
        case .sigmoid:
            for r in 0..<rows {
                let row = z + r * n
                for j in 0..<n { row[j] = logistic(row[j] + bias[j]) }
            }
        }
    }
}

extension MLP {
    /// The widest layer output.
    var widestOutput: Int {
        var widest = 0
        for layer in layers { widest = max(widest, layer.outputWidth) }
        return widest
    }

    /// Runs the network on `rows` rows read in place from `input` (row-major, `rows × inputWidth`),
    /// with no allocation once `workspace` is sized, and hands the `rows × outputWidth` outputs to
    /// `body`. The outputs live in `workspace` and are valid only inside `body`.
    ///
    /// Each layer is one BLAS call shaped for the batch (``denseProduct(input:rows:inputs:weight:outputs:into:)``)
    /// followed by one fused pass that adds the bias and applies the activation. The result equals
    /// ``forward(_:)`` up to float rounding (matrix–vector and matrix–matrix kernels may sum in a
    /// different order).
    /// - Precondition: `input.count >= rows * inputWidth`.
    public func forward<Result>(
        rows: Int, input: UnsafeBufferPointer<Float>, workspace: inout ForwardWorkspace,
        _ body: (UnsafeBufferPointer<Float>) -> Result
    ) -> Result {
        precondition(
            input.count >= rows * inputWidth,
            "MLP: \(input.count) input values for \(rows) rows of \(inputWidth) features")
        workspace.reserve(rows: rows, width: widestOutput)
        let half = workspace.capacityRows * workspace.capacityWidth
        guard rows > 0, let source = input.baseAddress else {
            return body(UnsafeBufferPointer(start: nil, count: 0))
        }
        return workspace.storage.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            var x = source
            var output = base
            for (index, layer) in layers.enumerated() {
                output = base + (index % 2) * half
                layer.weight.values.withUnsafeBufferPointer { w in
                    denseProduct(
                        input: x, rows: rows, inputs: layer.inputWidth, weight: w.baseAddress!,
                        outputs: layer.outputWidth, into: output)
                }
                layer.bias.withUnsafeBufferPointer { bias in
                    layer.activation.applyBiased(output, rows: rows, bias: bias)
                }
                x = UnsafePointer(output)
            }
            return body(UnsafeBufferPointer(start: output, count: rows * outputWidth))
        }
    }
}
