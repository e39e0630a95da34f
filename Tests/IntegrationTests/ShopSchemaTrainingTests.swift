import Foundation
import RecWire
import Testing

/// A shop's log trained over the pool under one schema and then another: workers keep the shipped bytes by their
/// own SHA-256 and resolve each schema from them, so the second job needs no upload and no restart.
@Suite("One log, two schemas, one pool", .serialized)
struct ShopSchemaTrainingTests {
    /// Runs `recpool train --follow --json` on the shop's log with `schema`; returns the summary line's object.
    static func train(_ frontend: String, folder: String, schema: String) throws -> [String: Any] {
        let run = try runTool(
            "recpool",
            [
                "train", "--broker", frontend, "--dataset", folder + "/logs.csv", "--schema", schema, "--epochs", "1",
                "--workers", "1", "--batch", "32", "--follow", "--json",
            ])
        #expect(run.code == 0, "\(run.stderr)")
        let last = try #require(run.stdout.split(separator: "\n").last, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    }

    @Test("the same log trains with a second schema right after the first, and both jobs complete")
    func twoSchemasInARow() async throws {
        let folder = try DatasetVocabularyTests.shop("two-schemas")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let drafted = try String(contentsOfFile: folder + "/shop.toml", encoding: .utf8)
        // The second schema leaves `region` out: another resolved dataset over the same bytes.
        var lines = drafted.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.hasPrefix("region = ") }
        let logsIgnore = try #require(lines.firstIndex { $0.hasPrefix("ignore = [") }, "\(drafted)")
        let listed = lines[logsIgnore].dropFirst("ignore = [".count)
        lines[logsIgnore] = "ignore = [\"region\"" + (listed.hasPrefix("]") ? "" : ", ") + listed
        let second = lines.joined(separator: "\n")
        #expect(second != drafted)
        try second.write(toFile: folder + "/shop2.toml", atomically: true, encoding: .utf8)
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", folder + "/state"], workers: ["w1"]
        ) { cluster, client in
            let first = try Self.train(cluster.endpoints.frontend, folder: folder, schema: folder + "/shop.toml")
            #expect(first["state"] as? String == "completed", "\(first)")
            // The second job follows in text: counts print as integers (40 validation rows of 400, split by time).
            let again = try runTool(
                "recpool",
                [
                    "train", "--broker", cluster.endpoints.frontend, "--dataset", folder + "/logs.csv", "--schema",
                    folder + "/shop2.toml", "--epochs", "1", "--workers", "1", "--batch", "32", "--follow",
                ])
            #expect(again.code == 0, "\(again.stderr)")
            #expect(again.stdout.contains(": completed") && again.stdout.contains("val_rows 40,"), "\(again.stdout)")
            // The verdict reads as one: beats_constant yes or no, never 1.0000.
            #expect(again.stdout.contains("beats_constant yes") || again.stdout.contains("beats_constant no"), "\(again.stdout)")
            #expect(!again.stdout.contains("beats_constant 1.0000") && !again.stdout.contains("beats_constant 0.0000"))
            // An undefined metric says why (it printed a bare `auc_warm undefined`).
            let bare = again.stdout.components(separatedBy: "undefined").dropFirst().filter { !$0.hasPrefix(" (") }
            #expect(bare.isEmpty, "\(again.stdout)")
            // A segment with no validation rows says so for its AUCs too, never "its rows hold no click".
            for (suffix, segment) in [("_cold", "cold-start users"), ("_warm", "warm users")]
            where again.stdout.contains("val_rows\(suffix) 0,") || again.stdout.hasSuffix("val_rows\(suffix) 0\n") {
                #expect(again.stdout.contains("auc\(suffix) undefined (no validation rows of \(segment))"), "\(again.stdout)")
                #expect(!again.stdout.contains("rows of \(segment) hold no click"), "\(again.stdout)")
            }
            // Both registered; their hyperparameters record the time split's validation fraction, not 0.2.
            let models = try await client.control(ControlRequest(op: "models"), as: ModelListReply.self).models
            #expect(models.count == 2)
            #expect(models.allSatisfy { $0.hyperparameters?.validation == 0.1 }, "\(models)")
        }
    }

    /// Rewrites the shop's `logs.csv` as `name` in the same folder, keeping the first `rows` data rows (all when nil)
    /// and, with `clicks` false, setting every `click` to 0.
    static func variant(_ folder: String, _ name: String, rows: Int? = nil, clicks: Bool = true) throws {
        let lines = try String(contentsOfFile: folder + "/logs.csv", encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
        let click = try #require(header.firstIndex(of: "click"))
        var body = lines.dropFirst().prefix(rows ?? lines.count).map(String.init)
        if !clicks {
            body = body.map { line in
                var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                fields[click] = "0"
                return fields.joined(separator: ",")
            }
        }
        try ([String(lines[0])] + body).joined(separator: "\n").write(
            toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }

    @Test("a one-row log is refused by fit and train with one error naming the file and the empty training part")
    func oneRowLog() throws {
        let folder = try DatasetVocabularyTests.shop("one-row")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.variant(folder, "one.csv", rows: 1)
        let expected =
            "recpool: the training part of \(folder)/one.csv (first 60% by time) has 0 rows; at least 1 is needed"
        let fit = try runTool(
            "recpool",
            ["fit", "--dataset", folder + "/one.csv", "--schema", folder + "/shop.toml", "--out", folder + "/m.ckpt"])
        #expect(fit.code == 2 && fit.stderr.contains(expected), "\(fit.stderr)")
        // train refuses before it talks to a broker (none listens here).
        let train = try runTool(
            "recpool",
            [
                "train", "--dataset", folder + "/one.csv", "--schema", folder + "/shop.toml", "--broker",
                "tcp://127.0.0.1:9", "--timeout-ms", "300",
            ])
        #expect(train.code == 2 && train.stderr.contains(expected), "\(train.stderr)")
        // data describe still describes it, and says the same.
        let describe = try runTool(
            "recpool", ["data", "describe", folder + "/one.csv", "--schema", folder + "/shop.toml"])
        #expect(describe.code == 0, "\(describe.stderr)")
        #expect(
            describe.stdout.contains(
                "note: the training part of \(folder)/one.csv (first 60% by time) has 0 rows; at least 1 is needed"),
            "\(describe.stdout)")
    }

    @Test("a log with no click in its training part trains with a warning that the model cannot learn, in fit and a job")
    func noClickWarning() async throws {
        let folder = try DatasetVocabularyTests.shop("no-click")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.variant(folder, "quiet.csv", clicks: false)
        let fit = try runTool(
            "recpool",
            [
                "fit", "--dataset", folder + "/quiet.csv", "--schema", folder + "/shop.toml", "--out",
                folder + "/m.ckpt", "--epochs", "1",
            ])
        #expect(fit.code == 0, "\(fit.stderr)")
        #expect(
            fit.stderr.contains(
                "warning: the training part of \(folder)/quiet.csv (first 60% by time, 240 rows) has no click"),
            "\(fit.stderr)")
        // Over the pool the job's summary says why the model cannot beat the constant, as fit does, not only that it
        // does not.
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", folder + "/state"], workers: ["w1"]
        ) { cluster, _ in
            let job = try runTool(
                "recpool",
                [
                    "train", "--broker", cluster.endpoints.frontend, "--dataset", folder + "/quiet.csv", "--schema",
                    folder + "/shop.toml", "--epochs", "1", "--workers", "1", "--batch", "32", "--follow",
                ])
            #expect(job.code == 0, "\(job.stderr)")
            #expect(job.stderr.contains("has no click"), "\(job.stderr)")
            #expect(
                job.stdout.contains(
                    "warning: the model cannot beat the constant predictor: no training row has a click, so there was "
                        + "nothing to learn"), "\(job.stdout)")
        }
    }
}
