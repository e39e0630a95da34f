import Foundation
import RecModel
import Testing

@testable import RecData

@Suite("Classification metrics at low click rates")
struct LowClickRateMetricsTests {
    @Test("counts at a threshold give the textbook accuracy, precision, recall and F1")
    func confusion() {
        // Predictions at 0.5: [1, 1, 0, 0, 1]; labels [1, 0, 1, 0, 1] → TP 2, FP 1, FN 1, TN 1.
        let m = ClassificationMetrics(labels: [1, 0, 1, 0, 1], scores: [0.9, 0.6, 0.4, 0.1, 0.7])
        #expect(m.accuracy == 0.6)
        #expect(abs(m.precision! - 2.0 / 3) < 1e-12 && abs(m.recall! - 2.0 / 3) < 1e-12)
        #expect(abs(m.f1! - 2.0 / 3) < 1e-12)
        #expect(m.precisionUndefined == nil && m.recallUndefined == nil && m.f1Undefined == nil)
        // Positives 0.9, 0.4, 0.7; negatives 0.6, 0.1: 5 of 6 pairs ordered.
        #expect(abs(m.rocAUC! - 5.0 / 6) < 1e-12)
    }

    @Test("precision, recall and F1 of 0/0 are undefined with a reason, never 0")
    func undefinedRatios() throws {
        // No positive label and nothing predicted positive: all three are 0/0.
        let none = ClassificationMetrics(labels: [0, 0, 0], scores: [0.1, 0.2, 0.3])
        #expect(none.precision == nil && none.recall == nil && none.f1 == nil)
        #expect(none.precisionUndefined == ClassificationMetrics.noPredictedPositive)
        #expect(none.recallUndefined == ClassificationMetrics.noPositive)
        #expect(none.f1Undefined == ClassificationMetrics.neitherPositive)
        // Positives but nothing predicted positive: precision 0/0, recall and F1 are 0 (defined).
        let missed = ClassificationMetrics(labels: [1, 0, 1], scores: [0.1, 0.2, 0.3])
        #expect(missed.precision == nil && missed.recall == 0 && missed.f1 == 0 && missed.f1Undefined == nil)
        // Predicted positives but no positive label: recall 0/0, precision and F1 are 0.
        let false_ = ClassificationMetrics(labels: [0, 0], scores: [0.9, 0.1])
        #expect(false_.precision == 0 && false_.recall == nil && false_.f1 == 0)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = try #require(
            try JSONSerialization.jsonObject(with: encoder.encode(none)) as? [String: Any])
        #expect(json["precision"] is NSNull && json["recall"] is NSNull && json["f1"] is NSNull)
        #expect(json["precision_undefined"] as? String == ClassificationMetrics.noPredictedPositive)
    }

    @Test("average precision is scikit-learn's Σ (R_n − R_{n−1}) P_n, and undefined without positives")
    func averagePrecision() throws {
        // Descending: 0.9 (+), 0.7 (+), 0.6 (−), 0.4 (+), 0.1 (−): P at each recall step 1, 1, 3/4.
        let ap = try #require(
            ClassificationMetrics.averagePrecision(labels: [1, 0, 1, 0, 1], scores: [0.9, 0.6, 0.4, 0.1, 0.7]))
        #expect(abs(ap - (1.0 / 3 + 1.0 / 3 + 0.75 / 3)) < 1e-12)
        #expect(ClassificationMetrics.averagePrecision(labels: [0, 0], scores: [0.1, 0.2]) == nil)
        let data = try JSONSerialization.jsonObject(
            with: JSONEncoder().encode(ClassificationMetrics(labels: [0, 0], scores: [0.1, 0.2]))) as? [String: Any]
        #expect(data?["averagePrecision"] is NSNull && data?["rocAUC"] is NSNull)
    }

    @Test("a NaN score ends the threshold sweep (it once looped forever) and has no calibration bin (it once trapped)")
    func nanScores() {
        let labels: [Double] = [1, 0, 1, 0]
        let scores: [Double] = [0.9, .nan, .nan, 0.2]
        let steps = ClassificationMetrics.descendingSweep(labels: labels, scores: scores)
        #expect(steps.last?.predicted == 4 && steps.last?.truePositives == 2)
        _ = ClassificationMetrics.averagePrecision(labels: labels, scores: scores)
        _ = ClassificationMetrics.bestF1Threshold(labels: labels, scores: scores)
        let calibration = Calibration(labels: labels, scores: scores + [], binCount: 10)
        #expect(calibration.bins.reduce(0) { $0 + $1.count } == 2)
        // A finite score far outside [0, 1] goes to an end bin instead of trapping in Int(_:).
        #expect(Calibration(labels: [1, 0], scores: [1e300, -1e300]).bins.reduce(0) { $0 + $1.count } == 2)
    }

    @Test("at a 0.4% click rate F1 is 0 at 0.5 but not at the threshold chosen on other rows")
    func chosenThreshold() throws {
        // Validation and test rows: 1 click in 250, every score far below 0.5, clicks scored higher on the whole.
        func rows(seed: UInt64) -> (labels: [Double], scores: [Double]) {
            var rng = SplitMix64(seed: seed)
            var labels: [Double] = [], scores: [Double] = []
            for i in 0..<5_000 {
                let click = i % 250 == 0
                labels.append(click ? 1 : 0)
                scores.append(click ? 0.02 + 0.01 * rng.uniform() : 0.025 * rng.uniform())
            }
            return (labels, scores)
        }
        let validation = rows(seed: 1), test = rows(seed: 2)
        let threshold = try #require(
            ClassificationMetrics.bestF1Threshold(labels: validation.labels, scores: validation.scores))
        #expect(threshold > 0.015 && threshold < 0.5)
        let atHalf = ClassificationMetrics(labels: test.labels, scores: test.scores)
        let atChosen = ClassificationMetrics(labels: test.labels, scores: test.scores, threshold: threshold)
        // Nothing predicted positive at 0.5: precision is 0/0 (undefined), recall and F1 are 0.
        #expect(atHalf.f1 == 0 && atHalf.precision == nil && atHalf.recall == 0)
        #expect(atHalf.precisionUndefined == ClassificationMetrics.noPredictedPositive)
        #expect((atChosen.f1 ?? 0) > 0.2, "F1 \(String(describing: atChosen.f1)) at \(threshold)")
        #expect(ClassificationMetrics.bestF1Threshold(labels: [0, 0], scores: [0.1, 0.2]) == nil)
    }

    @Test("a model evaluation reports the validation threshold, F1 above 0 at it, intervals and few-click warnings")
    func evaluation() throws {
        var config = SimulatorConfig()
        config.users = 3_000
        config.items = 10
        config.noClickUtility = 6.5
        config.warmFraction = 0.02
        let world = SimulatorWorld(config: config)
        let data = world.loggedData(rows: 40_000, policy: .uniform, seed: 9)
        let ctr = Double(data.clicks) / Double(data.rows)
        #expect(ctr < 0.02, "CTR \(ctr)")
        let parts = SplitDataset(data), (train, validation, test) = (parts.train, parts.validation, parts.test)
        let spec = try FeatureSpec.fit(on: train)
        let scorer = LogisticScorer(rows: spec.matrix(train).values, width: spec.width, labels: train.reward)
        let report = try ModelEvaluation.evaluate(
            data: test, spec: spec, modelName: "logistic", scorer: scorer.score, validation: validation,
            rewardModel: nil, resamples: 50)
        let choice = try #require(report.threshold)
        #expect(choice.chosenOn == "validation" && choice.rows == validation.rows && choice.criterion == "max F1")
        let all = try #require(report.segments.first)
        let classification = try #require(all.classification)
        #expect(classification.f1 == 0, "F1 at 0.5 is \(String(describing: classification.f1))")
        let chosen = try #require(all.atChosenThreshold)
        #expect(chosen.threshold == choice.threshold && (chosen.f1 ?? 0) > 0)
        #expect(classification.averagePrecision != nil)
        let intervals = try #require(all.intervals)
        let auc = try #require(classification.rocAUC)
        let aucInterval = try #require(intervals.rocAUC)
        #expect(aucInterval.lower <= auc && auc <= aucInterval.upper)
        let warm = try #require(report.segments.first { $0.segment == .warm })
        #expect(warm.clicks < ModelEvaluation.minimumClicks)
        #expect(warm.warnings.contains { $0.contains("only \(warm.clicks) clicks") })
        #expect(all.clicks < ModelEvaluation.minimumClicks || all.warnings.isEmpty)
    }

    @Test("ESS below the stated floor is flagged on every off-policy segment that has it")
    func essWarning() {
        let low = SegmentEstimates(
            segment: .all, rows: 1_000, behaviourValue: 0.01, effectiveSampleSize: 2.1, estimates: [])
        #expect(low.warnings.count == 1 && low.warnings[0].contains("2.1 is below 100"))
        let fine = SegmentEstimates(
            segment: .all, rows: 1_000, behaviourValue: 0.01, effectiveSampleSize: 340, estimates: [])
        #expect(fine.warnings.isEmpty)
        let none = SegmentEstimates(
            segment: .all, rows: 10, behaviourValue: 0, effectiveSampleSize: nil,
            effectiveSampleSizeUndefined: "every importance weight is 0 (0/0)", estimates: [])
        #expect(none.warnings.count == 1)
    }
}
