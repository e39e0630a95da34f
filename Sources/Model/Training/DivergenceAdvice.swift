/// What to do about a training run whose loss, weights or optimiser state stopped being finite, shared by
/// `recpool fit` and the pool's rounds so that both say the same thing about the same data.
///
/// Adam's second moment is the running mean of the squared gradient (Kingma and Ba, 2015, Algorithm 1), and a
/// gradient holds the inputs' values: with a feature of magnitude past about 10¹⁹ its square passes Float's largest
/// value (3.4 × 10³⁸) at the first step, whatever the learning rate. The advice then points at the data.
public enum DivergenceAdvice {
    /// The feature magnitude from which the advice is to scale the data rather than lower the learning rate.
    public static let largeFeature: Float = 1e15

    /// The largest magnitude among `inputs`' values (0 for none).
    public static func largestMagnitude(_ inputs: Matrix) -> Float {
        inputs.values.reduce(0) { max($0, abs($1)) }
    }

    /// The advice for a run at `learningRate` on features whose largest magnitude is `largestFeature`.
    public static func text(largestFeature: Float, learningRate: Double) -> String {
        if largestFeature >= largeFeature {
            return "the features reach magnitude \(largestFeature), whose squared gradients overflow a float "
                + "(Adam's second moment): scale or standardise the features; a lower learning rate does not help"
        }
        return "training diverged at learning rate \(learningRate); try a lower one"
    }
}
