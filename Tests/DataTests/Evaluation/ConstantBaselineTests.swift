import Foundation
import Testing

@testable import RecData

@Suite("The constant predictor a click model must beat")
struct ConstantBaselineTests {
    @Test("the constant is the training click rate, scored with scikit-learn's log-loss on the validation rows")
    func knownAnswer() {
        let better = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [1, 0], scores: [0.5, 0.5])
        #expect(better.clickRate == 0.25)
        #expect(abs(better.logLoss - (-(log(0.25) + log(0.75)) / 2)) < 1e-12)
        #expect(abs(better.modelLogLoss - log(2)) < 1e-12)
        #expect(better.beatsConstant)
        #expect(better.text.hasPrefix("beats the constant predictor: validation log-loss 0.6931 vs 0.8370"))
    }

    @Test("a model no better than the click rate is reported with a warning")
    func warns() {
        let worse = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [0, 0, 0, 1], scores: [0.9, 0.1, 0.1, 0.1])
        #expect(!worse.beatsConstant)
        #expect(worse.text.hasPrefix("warning: the model does not beat the constant predictor"))
        let same = ConstantBaseline(trainingLabels: [1, 0], labels: [1, 0], scores: [0.5, 0.5])
        #expect(!same.beatsConstant, "equal is not better")
        // The click rate scored in Float32 (as a checkpoint at its starting weights scores it) ties, whichever way
        // the rounding falls.
        let labels = (0..<1000).map { $0 % 240 == 0 ? 1.0 : 0.0 }
        let rate = 1.0 / 240
        for nudge in [-1.0, 1.0] {
            let rounded = Double(Float(rate).nextUp) + nudge * 1e-9
            let tie = ConstantBaseline(
                trainingLabels: (0..<240).map { $0 == 0 ? 1 : 0 }, labels: labels,
                scores: [Double](repeating: rounded, count: labels.count))
            #expect(!tie.beatsConstant, "\(tie.modelLogLoss) against \(tie.logLoss)")
        }
    }
}
