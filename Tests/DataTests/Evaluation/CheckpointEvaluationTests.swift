import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

@Suite("Evaluating a model checkpoint with its FeatureSpec")
struct CheckpointEvaluationTests {
    static let data = try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")

    /// Writes `checkpoint` to `<folder>/<name>` and returns that path.
    static func write(_ checkpoint: Checkpoint, in folder: TemporaryDirectory, as name: String = "model.ckpt") throws -> String {
        let path = folder.file(name).path
        try checkpoint.write(toFile: path)
        return path
    }

    @Test("a checkpoint carrying its spec evaluates and serves with the same features")
    func roundTrip() throws {
        let parts = SplitDataset(Self.data), (train, test) = (parts.train, parts.test)
        let spec = try FeatureSpec.fit(on: train)
        let mlp = MLP(inputWidth: spec.width, hiddenSizes: [16], seed: 3)
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let path = try Self.write(Checkpoint(model: .mlp(mlp), featureSpec: spec.encoded()), in: temporary)
        let report = try CheckpointEvaluation.evaluate(checkpointPath: path, data: test, resamples: 50)
        #expect(report.rows == test.rows && report.featureWidth == spec.width)
        #expect(report.segments.first?.classification?.count == test.rows)
        let (checkpoint, loaded) = try CheckpointEvaluation.load(path)
        #expect(loaded == spec)
        let recommender = Recommender(spec: loaded, scorer: CheckpointEvaluation.scorer(checkpoint.model.network))
        let reply = try recommender.recommend(RecommendQuery(events: [ViewEvent(item: 1, seconds: 30)], top: 3))
        #expect(reply.source == .model && reply.items.count == 3)
        #expect(reply.items.allSatisfy { $0.score > 0 && $0.score < 1 })
    }

    @Test("a checkpoint without a spec, or with a spec of another width, is refused")
    func refusals() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(Self.data).train)
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let bare = try Self.write(Checkpoint(model: .mlp(MLP(inputWidth: spec.width, seed: 1))), in: temporary, as: "bare.ckpt")
        #expect(throws: CheckpointEvaluationError.self) { try CheckpointEvaluation.load(bare) }
        let narrow = try Self.write(
            Checkpoint(model: .mlp(MLP(inputWidth: 5, seed: 1)), featureSpec: spec.encoded()), in: temporary, as: "narrow.ckpt")
        do {
            _ = try CheckpointEvaluation.load(narrow)
            Issue.record("expected a width mismatch")
        } catch {
            guard case .widthMismatch(spec.width, 5) = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }
}
