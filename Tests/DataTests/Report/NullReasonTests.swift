import Foundation
import RecTestKit
import Testing

@testable import RecData

/// Every `null` figure of `eval`, `fit`, `data describe` and `data ope` JSON has its reason beside it
/// (docs/DATA.md, "Undefined estimates"): a bare `null` (or a `[]` in place of a curve) tells a reader nothing.
@Suite("Undefined figures carry their reason")
struct NullReasonTests {
    /// Keys documented as absent rather than undefined: none (the ground-truth figures of a log that is not the
    /// simulator's were bare `null`s; they carry their reason now).
    static let simulatorOnly: Set<String> = []

    /// A 3-item log of `rows` rows with the given clicks.
    static func log(rows: Int, click: (Int) -> Bool, coldStart: Bool = true) -> BanditDataset {
        var affinity = SparseRows()
        for _ in 0..<rows { affinity.append(coldStart ? [(Int, Float)]() : [(0, 1)]) }
        return BanditDataset(
            name: "log", nActions: 3, nPositions: 1, action: (0..<rows).map { $0 % 3 },
            position: [Int](repeating: 0, count: rows), reward: (0..<rows).map { click($0) ? 1 : 0 },
            pscore: [Double](repeating: 1.0 / 3, count: rows),
            userFeatures: CategoricalColumns(names: ["country"], rows: (0..<rows).map { ["c\($0 % 2)"] }),
            context: FeatureMatrix(rows: rows, columnNames: [], values: []),
            actionContext: FeatureMatrix(rows: 3, columnNames: [], values: []), affinity: affinity,
            itemNumericColumns: 0)
    }

    static func evaluate(_ data: BanditDataset, specFrom training: BanditDataset? = nil) throws -> EvaluationReport {
        let spec = try FeatureSpec.fit(on: training ?? data)
        return try ModelEvaluation.evaluate(
            data: data, spec: spec, modelName: "constant", scorer: { rows, width in
                [Float](repeating: 0.1, count: rows.count / width)
            }, rewardModel: nil, resamples: 20)
    }

    @Test("eval on rows without a click: the ROC curve, HR@K, NDCG@K and the threshold are null with reasons")
    func evalWithoutClicks() throws {
        let report = try Self.evaluate(Self.log(rows: 60, click: { _ in false }))
        #expect(try NullReasons.unexplained(encoding: report, notApplicable: Self.simulatorOnly) == [])
        let all = try #require(report.segments.first)
        #expect(all.roc == nil && all.rocUndefined == "no positive label: one class only")
        #expect(all.ranking.allSatisfy { $0.undefined == RankingMetrics.noClick })
        #expect(report.threshold == nil && report.thresholdUndefined == "no validation rows, and no click among the evaluated rows")
        // One note, the real reason: none that says a threshold was chosen.
        #expect(!report.notes.contains { $0.contains("was chosen") }, "\(report.notes)")
        #expect(report.notes.contains("no validation rows, and no click among the evaluated rows: no threshold could be chosen"))
        #expect(report.html().contains("all: undefined (no positive label: one class only)"))
    }

    @Test("eval on no rows at all: the threshold's reason says so, and no note claims it was chosen")
    func evalOnNoRows() throws {
        let report = try Self.evaluate(
            Self.log(rows: 0, click: { _ in false }), specFrom: Self.log(rows: 30, click: { $0 % 3 == 0 }))
        #expect(try NullReasons.unexplained(encoding: report, notApplicable: Self.simulatorOnly) == [])
        #expect(report.thresholdUndefined == "no validation rows and no evaluated rows")
        #expect(report.notes.filter { $0.contains("threshold") } == [
            "no validation rows and no evaluated rows: no threshold could be chosen"
        ])
    }

    @Test("eval with clicks: every figure is defined and every reason key is null")
    func evalWithClicks() throws {
        let report = try Self.evaluate(Self.log(rows: 60, click: { $0 % 4 == 0 }))
        let all = try #require(report.segments.first)
        #expect(all.roc?.isEmpty == false && all.rocUndefined == nil && all.atChosenThresholdUndefined == nil)
        #expect(report.threshold != nil && report.thresholdUndefined == nil)
        #expect(all.ranking.allSatisfy { $0.undefined == nil })
        // Every row is cold: the warm segment has no rows, and both its ROC and its calibration legends say why (a
        // reviewer's case: the calibration legend read "warm" beside no point).
        let html = report.html()
        #expect(html.components(separatedBy: "warm: undefined (").count - 1 == 2, "\(html)")
    }

    @Test("fit's validation figures: no rows and no clicks each name their reason")
    func validationMetrics() throws {
        let none = ValidationMetrics(labels: [], scores: [])
        #expect(none.thresholdUndefined == "no validation rows")
        #expect(try NullReasons.unexplained(encoding: none) == [])
        let noClick = ValidationMetrics(labels: [0, 0, 0], scores: [0.1, 0.2, 0.3])
        #expect(noClick.thresholdUndefined == "no click among the validation rows")
        #expect(noClick.atChosenThresholdUndefined == SegmentEvaluation.noThreshold)
        #expect(try NullReasons.unexplained(encoding: noClick) == [])
    }

    @Test("data describe and data ope: a segment with no rows has reasons beside its null figures")
    func describeAndOPE() throws {
        let cold = Self.log(rows: 40, click: { $0 % 5 == 0 })
        let description = DatasetDescription(cold)
        #expect(description.warmCTR == nil)
        #expect(try NullReasons.unexplained(encoding: description) == [])
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: cold.rows, nActions: cold.nActions), policyName: "uniform", on: cold,
            rewardModel: nil, resamples: 20)
        #expect(try NullReasons.unexplained(encoding: report) == [])
    }
}
