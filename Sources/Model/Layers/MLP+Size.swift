extension MLP {
    /// The largest model RecPool builds, trains or serves, in parameters (200 MB of Float32 weights, before Adam's
    /// two moments): a layer width that passes every per-width check (1…65,536) can still ask for 4 × 10^9 weights
    /// (`--hidden 65536,65536`, or the seed's `d → d → 64` at `d` = 65,536), which no replica can hold or ship.
    public static let maximumParameters = 50_000_000

    /// The number of parameters of the model `[inputWidth] + hidden + [outputWidth]` (weights and biases), or `nil`
    /// on overflow. `hiddenSizes` nil is the seed's `[inputWidth, 64]`.
    public static func parameterCount(inputWidth: Int, hiddenSizes: [Int]?, outputWidth: Int = 1) -> Int? {
        let widths = [inputWidth] + (hiddenSizes ?? [inputWidth, 64]) + [outputWidth]
        var total = 0
        for i in 0..<(widths.count - 1) {
            let (w, o1) = widths[i].multipliedReportingOverflow(by: widths[i + 1])
            let (layer, o2) = w.addingReportingOverflow(widths[i + 1])
            let (sum, o3) = total.addingReportingOverflow(layer)
            if o1 || o2 || o3 { return nil }
            total = sum
        }
        return total
    }

    /// Why the model `[inputWidth] + hidden + [1]` is too large to build, or nil: more than ``maximumParameters``.
    /// Checked before anything is allocated (an allocation of 17 GB aborts the process).
    public static func sizeProblem(inputWidth: Int, hiddenSizes: [Int]?) -> String? {
        let widths = ([inputWidth] + (hiddenSizes ?? [inputWidth, 64]) + [1]).map(String.init).joined(separator: " → ")
        guard let count = parameterCount(inputWidth: inputWidth, hiddenSizes: hiddenSizes) else {
            return "the model \(widths) has more parameters than an Int can count (at most \(maximumParameters))"
        }
        guard count <= maximumParameters else {
            return "the model \(widths) has \(count) parameters, more than the \(maximumParameters) RecPool builds"
        }
        return nil
    }
}
