import Foundation

/// A tiny dense logistic regression trained by full-batch gradient descent, standing in for the model layer's
/// MLP so that the evaluation pipeline can be tested on features from a real `FeatureSpec`.
struct LogisticScorer: Sendable {
    var weights: [Float]
    var bias: Float

    init(rows: [Float], width: Int, labels: [Double], iterations: Int = 60, rate: Float = 0.5) {
        let n = labels.count
        weights = [Float](repeating: 0, count: width)
        let mean = Float(labels.reduce(0, +) / Double(n))
        bias = log(mean / (1 - mean))
        var gradient = [Float](repeating: 0, count: width)
        for _ in 0..<iterations {
            for j in 0..<width { gradient[j] = 0 }
            var gb: Float = 0
            for i in 0..<n {
                var z = bias
                for j in 0..<width { z += weights[j] * rows[i * width + j] }
                let g = (1 / (1 + exp(-z)) - Float(labels[i])) / Float(n)
                gb += g
                for j in 0..<width where rows[i * width + j] != 0 { gradient[j] += g * rows[i * width + j] }
            }
            bias -= rate * gb
            for j in 0..<width { weights[j] -= rate * 8 * gradient[j] }
        }
    }

    func score(_ rows: [Float], _ width: Int) -> [Float] {
        stride(from: 0, to: rows.count, by: width).map { start in
            var z = bias
            for j in 0..<width { z += weights[j] * rows[start + j] }
            return 1 / (1 + exp(-z))
        }
    }
}
