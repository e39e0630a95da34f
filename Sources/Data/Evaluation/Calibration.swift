/// Calibration of predicted click probabilities: equal-width reliability bins and the expected calibration error
/// `ECE = Σ_b (n_b / n) · |mean(y)_b − mean(p)_b|` (Naeini, Cooper & Hauskrecht, 2015).
public struct Calibration: Sendable, Codable, Equatable {
    /// One reliability bin.
    public struct Bin: Sendable, Codable, Equatable {
        /// Lower edge of the bin.
        public var lower: Double
        /// Upper edge of the bin.
        public var upper: Double
        /// Examples in the bin.
        public var count: Int
        /// Mean predicted probability.
        public var meanPredicted: Double
        /// Observed positive rate.
        public var observedRate: Double
    }

    /// Non-empty bins, in order.
    public var bins: [Bin]
    /// Expected calibration error.
    public var ece: Double

    /// Bins scores in [0, 1] into `binCount` equal-width bins (a score of 1 goes to the last bin).
    public init(labels: [Double], scores: [Double], binCount: Int = 10) {
        var count = [Int](repeating: 0, count: binCount)
        var sumP = [Double](repeating: 0, count: binCount)
        var sumY = [Double](repeating: 0, count: binCount)
        // A score that is not finite has no bin (`Int(nan)` traps); the callers refuse such scores by name.
        for (y, s) in zip(labels, scores) where s.isFinite {
            let b = min(Int(min(max(s, 0), 1) * Double(binCount)), binCount - 1)
            count[b] += 1
            sumP[b] += s
            sumY[b] += y
        }
        var bins: [Bin] = []
        var ece = 0.0
        let n = Double(labels.count)
        for b in 0..<binCount where count[b] > 0 {
            let c = Double(count[b])
            bins.append(
                Bin(
                    lower: Double(b) / Double(binCount), upper: Double(b + 1) / Double(binCount), count: count[b],
                    meanPredicted: sumP[b] / c, observedRate: sumY[b] / c))
            ece += c / n * abs(sumY[b] / c - sumP[b] / c)
        }
        self.bins = bins
        self.ece = ece
    }
}
