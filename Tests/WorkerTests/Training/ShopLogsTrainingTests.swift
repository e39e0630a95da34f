import Foundation
import RecData
import RecModel
import RecWire
import Testing

@testable import Worker

/// A job on a shop's uploaded log, its catalogue and its schema: the worker splits it by time like every command,
/// fits the specification on the training part, and the final checkpoint carries it.
@Suite("Training on a shop's logs")
struct ShopLogsTrainingTests {
    static let schema = """
        [logs]
        timestamp = "ts"
        item = "sku"
        position = "slot"
        click = "clicked"
        propensity = "p"
        [logs.user_features]
        device = "categorical"
        age = "numeric"
        [catalogue]
        file = "items.csv"
        item = "sku"
        [catalogue.item_features]
        price = "numeric"
        """

    /// 200 impressions written newest first; the newest 10% come from a device, `late`, no older row has.
    static let log: [UInt8] = {
        var lines = ["ts,sku,slot,clicked,p,device,age"]
        for t in (0..<200).reversed() {
            let device = t >= 180 ? "late" : ["ios", "web"][t % 2]
            lines.append("\(5_000 + t),\(t % 4),\(t % 2),\(t % 5 == 0 ? 1 : 0),0.25,\(device),\(18 + t % 40)")
        }
        return Array(lines.joined(separator: "\n").utf8)
    }()
    static let catalogue: [UInt8] = Array("sku,price\n0,1.5\n1,2.5\n2,9\n3,4".utf8)

    static func spec() -> TrainJobSpec {
        var spec = TrainingFixtures.spec(dataset: "sha256:" + sha256Hex(log), epochs: 1, batch: 16, hidden: [4])
        spec.schema = schema
        spec.catalogue = "sha256:" + sha256Hex(catalogue)
        return spec
    }

    @Test("the worker trains on the oldest 60%, validates on the next 10%, and never sees a test row")
    func timeSplit() throws {
        let cache = TrainingCache(obdDirectory: "/nonexistent")
        let spec = Self.spec()
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, round: 2, steps: 2, evaluate: true),
            state: [], dataset: Self.log, catalogue: Self.catalogue, cache: cache)
        #expect(first.report.error == nil, "\(first.report.error ?? "")")
        #expect(first.report.metrics?["val_rows"] == 20)
        // The resolved dataset is cached under the log, the catalogue and the schema.
        let resolved = try #require(cache.resolved(RoundExecutor.cacheKey(spec)))
        #expect(resolved.split.train.count == 120 && resolved.split.validation.count == 20)
        let fitted = try FeatureSpec.decode(resolved.featureSpec)
        #expect(fitted.userVocabularies == [["ios", "web"]] && fitted.userNumericNames == ["age"])
        #expect(!fitted.columns.contains("device=late"))

        let final = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(
                spec, round: 3, fromStep: 2, steps: 0, state: first.body, finalize: true, included: false),
            state: first.body, dataset: nil, cache: cache)
        let checkpoint = try Checkpoint(decoding: final.body)
        #expect(try FeatureSpec.decode(checkpoint.featureSpec) == fitted)
        #expect(fitted.width == checkpoint.model.network.inputWidth)
    }

    @Test("a log without its catalogue, or a catalogue that does not hash to its name, is a typed failure")
    func missingCatalogue() {
        let spec = Self.spec()
        let none = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1), state: [], dataset: Self.log, catalogue: nil,
            cache: TrainingCache(obdDirectory: "/nonexistent"))
        #expect(none.report.error?.contains("no catalogue") == true && none.body.isEmpty)
        let wrong = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1), state: [], dataset: Self.log,
            catalogue: Array("sku,price\n0,1".utf8), cache: TrainingCache(obdDirectory: "/nonexistent"))
        #expect(wrong.report.error?.contains("hash") == true)
    }

    @Test("the same log trains under a second schema from the bytes the worker kept, without being sent again")
    func secondSchemaSameLog() throws {
        let cache = TrainingCache(obdDirectory: "/nonexistent")
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(Self.spec(), steps: 1), state: [], dataset: Self.log,
            catalogue: Self.catalogue, cache: cache)
        #expect(first.report.error == nil, "\(first.report.error ?? "")")
        // The second job ignores `age`: another resolved dataset, the same shipped bytes.
        var second = Self.spec()
        second.schema = Self.schema.replacingOccurrences(of: "age = \"numeric\"", with: "")
            .replacingOccurrences(of: "propensity = \"p\"", with: "propensity = \"p\"\nignore = [\"age\"]")
        let run = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(second, steps: 1, included: false), state: [], dataset: nil,
            cache: cache)
        #expect(run.report.error == nil, "\(run.report.error ?? "")")
        let resolved = try #require(cache.resolved(RoundExecutor.cacheKey(second)))
        #expect(try FeatureSpec.decode(resolved.featureSpec).userNumericNames ?? [] == [])
        #expect(resolved.split.train.count == 120)
    }

    @Test("a worker that dropped a log's bytes says so, and trains once they are sent again")
    func droppedBytes() {
        let cache = TrainingCache(obdDirectory: "/nonexistent", capacity: 1)
        let spec = Self.spec()
        // Nothing kept: the round names the log it lacks.
        let missing = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1, included: false), state: [], dataset: nil,
            cache: cache)
        #expect(missing.report.error?.contains("\(spec.dataset) is not cached on this worker") == true)
        // Kept, then pushed out by two other files: the same answer, never a crash.
        cache.storeBlob(Self.log)
        cache.storeBlob(Array("a\n1".utf8))
        cache.storeBlob(Array("b\n2".utf8))
        #expect(cache.blob(sha256: sha256Hex(Self.log)) == nil)
        let dropped = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1, included: false), state: [], dataset: nil,
            cache: cache)
        #expect(dropped.report.error?.contains("is not cached on this worker") == true)
        let resent = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1), state: [], dataset: Self.log,
            catalogue: Self.catalogue, cache: cache)
        #expect(resent.report.error == nil, "\(resent.report.error ?? "")")
    }

    @Test("a log whose training part is empty is one typed error naming the log and the time split")
    func emptyTrainingPart() {
        let lines = String(decoding: Self.log, as: UTF8.self).split(separator: "\n")
        let one = Array(lines.prefix(2).joined(separator: "\n").utf8)
        var spec = Self.spec()
        spec.dataset = "sha256:" + sha256Hex(one)
        let run = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1), state: [], dataset: one, catalogue: Self.catalogue,
            cache: TrainingCache(obdDirectory: "/nonexistent"))
        let expected =
            "bad dataset: the training part of \(spec.dataset) (first 60% by time) has 0 rows; at least 1 is needed"
        #expect(run.report.error == expected)
        #expect(run.body.isEmpty)
    }
}
