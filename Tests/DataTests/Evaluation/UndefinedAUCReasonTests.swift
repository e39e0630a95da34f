import Foundation
import Testing

@testable import RecData

/// An undefined AUC or average precision carries its reason beside it, in JSON as in text, as precision, recall and
/// F1 do: never a bare `null`.
@Suite("Undefined AUC and PR-AUC say why")
struct UndefinedAUCReasonTests {
    static func json(_ m: ClassificationMetrics) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try #require(JSONSerialization.jsonObject(with: encoder.encode(m)) as? [String: Any])
    }

    @Test("one class only: AUC names the missing class, PR-AUC says there is no positive")
    func oneClass() throws {
        let noClick = try Self.json(ClassificationMetrics(labels: [0, 0, 0], scores: [0.1, 0.2, 0.3]))
        #expect(noClick["roc_auc"] is NSNull && noClick["roc_auc_undefined"] as? String == "no positive label: one class only")
        #expect(noClick["average_precision"] is NSNull)
        #expect(noClick["average_precision_undefined"] as? String == ClassificationMetrics.noPositive)
        let allClicks = try Self.json(ClassificationMetrics(labels: [1, 1], scores: [0.1, 0.2]))
        #expect(allClicks["roc_auc_undefined"] as? String == "no negative label: one class only")
        #expect(allClicks["average_precision_undefined"] is NSNull)
    }

    @Test("defined figures have a null reason, and the keys are always present")
    func defined() throws {
        let both = try Self.json(ClassificationMetrics(labels: [0, 1], scores: [0.1, 0.9]))
        #expect(both["roc_auc"] as? Double == 1)
        #expect(both["roc_auc_undefined"] is NSNull && both["average_precision_undefined"] is NSNull)
    }
}
