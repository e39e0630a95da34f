import Foundation
import RecTestKit
import Testing

/// `recpool` tells the truth: every row read is scored or the command fails, no output holds NaN or `{}`, and each
/// outcome has its own exit status (docs/OPERATIONS.md, "Exit codes").
@Suite("Client truth: rows, numbers and exit statuses", .serialized)
struct ClientTruthTests {
    /// The repository, found from this file's location.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Writes `bytes` to `name` in `folder` and returns the file's URL.
    static func file(_ name: String, _ bytes: [UInt8], in folder: TemporaryDirectory) throws -> URL {
        let url = folder.file(name)
        try Data(bytes).write(to: url)
        return url
    }

    @Test("against a seeded width-4 pool: BOM rows all scored, an overflowing row and a wrong width are BAD_REQUEST")
    func pool() async throws {
        let temporary = try TemporaryDirectory("truth")
        defer { temporary.remove() }
        try await ProcessCluster.withPool(workers: ["w1"], workerArguments: ["--input-width", "4"]) { cluster, client in
            let broker = cluster.endpoints.frontend

            let bom = try Self.file(
                "bom.csv", [0xEF, 0xBB, 0xBF] + Array("0.1,0.2,0.3,0.4\n0.9,0.1,0.2,0.3\n0.5,0.5,0.5,0.5\n".utf8), in: temporary)
            let scored = try runTool("recpool", ["score", "--broker", broker, "--input", bom.path, "--json"])
            #expect(scored.code == 0, "\(scored.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [String: Any])
            #expect((object["scores"] as? [Double])?.count == 3)

            // JSON rows of 0s and 1s (one-hot features) are numbers, not booleans; `true` is refused naming its place.
            let oneHot = try Self.file("one-hot.json", Array("[[0,1,0,1],[1,0,1,0.5]]".utf8), in: temporary)
            let hot = try runTool("recpool", ["score", "--broker", broker, "--input", oneHot.path, "--json"])
            #expect(hot.code == 0, "\(hot.stderr)")
            let hotScores = try JSONSerialization.jsonObject(with: Data(hot.stdout.utf8)) as? [String: Any]
            #expect((hotScores?["scores"] as? [Double])?.count == 2)
            let boolean = try Self.file("bool.json", Array("[[0,true,0,1]]".utf8), in: temporary)
            let refused = try runTool("recpool", ["score", "--broker", broker, "--input", boolean.path])
            #expect(refused.code == 2 && refused.stderr.contains("bool.json:1:2"), "\(refused.code) \(refused.stderr)")

            // More rows than one request holds (8,192) are split across requests, as the Python client splits them;
            // each row's score is the one it gets alone (to rounding).
            var many = ""
            for row in 0..<20_000 { many += "\(Float(row % 97) / 97),0.5,\(Float(row % 13) / 13),0.25\n" }
            let manyFile = try Self.file("many.csv", Array(many.utf8), in: temporary)
            let split = try runTool("recpool", ["score", "--broker", broker, "--input", manyFile.path, "--json"])
            #expect(split.code == 0, "\(split.code) \(split.stderr)")
            let splitScores = try #require(
                (try JSONSerialization.jsonObject(with: Data(split.stdout.utf8)) as? [String: Any])?["scores"] as? [Double])
            #expect(splitScores.count == 20_000)
            let lastRow = try Self.file("last.csv", Array("\(Float(19_999 % 97) / 97),0.5,\(Float(19_999 % 13) / 13),0.25\n".utf8), in: temporary)
            let alone = try runTool("recpool", ["score", "--broker", broker, "--input", lastRow.path, "--json"])
            let aloneScore = try #require(
                (try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any])?["scores"] as? [Double])
            // One row alone is computed by a matrix-vector product, in a request of 3,616 rows by a matrix product.
            let first = try #require(aloneScore.first), last = try #require(splitScores.last)
            #expect(abs(first - last) < 1e-6)

            // A row that overflows in the second request of a split call is named by its row in the input (it was
            // named by its row within that request, 808 for 9,000).
            var overflowing = many.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            overflowing[9_000] = "3e38,3e38,0,0"
            let badFile = try Self.file("bad-many.csv", Array((overflowing.joined(separator: "\n") + "\n").utf8), in: temporary)
            let bad = try runTool("recpool", ["score", "--broker", broker, "--input", badFile.path])
            #expect(bad.code == 11 && bad.stderr.contains("row 9000 (0-based) of all the rows"), "\(bad.stderr)")

            // Text output prints each score as --json does (the shortest form that reads back as the same float): six
            // fixed decimals printed a score of 1e-9 as 0.000000.
            let extreme = try Self.file("extreme.csv", Array("-1e4,-1e4,-1e4,-1e4\n0.1,0.2,0.3,0.4\n1e4,1e4,1e4,1e4\n".utf8), in: temporary)
            let text = try runTool("recpool", ["score", "--broker", broker, "--input", extreme.path])
            let json = try runTool("recpool", ["score", "--broker", broker, "--input", extreme.path, "--json"])
            let printed = text.stdout.split(separator: "\n").dropFirst().map { Float(String($0)) }
            let jsonScores = try #require(
                (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["scores"] as? [Double])
            #expect(printed == jsonScores.map { Float($0) }, "\(text.stdout) \(json.stdout)")

            let big = try Self.file("big.csv", Array("0.1,0.2,0.3,0.4\n3e38,3e38,0,0\n".utf8), in: temporary)
            for json in [true, false] {
                let overflow = try runTool(
                    "recpool", ["score", "--broker", broker, "--input", big.path] + (json ? ["--json"] : []))
                #expect(overflow.code == 11, "\(overflow.stderr)")
                #expect(overflow.stdout.isEmpty, "printed \(overflow.stdout)")
                #expect(overflow.stderr.contains("BAD_REQUEST") && overflow.stderr.contains("row 1 (0-based)"))
            }

            let narrow = try runTool("recpool", ["score", "--broker", broker, "--input", "-"], stdin: "1,2,3\n")
            #expect(narrow.code == 11 && narrow.stderr.contains("BAD_REQUEST"), "\(narrow.code) \(narrow.stderr)")
            // The text status shows every counter that moved: invalid_requests was in --json only.
            let table = try runTool("recpool", ["status", "--broker", broker])
            #expect(table.code == 0 && table.stdout.contains("invalid_requests"), "\(table.stdout)")
            #expect(!table.stdout.split(separator: "\n").contains { $0.hasPrefix("dropped_expired ") && $0.hasSuffix(" 0") })

            // loadtest builds random rows for the served width (4, from STATUS) without being told.
            let load = try runTool(
                "recpool",
                [
                    "loadtest", "--broker", broker, "--concurrency", "1", "--duration", "300ms", "--drain", "1s", "--json",
                    "--quiet",
                ])
            #expect(load.code == 0, "\(load.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(load.stdout.utf8)) as? [String: Any])
            #expect((summary["completed"] as? Int ?? 0) > 0)
            #expect((summary["errors"] as? [String: Int])?.isEmpty == true)
            // The latency curve a single run keeps: points up to the 100th percentile, never an empty list.
            let curve = try #require(summary["distribution"] as? [[String: Double]], "\(summary)")
            #expect(!curve.isEmpty && curve.allSatisfy { ($0["ms"] ?? -1) >= 0 } && curve.last?["percentile"] == 100)

            // A dataset whose rows do not fit the served model is refused before anything is sent.
            let wrong = try runTool(
                "recpool",
                [
                    "loadtest", "--broker", broker, "--dataset", "synthetic:users=20,seed=1", "--duration", "300ms",
                    "--quiet",
                ])
            #expect(wrong.code == 2, "\(wrong.code) \(wrong.stderr)")
            #expect(wrong.stderr.contains("the pool serves width 4") && wrong.stdout.isEmpty)

            // Every RECOMMEND fails (this model has no feature specification): errors dominate, exit 5.
            let failing = try runTool(
                "recpool",
                [
                    "loadtest", "--broker", broker, "--recommend", "--concurrency", "1", "--duration", "300ms", "--drain",
                    "1s", "--quiet",
                ])
            #expect(failing.code == 5, "\(failing.code) \(failing.stderr)")
            #expect(failing.stderr.contains("errors dominate the run") && failing.stderr.contains("(100.0% > 50.0%)"))
            #expect(failing.stdout.contains("errors"))
        }
    }

    @Test("loadtest --dataset builds rows with the promoted model's own feature specification (issue 13, 'client tools')")
    func loadtestUsesTheServedSpecification() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let state = try TemporaryDirectory("truth-state")
        defer { state.remove() }
        // The seeded workers serve width 106; the promoted model is trained on other users than the load test reads.
        let client = try await cluster.startPool(
            brokerArguments: ["--state-dir", state.path], workers: ["w1"], workerArguments: ["--input-width", "106"])
        defer { client.close() }
        let broker = cluster.endpoints.frontend
        let trained = try runTool(
            "recpool",
            ["train", "--broker", broker, "--dataset", "synthetic:users=2000,seed=3", "--epochs", "1", "--promote", "--follow"])
        #expect(trained.code == 0, "\(trained.stderr)")
        // The models table shows the model's own validation log-loss beside the constant's, not the first four names
        // alphabetically (accuracy, auc, beats_constant, constant_log_loss: the constant's loss read as the model's).
        let models = try runTool("recpool", ["models", "--broker", broker])
        let row = try #require(models.stdout.split(separator: "\n").dropFirst().first.map(String.init), "\(models.stdout)")
        #expect(row.contains(" log_loss=") && row.contains("constant_log_loss=") && row.contains("beats_constant="), "\(row)")
        #expect(!row.contains("accuracy="), "\(row)")
        let load = try runTool(
            "recpool",
            [
                "loadtest", "--broker", broker, "--dataset", "synthetic:users=1000,seed=9", "--concurrency", "2",
                "--duration", "500ms", "--drain", "2s", "--json", "--quiet",
            ])
        #expect(load.code == 0, "\(load.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(load.stdout.utf8)) as? [String: Any])
        #expect((summary["completed"] as? Int ?? 0) > 0)
        #expect((summary["errors"] as? [String: Int])?.isEmpty == true, "\(summary)")
        // A dataset of more items than the served model knows is refused before anything is sent, naming the model,
        // for RECOMMEND documents too (a third of them were refused BAD_REQUEST and the run exited 0).
        for mode in [[], ["--recommend"]] {
            let unfit = try runTool(
                "recpool",
                ["loadtest", "--broker", broker, "--dataset", "synthetic:users=200,items=60,seed=9", "--concurrency", "2",
                 "--duration", "300ms", "--quiet"] + mode)
            #expect(unfit.code == 2, "\(mode): \(unfit.code) \(unfit.stderr)")
            #expect(unfit.stderr.contains("for model version 1, the one served"), "\(unfit.stderr)")
            #expect(unfit.stderr.contains("serve a model trained on this dataset, or drop --dataset"), "\(unfit.stderr)")
        }
    }

    @Test("local commands: overflow in predict exits 6 with no output, a tiny propensity exits 2 naming the line")
    func local() throws {
        let temporary = try TemporaryDirectory("truth-local")
        defer { temporary.remove() }
        let dir = temporary.url
        var train = "a,b,c,d,label\n"
        for i in 0..<40 { train += "\(Double(i % 7) / 7),\(Double(i % 3) / 3),0.5,0.25,\(i % 2)\n" }
        try train.write(to: dir.appendingPathComponent("train.csv"), atomically: true, encoding: .utf8)
        let fit = try runTool(
            "recpool",
            [
                "fit", "--dataset", dir.appendingPathComponent("train.csv").path, "--out",
                dir.appendingPathComponent("m.ckpt").path, "--epochs", "1",
            ])
        #expect(fit.code == 0, "\(fit.stderr)")
        try "0.1,0.2,0.3,0.4\n3e38,3e38,0,0\n".write(
            to: dir.appendingPathComponent("big.csv"), atomically: true, encoding: .utf8)
        for json in [true, false] {
            let predict = try runTool(
                "recpool",
                [
                    "predict", "--model", dir.appendingPathComponent("m.ckpt").path, "--input",
                    dir.appendingPathComponent("big.csv").path,
                ] + (json ? ["--json"] : []))
            #expect(predict.code == 6, "\(predict.code) \(predict.stderr)")
            #expect(predict.stdout.isEmpty, "printed \(predict.stdout)")
            #expect(predict.stderr.contains("row 2 (1-based): score is not a finite number"))
        }

        // A propensity of 1e-160 in a log: refused where it is read, never ESS -nan or DR -inf.
        let fixture = Self.repositoryRoot + "/Tests/DataTests/Fixtures/obd/random/men"
        var lines = try String(contentsOfFile: fixture + "/men.csv", encoding: .utf8).components(separatedBy: "\n")
        var fields = lines[3].components(separatedBy: ",")
        fields[5] = "1e-160"
        lines[3] = fields.joined(separator: ",")
        try lines.joined(separator: "\n").write(
            to: dir.appendingPathComponent("log.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: fixture + "/item_context.csv", toPath: dir.appendingPathComponent("item_context.csv").path)
        for json in [true, false] {
            let ope = try runTool(
                "recpool",
                ["data", "ope", dir.appendingPathComponent("log.csv").path, "--resamples", "10"]
                    + (json ? ["--json"] : []))
            #expect(ope.code == 2, "\(ope.code) \(ope.stderr)")
            #expect(ope.stdout.isEmpty)
            #expect(ope.stderr.contains("log.csv:4: column 6 'propensity_score': '1e-160'"), "\(ope.stderr)")
        }
    }

    @Test("exit statuses: unreachable 3, bad file 2, usage and malformed values 64")
    func exitStatuses() throws {
        let unreachable = try runTool("recpool", ["status", "--broker", "tcp://127.0.0.1:1", "--timeout-ms", "300"])
        #expect(unreachable.code == 3, "\(unreachable.stderr)")
        // The broker that did not answer is named (a wrong port read as a slow broker).
        #expect(unreachable.stderr.contains("no answer from the broker at tcp://127.0.0.1:1 (is it running"), "\(unreachable.stderr)")
        let missing = try runTool("recpool", ["score", "--input", "/nonexistent/rows.csv"])
        #expect(missing.code == 2 && missing.stderr.contains("cannot read"))
        let usage = try runTool("recpool", ["score"])
        #expect(usage.code == 64, "\(usage.code) \(usage.stderr)")
        let zero = try runTool("recpool", ["status", "--timeout-ms", "0"])
        #expect(zero.code == 64 && zero.stderr.contains("--timeout-ms"), "\(zero.code) \(zero.stderr)")
        let endpoint = try runTool("recpool", ["status", "--broker", "nonsense"])
        #expect(endpoint.code == 64 && endpoint.stderr.contains("nonsense"), "\(endpoint.code) \(endpoint.stderr)")
        let specification = try runTool("recpool", ["data", "describe", "nonsense:x"])
        #expect(specification.code == 64, "\(specification.code) \(specification.stderr)")
        let unreadable = try runTool("recpool", ["data", "describe", "/nonexistent/log.csv"])
        #expect(unreadable.code == 2 && unreadable.stderr.contains("/nonexistent/"), "\(unreadable.stderr)")
    }

    /// Absurd numbers on the command line, each of which once reached arithmetic that traps (the process crashed
    /// with a signal instead of a usage error).
    static let absurdFlags: [(tool: String, arguments: [String], names: String)] = [
        ("recpool", ["loadtest", "--rate", "nan", "--broker", "tcp://127.0.0.1:1"], "--rate"),
        ("recpool", ["loadtest", "--rate", "1e-20", "--broker", "tcp://127.0.0.1:1"], "--rate"),
        ("recpool", ["loadtest", "--duration", "18446744073709s", "--broker", "tcp://127.0.0.1:1"], "--duration"),
        ("recpool", ["loadtest", "--sweep", "--max-windows=-1", "--broker", "tcp://127.0.0.1:1"], "--max-windows"),
        ("recpool", ["loadtest", "--sweep", "--sweep-factor", "1", "--broker", "tcp://127.0.0.1:1"], "--sweep-factor"),
        ("recpool", ["loadtest", "--concurrency", "4611686018427387904", "--broker", "tcp://127.0.0.1:1"], "--concurrency"),
        ("recpool", ["loadtest", "--batch", "4611686018427387904", "--width", "2", "--broker", "tcp://127.0.0.1:1"], "--batch"),
        ("recpool", ["fit", "--dataset", "synthetic:users=100", "--out", "/nonexistent/m.ckpt", "--hidden", "9223372036854775807"], "--hidden"),
        ("recpool", ["data", "describe", "synthetic:topics=9223372036854775807"], "topics="),
        ("recpool", ["bench-model", "--d-in", "9223372036854775807"], "--d-in"),
        ("recpool-worker", ["--slots", "4294967296"], "--slots"),
        ("recpool", ["fit", "--dataset", "synthetic:users=100", "--out", "/nonexistent/m.ckpt", "--hidden", "3,,4"], "--hidden"),
        ("recpool", ["data", "describe", "synthetic:users=10,users=20"], "users is given twice"),
        ("recpool", ["data", "ope", "obd:bts/all", "--resamples", "1"], "--resamples"),
        ("recpool", ["keygen", "--name", "."], "--name"),
        (
            "recpool",
            ["loadtest", "--sweep", "--rate", "1e7", "--sweep-factor", "100", "--max-levels", "100", "--broker",
             "tcp://127.0.0.1:1"], "--max-levels"
        ),
    ]

    @Test("keygen never replaces a key pair unless told to; fit embeds only a feature spec of the data's width")
    func keygenAndFeatureSpec() throws {
        let temporary = try TemporaryDirectory("truth")
        defer { temporary.remove() }
        let keys = temporary.file("keys").path
        #expect(try runTool("recpool", ["keygen", "--out", keys, "--name", "a"]).code == 0)
        let secret = try Data(contentsOf: URL(fileURLWithPath: keys + "/a.key"))
        let again = try runTool("recpool", ["keygen", "--out", keys, "--name", "a"])
        #expect(again.code == 64 && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: keys + "/a.key")) == secret)
        #expect(try runTool("recpool", ["keygen", "--out", keys, "--name", "a", "--force"]).code == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: keys + "/a.key")) != secret)

        let matrix = temporary.file("m.csv").path
        try "a,b,label\n1,2,1\n2,3,0\n3,1,1\n4,4,0\n5,1,1\n".write(toFile: matrix, atomically: true, encoding: .utf8)
        let bad = temporary.file("bad.json").path
        try "{}".write(toFile: bad, atomically: true, encoding: .utf8)
        let fit = try runTool(
            "recpool", ["fit", "--dataset", matrix, "--out", temporary.file("o.ckpt").path, "--feature-spec", bad])
        #expect(fit.code == 2 && fit.stderr.contains("bad.json: not a feature specification"), "\(fit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: temporary.file("o.ckpt").path))

        // A file that cannot be written says why in words, never Foundation's "NSCocoaErrorDomain error 512"; one that
        // can never be written (a folder, a missing folder) is a usage error before the features are computed.
        for (out, why) in [(keys, "is a directory; name a file"), (temporary.file("none/x.csv").path, "does not exist")] {
            let run = try runTool("recpool", ["data", "features", "synthetic:users=50,rows=100", "--out", out])
            #expect(run.code == 64 && run.stderr.contains(why) && !run.stderr.contains("Cocoa"), "\(run.stderr)")
        }
    }

    @Test("absurd numbers on the command line are usage errors (64) naming the flag, never a crash")
    func absurdNumbers() throws {
        for (tool, arguments, names) in Self.absurdFlags {
            let run = try runTool(tool, arguments)
            #expect(
                run.code == 64 && run.stderr.contains(names),
                "\(tool) \(arguments.joined(separator: " ")): exit \(run.code)\n\(run.stderr.suffix(600))")
        }
    }
}
