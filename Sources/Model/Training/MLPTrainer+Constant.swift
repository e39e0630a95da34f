import Foundation

extension MLPTrainer {
    /// Starts the output layer at the constant predictor: its weights 0 and its bias `log(p / (1 − p))`, so that the
    /// model scores every row with the click rate `p` before the first step ("initialise the final layer's bias to
    /// the base rate", Karpathy, "A Recipe for Training Neural Networks", 2019; with zero output weights the start is
    /// exactly the constant). The hidden layers keep their initialisation; the first step moves the output weights
    /// off 0, after which gradients reach every layer. With ``fit(train:validation:config:rng:)`` keeping the best
    /// validation point, whose candidates include these starting weights, the trained model never validates worse
    /// than the constant.
    /// - Parameter clickRate: the training rows' positive rate, clamped to [1e-6, 1 − 1e-6].
    /// - Returns: Whether the start was set (false when the output layer is not a single sigmoid unit).
    @discardableResult
    public mutating func startFromConstant(clickRate: Double) -> Bool {
        guard var output = model.layers.last, output.activation == .sigmoid, output.outputWidth == 1 else {
            return false
        }
        let p = Self.constantScore(clickRate: clickRate)
        output.weight.values = [Float](repeating: 0, count: output.weight.values.count)
        output.bias = [Float(log(p / (1 - p)))]
        model.layers[model.layers.count - 1] = output
        return true
    }

    /// The score of the constant predictor for `clickRate`: the rate held within [1e-6, 1 − 1e-6], where the model
    /// starts (its bias is the rate's log-odds, which 0 and 1 do not have). The baseline a model must beat scores
    /// this same constant, so a model that kept its starting weights ties with it.
    public static func constantScore(clickRate: Double) -> Double {
        min(max(clickRate, 1e-6), 1 - 1e-6)
    }

    /// The score the model started by ``startFromConstant(clickRate:)`` gives every row: the Float32 sigmoid of its
    /// Float32 bias, as the forward pass computes it. It is ``constantScore(clickRate:)`` up to Float32 rounding,
    /// which near 0 or 1 is not negligible in a log-loss: at a rate of 1 the model scores `1 − 9.5e-7`, not
    /// `1 − 1e-6`, and each row labelled 0 costs 0.05 more or less. The baseline a model must beat scores this, so a
    /// checkpoint that kept its starting weights ties with it exactly.
    public static func startingScore(clickRate: Double) -> Double {
        let p = constantScore(clickRate: clickRate)
        return Double(logistic(Float(log(p / (1 - p)))))
    }
}
