import Foundation
import RecData
import Testing

/// `recpool export --raw-context`: the exported graph, run in onnxruntime on raw context, scores like local
/// scoring with the checkpoint (`Recommender`, which the worker's RECOMMEND runs) within 1e-5.
@Suite("ONNX export from raw context", .serialized)
struct RawContextExportTests {
    static let root = OffPolicyCandidateTests.root
    static let python = OffPolicyCandidateTests.python

    @Test(
        "a trained checkpoint exported with its transform scores raw context as recommend does",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime"))
    func exported() throws {
        let dir = try OffPolicyCandidateTests.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        let dataset = "synthetic:users=500,items=8,seed=3"
        #expect(
            try runTool("recpool", ["data", "features", dataset, "--out", path("t.csv"), "--spec-out", path("s.json")])
                .code == 0)
        let fit = try runTool(
            "recpool", ["fit", "--dataset", path("t.csv"), "--feature-spec", path("s.json"), "--out", path("m.ckpt"),
                        "--epochs", "2"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let export = try runTool(
            "recpool", ["export", "--model", path("m.ckpt"), "--format", "onnx", "--raw-context", "--out", path("m.onnx")])
        #expect(export.code == 0 && export.stdout.contains("raw context"), "\(export.stderr)")

        let (checkpoint, spec) = try CheckpointEvaluation.load(path("m.ckpt"))
        let recommender = Recommender(spec: spec, scorer: CheckpointEvaluation.scorer(checkpoint.model.network))
        let user = Dictionary(uniqueKeysWithValues: spec.userFeatureNames.map { ($0, "0") })
        let views = [ViewEvent(item: 3, seconds: 30), ViewEvent(item: 0, seconds: 0)]
        let reply = try recommender.recommend(RecommendQuery(userFeatures: user, events: views, top: spec.itemCount))
        let items = reply.items.map(\.item)
        let cases: [String: Any] = [
            "user_features": items.map { _ in spec.userFeatureNames.map { user[$0]! } },
            "item": items, "position": items.map { _ in 0 },
            "event_item": items.map { _ in views.map(\.item) }, "event_seconds": items.map { _ in views.map(\.seconds) },
        ]
        try JSONSerialization.data(withJSONObject: cases).write(to: dir.appendingPathComponent("cases.json"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.python))
        process.arguments = [
            Self.root.appendingPathComponent("scripts/reference/onnx_raw_context.py").path, path("m.onnx"),
            path("cases.json"),
        ]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let scores = try #require((JSONSerialization.jsonObject(with: data) as? [String: Any])?["scores"] as? [Double])
        #expect(scores.count == items.count)
        for (score, item) in zip(scores, reply.items) {
            #expect(abs(score - item.score) <= 1e-5, "item \(item.item): onnx \(score), recommend \(item.score)")
        }
        // A checkpoint without a feature spec cannot be exported from raw context: a typed refusal, exit 2.
        let bare = try runTool("recpool", ["fit", "--dataset", path("t.csv"), "--out", path("bare.ckpt"), "--epochs", "1"])
        #expect(bare.code == 0)
        let refused = try runTool(
            "recpool", ["export", "--model", path("bare.ckpt"), "--raw-context", "--out", path("bare.onnx")])
        #expect(refused.code == 2 && refused.stderr.contains("feature spec"), "\(refused.stderr)")
    }
}
