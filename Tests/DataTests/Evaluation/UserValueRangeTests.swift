import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// A dataset row whose numeric user feature serving would refuse is refused by every command that scores a dataset with
/// a checkpoint (`eval`, `data ope --model`, `data features --spec`, `loadtest`'s rows), never scored.
@Suite("A checkpoint refuses dataset rows whose numeric user feature serving refuses")
struct UserValueRangeTests {
    /// A shop log of five items with a numeric `age` near 30 (3 years apart), `age` of row `far` set to `value`.
    static func load(in folder: String, far: Int? = nil, value: String = "") throws -> BanditDataset {
        var log = ["ts,sku,slot,clicked,p,age"]
        for t in 0..<120 {
            let age = t == far ? value : "\(27 + t % 7)"
            log.append("\(t),SKU-\(t % 5),1,\(t % 7 == 0 ? 1 : 0),0.2,\(age)")
        }
        let schema = """
            [logs]
            timestamp = "ts"
            item = "sku"
            position = "slot"
            click = "clicked"
            propensity = "p"
            [logs.user_features]
            age = "numeric"
            [catalogue]
            file = "items.csv"
            item = "sku"
            [catalogue.item_features]
            price = "numeric"
            """
        try log.joined(separator: "\n").write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        let items = ["sku,price"] + (0..<5).map { "SKU-\($0),\(10 + 3 * $0)" }
        try items.joined(separator: "\n").write(toFile: folder + "/items.csv", atomically: true, encoding: .utf8)
        return try LogLoader.load(
            logFile: folder + "/logs.csv", catalogueFile: folder + "/items.csv",
            schema: DataSchema.parse(schema, path: folder + "/shop.toml"), name: "logs.csv")
    }

    /// A helper's case: `eval` scored `age = 1e17` on every third test row as 1.0 and printed log-loss 10.6452, where
    /// `recommend` with the same value got BAD_REQUEST.
    @Test("a value past 1e15 training standard deviations is refused naming row, feature and value; a blank one passes")
    func farValueRefused() async throws {
        try await withTemporaryDirectory("user-value-range") { folder in
            let spec = try FeatureSpec.fit(on: SplitDataset(try Self.load(in: folder.path)).train)
            try CheckpointEvaluation.check(spec: spec, data: try Self.load(in: folder.path))
            for value in ["1e17", "-3e38"] {
                let far = try Self.load(in: folder.path, far: 100, value: value)
                #expect {
                    try CheckpointEvaluation.check(spec: spec, data: far)
                } throws: { error in
                    guard case .userValueOutOfRange(let dataset, 100, "age", let read) = error as? CheckpointEvaluationError
                    else { return false }
                    let text = (error as? CheckpointEvaluationError)?.description ?? ""
                    return dataset == "logs.csv" && read == Double(value)
                        && text.contains("logs.csv row 100 (0-based): numeric user feature 'age' is")
                        && text.contains("serving refuses such a request")
                }
            }
            // A blank cell is missing (the training mean), as at serving; a large but admitted value still scores.
            try CheckpointEvaluation.check(spec: spec, data: try Self.load(in: folder.path, far: 100, value: ""))
            try CheckpointEvaluation.check(spec: spec, data: try Self.load(in: folder.path, far: 100, value: "1e9"))
        }
    }

    /// A reviewer's case: `fit` chose its epoch on a validation row of −1e17 (every score alike: "best epoch 0, the
    /// checkpoint holds the starting weights") that `eval` then refused; pool training judged it alike.
    @Test("training rows refuse a validation row serving would refuse, naming it; the log's other rows train")
    func validationRowRefused() async throws {
        try await withTemporaryDirectory("user-value-range-fit") { folder in
            let split = SplitDataset(try Self.load(in: folder.path, far: 75, value: "-1e17"))
            #expect(split.validation.rows == 12 && split.train.rows == 72)
            #expect {
                try split.trainingRows(name: "logs.csv")
            } throws: { error in
                (error as? FeatureSpecError) == .userValueOutOfRange(
                    dataset: "logs.csv[validation]", row: 3, feature: "age", value: -1e17)
            }
            _ = try SplitDataset(try Self.load(in: folder.path, far: 75, value: "")).trainingRows(name: "logs.csv")
        }
    }
}
