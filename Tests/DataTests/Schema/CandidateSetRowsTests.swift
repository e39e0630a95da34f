import Foundation
import RecTestKit
import Testing

@testable import RecData

/// A slate drawn from a candidate set (a RECOMMEND's own `candidates`, or retrieval's) logs a propensity conditional on
/// that set, which the log does not hold. The export marks such rows in `retrieval`, but its schema ignored the column,
/// so `data ope` weighed every policy against them as if drawn from every item (a helper's 40 one-candidate slates,
/// each logged with propensity 1 and clicked, moved DR to 0.75).
@Suite("Rows drawn from a candidate set are left out of off-policy evaluation, and only of it")
struct CandidateSetRowsTests {
    static let schema = """
        [logs]
        timestamp = "ts"
        item = "item"
        position = "slot"
        click = "click"
        propensity = "p"
        retrieval = "retrieval"
        ignore = []
        [logs.user_features]
        device = "categorical"
        [catalogue]
        file = "items.csv"
        item = "item"
        [catalogue.item_features]
        colour = "categorical"
        """

    @Test("a row with a retrieval value is kept for training, left out of off-policy estimates, and said so")
    func leftOutAndCounted() throws {
        let temporary = try TemporaryDirectory("candidate-rows")
        defer { temporary.remove() }
        var log = ["ts,item,slot,click,p,device,retrieval"]
        for t in 0..<60 {
            let marked = t % 3 == 0 ? (t % 2 == 0 ? "request" : "7") : ""
            log.append("\(t),\(t % 4),1,\(t % 5 == 0 ? 1 : 0),\(marked.isEmpty ? "0.25" : "1"),\(["ios", "web"][t % 2]),\(marked)")
        }
        try log.joined(separator: "\n").write(to: temporary.file("logs.csv"), atomically: true, encoding: .utf8)
        try "item,colour\n0,red\n1,blue\n2,red\n3,green\n".write(to: temporary.file("items.csv"), atomically: true, encoding: .utf8)
        let data = try LogLoader.load(
            logFile: temporary.file("logs.csv").path, catalogueFile: temporary.file("items.csv").path,
            schema: DataSchema.parse(Self.schema, path: "shop.toml"), name: "logs")
        // Every row is a training row (a catalogue of 2,000 items or more draws every slate from retrieval).
        #expect(data.rows == 60 && data.conditionalRows == 20 && data.unobservedRows == 0)
        #expect(DatasetDescription(data).conditionalRows == 20)
        let part = data.subset(0..<30, name: "part")
        #expect(part.conditionalRows == 10)
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: part.rows, nActions: part.nActions), policyName: "uniform", on: part, rewardModel: nil,
            resamples: 0)
        #expect(report.segments.first?.rows == 20)
        #expect(report.notes.contains { $0.hasPrefix("10 rows were left out: their slates were drawn from a candidate set") })
        // Estimated on the other rows alone: the same figures as on those rows given directly.
        let others = part.withoutConditionalRows()
        #expect(others.rows == 20 && others.pscore.allSatisfy { $0 == 0.25 } && others.conditionalRowsLeftOut == 10)
        let direct = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: others.rows, nActions: others.nActions), policyName: "uniform", on: others,
            rewardModel: nil, resamples: 0)
        #expect(report.segments == direct.segments)
    }
}
