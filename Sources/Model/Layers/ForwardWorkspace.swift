/// Scratch memory for the serving forward pass (``MLP/forward(rows:input:workspace:_:)``), so that a
/// call in steady state allocates nothing.
///
/// It holds two ping-pong buffers of `capacityRows × widest layer output` floats: layer `i` reads
/// the buffer layer `i − 1` wrote and writes the other. The buffers grow only when a batch has more
/// rows than any before it (or the network a wider layer), so a replica serving a steady mix of
/// batch sizes sizes them once. A batch of more than ``MLP/blockRows`` rows runs block by block
/// through the whole chain, so the buffers hold one block and the outputs go to a third buffer
/// (``outputs``). A value: each thread that scores owns its own (the worker's core keeps one), and
/// moving it between threads is a plain copy.
public struct ForwardWorkspace: Sendable {
    /// Both buffers, back to back: `[0, half)` and `[half, 2·half)`.
    var storage: [Float] = []
    /// The outputs of a batch run block by block.
    var outputs: [Float] = []
    /// The rows each buffer holds at the current size.
    public private(set) var capacityRows = 0
    /// The widest layer output each buffer holds at the current size.
    public private(set) var capacityWidth = 0
    /// How many times the buffers were (re)allocated: a caller can check that reuse holds.
    public internal(set) var allocations = 0

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
        guard rows > 0, let source = input.baseAddress else {
            return body(UnsafeBufferPointer(start: nil, count: 0))
        }
        guard rows > 2 * Self.blockRows else {
            workspace.reserve(rows: rows, width: widestOutput)
            return chain(rows: rows, input: source, workspace: &workspace) { body(UnsafeBufferPointer($0)) }
        }
        // A large batch runs block by block through every layer: each block's activations stay in
        // the core's cache, where the whole batch's would not (at d_in 106, 4,096 rows are 1.7 MB a layer).
        workspace.reserve(rows: Self.blockRows, width: widestOutput)
        let width = outputWidth
        // Taken out of the workspace while it is written, so that it stays uniquely referenced.
        var outputs = workspace.outputs
        workspace.outputs = []
        if outputs.count < rows * width {
            outputs = [Float](repeating: 0, count: rows * width)
            workspace.allocations += 1
        }
        outputs.withUnsafeMutableBufferPointer { target in
            var start = 0
            while start < rows {
                let count = min(Self.blockRows, rows - start)
                chain(rows: count, input: source + start * inputWidth, workspace: &workspace) { block in
                    (target.baseAddress! + start * width).update(from: block.baseAddress!, count: count * width)
                }
                start += count
            }
        }
        let result = outputs.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<(rows * width)])) }
        workspace.outputs = outputs
        return result
    }

    /// Rows per block when a batch is run block by block (batches over twice this run so).
    public static let blockRows = 256

    /// Runs every layer on `rows` rows (at most the workspace's capacity) and hands the last layer's
    /// outputs, which live in the workspace, to `body`.
    private func chain<Result>(
        rows: Int, input source: UnsafePointer<Float>, workspace: inout ForwardWorkspace,
        _ body: (UnsafeMutableBufferPointer<Float>) -> Result
    ) -> Result {
        let half = workspace.capacityRows * workspace.capacityWidth
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
            return body(UnsafeMutableBufferPointer(start: output, count: rows * outputWidth))
        }
    }
}
