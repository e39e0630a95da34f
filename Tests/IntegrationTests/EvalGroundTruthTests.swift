import Foundation
import RecTestKit
import Testing

/// `eval` on simulator data reports the ground truth (the logged policy's and the model's greedy choice's mean
/// click probability) in JSON and HTML; the text output left it out.
@Suite("eval: the simulator's ground truth in every output")
struct EvalGroundTruthTests {
    @Test("the text output carries the ground-truth figures the JSON holds")
    func groundTruthEverywhere() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-truth-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let dataset = "synthetic:users=200,rows=2000,seed=1"
        let model = folder.appendingPathComponent("m.ckpt").path
        #expect(try runTool("recpool", ["fit", "--dataset", dataset, "--out", model, "--epochs", "1"]).code == 0)
        let base = ["eval", "--model", model, "--dataset", dataset, "--resamples", "0"]
        let json = try runTool("recpool", base + ["--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let all = try #require((document["segments"] as? [[String: Any]])?.first)
        let logged = try #require(all["oracle_logged_value"] as? Double)
        let greedy = try #require(all["oracle_greedy_value"] as? Double)
        let text = try runTool("recpool", base)
        let line = String(format: "ground truth (simulator): logged policy %.4f  model greedy %.4f", logged, greedy)
        #expect(text.code == 0 && text.stdout.contains(line), "\(line)\n\(text.stdout)")
    }
}
