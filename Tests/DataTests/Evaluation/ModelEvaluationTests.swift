import Foundation
import Testing

@testable import RecData

@Suite("Evaluating a click model on logged data")
struct ModelEvaluationTests {
    static let world: SimulatorWorld = {
        var config = SimulatorConfig()
        config.users = 3_000
        config.items = 12
        config.warmFraction = 0.15
        return SimulatorWorld(config: config)
    }()

    static let report: EvaluationReport = {
        let data = world.loggedData(rows: 12_000, policy: .uniform, seed: 5)
        let parts = SplitDataset(data), (train, test) = (parts.train, parts.test)
        let spec = try! FeatureSpec.fit(on: train)
        let features = spec.matrix(train)
        let scorer = LogisticScorer(rows: features.values, width: spec.width, labels: train.reward)
        return try! ModelEvaluation.evaluate(
            data: test, spec: spec, modelName: "logistic", scorer: scorer.score, rewardModel: .itemMean(),
            resamples: 200)
    }()

    @Test("every figure is split into all, cold-start and warm segments")
    func segments() throws {
        let r = Self.report
        #expect(r.segments.map(\.segment) == [.all, .coldStart, .warm])
        #expect(r.segments[1].rows + r.segments[2].rows == r.rows)
        #expect(r.offPolicy.segments.map(\.segment) == [.all, .coldStart, .warm])
        for s in r.segments {
            #expect(s.ranking.map(\.k) == [1, 3, 5, 10])
            #expect(s.ranking.allSatisfy { $0.hitRate >= $0.ndcg && $0.hitRate <= 1 })
            #expect(s.calibration?.bins.reduce(0) { $0 + $1.count } == s.rows)
        }
    }

    @Test("a model trained on simulator data beats chance and the uniform logger on ground truth")
    func learns() throws {
        let all = try #require(Self.report.segments.first)
        let auc = try #require(all.classification?.rocAUC)
        #expect(auc > 0.6, "AUC \(auc)")
        let greedy = try #require(all.oracleGreedyValue)
        let logged = try #require(all.oracleLoggedValue)
        #expect(greedy > 1.3 * logged, "greedy \(greedy) vs logged \(logged)")
        // HitRate@10 of 12 items is nearly 1; @1 beats the 1/12 of a random ranking.
        #expect(all.ranking[0].hitRate > 1.0 / 12)
    }

    @Test("the HTML report is one self-contained page with a ROC curve and a calibration plot")
    func html() throws {
        let page = Self.report.html()
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.components(separatedBy: "<svg").count - 1 == 2)
        #expect(page.contains("ROC curve") && page.contains("Calibration"))
        #expect(page.contains("cold_start") && page.contains("warm"))
        #expect(!page.contains("src=") && !page.contains("href=") && !page.contains("<script"))
        // Every warning and note of the text and JSON forms is on the page (its warnings were dropped).
        var withWarnings = Self.report
        withWarnings.segments[1].warnings = ["only 9 clicks <fewer than 30>"]
        withWarnings.offPolicy.segments[2].warnings = ["effective sample size 10.6 is below 100"]
        withWarnings.offPolicy.notes = ["an off-policy note"]
        let warned = withWarnings.html()
        #expect(warned.contains("cold_start, click prediction: only 9 clicks &lt;fewer than 30&gt;"))
        #expect(warned.contains("warm, off-policy value: effective sample size 10.6 is below 100"))
        #expect(warned.contains("an off-policy note"))
        if Self.report.segments.allSatisfy({ $0.warnings.isEmpty })
            && Self.report.offPolicy.segments.allSatisfy({ $0.warnings.isEmpty })
        {
            #expect(!page.contains("<h2>Warnings</h2>"))
        }
        if let out = ProcessInfo.processInfo.environment["RECPOOL_REPORT_OUT"] {
            try page.write(toFile: out, atomically: true, encoding: .utf8)
        }
    }
}
