import Testing

@testable import RecModel

@Suite("Classification metrics")
struct ClassificationMetricsTests {
    @Test("counts at a threshold give the textbook accuracy, precision, recall and F1")
    func confusion() {
        // Predictions at 0.5: [1, 1, 0, 0, 1]; labels [1, 0, 1, 0, 1] → TP 2, FP 1, FN 1, TN 1.
        let m = ClassificationMetrics(probabilities: [0.9, 0.6, 0.4, 0.1, 0.7], labels: [1, 0, 1, 0, 1])
        #expect(m.accuracy == 0.6)
        #expect(abs(m.precision - 2.0 / 3) < 1e-12)
        #expect(abs(m.recall - 2.0 / 3) < 1e-12)
        #expect(abs(m.f1 - 2.0 / 3) < 1e-12)
    }

    @Test("AUC counts correctly ordered pairs and halves ties")
    func auc() {
        // Positives 0.9, 0.4, 0.7; negatives 0.6, 0.1. Pairs won: 0.9>both (2), 0.4>0.1 (1), 0.7>both (2) → 5/6.
        let m = ClassificationMetrics(probabilities: [0.9, 0.6, 0.4, 0.1, 0.7], labels: [1, 0, 1, 0, 1])
        #expect(abs(m.auc - 5.0 / 6) < 1e-12)
        let tied = ClassificationMetrics(probabilities: [0.5, 0.5], labels: [1, 0])
        #expect(tied.auc == 0.5)
        #expect(ClassificationMetrics(probabilities: [0.2, 0.8], labels: [0, 1]).auc == 1)
    }

    @Test("log-loss equals the mean negative log-likelihood and clips certainty")
    func logLoss() {
        let m = ClassificationMetrics(probabilities: [0.8, 0.25], labels: [1, 0])
        let want = -(log(0.8) + log(0.75)) / 2
        #expect(abs(m.logLoss - want) < 1e-6)
        let sure = ClassificationMetrics(probabilities: [0], labels: [1])
        #expect(sure.logLoss.isFinite && abs(sure.logLoss - 16.118) < 0.01)
    }
}

import Foundation
