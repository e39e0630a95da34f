import Foundation
import RecClient
import RecModel
import RecTransport
import RecWire
import RecTestKit
import Testing

/// The `recpool` command line against a live cluster, checking the stable JSON keys.
@Suite("Command line", .serialized)
struct CommandLineTests {
    @Test("score --json and status --json print the documented keys")
    func jsonOutput() async throws {
        let temporary = try TemporaryDirectory("rows")
        defer { temporary.remove() }
        try await ProcessCluster.withPool(workers: ["w1", "w2"], workerArguments: ["--input-width", "3"]) { cluster, client in

            let broker = cluster.endpoints.frontend
            let csv = temporary.file("rows.csv")
            try "a,b,c,label\n0.1,0.2,0.3,1\n1,2,3,0\n".write(to: csv, atomically: true, encoding: .utf8)
            let score = try runTool("recpool", ["score", "--broker", broker, "--input", csv.path, "--json"])
            #expect(score.code == 0, "\(score.stderr)")
            let scoreObject = try #require(
                try JSONSerialization.jsonObject(with: Data(score.stdout.utf8)) as? [String: Any])
            #expect(scoreObject["model_version"] as? Int == 0)
            #expect((scoreObject["scores"] as? [Double])?.count == 2)

            let json = try runTool(
                "recpool", ["score", "--broker", broker, "--input", "-", "--json"], stdin: "[[0.5, 0.5, 0.5]]")
            #expect(json.code == 0, "\(json.stderr)")

            let status = try runTool("recpool", ["status", "--broker", broker, "--json"])
            #expect(status.code == 0, "\(status.stderr)")
            let statusObject = try #require(
                try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let workers = try #require(statusObject["workers"] as? [[String: Any]])
            #expect(workers.count == 2)
            for key in ["id", "address", "slots", "inflight", "model_version", "input_width", "heartbeat_age_ms"] {
                #expect(workers.allSatisfy { $0[key] != nil }, "missing \(key)")
            }
            let text = try runTool("recpool", ["status", "--broker", broker])
            #expect(text.code == 0 && text.stdout.contains("w1") && text.stdout.contains("w2"))
        }
    }

    @Test("bad input files fail with a message naming the line and column, and a non-zero exit")
    func badInput() throws {
        let temporary = try TemporaryDirectory("bad-csv")
        defer { temporary.remove() }
        let bad = temporary.file("bad.csv")
        try "1,2,3\n4,x,6\n".write(to: bad, atomically: true, encoding: .utf8)
        let result = try runTool("recpool", ["score", "--broker", "tcp://127.0.0.1:1", "--input", bad.path])
        #expect(result.code != 0)
        #expect(result.stderr.contains(":2:2"))
        let ragged = try runTool("recpool", ["score", "--input", "-"], stdin: "1,2\n3\n")
        #expect(ragged.code != 0 && ragged.stderr.contains("expected 2"))
        let missing = try runTool("recpool", ["score", "--input", "/nonexistent/rows.csv"])
        #expect(missing.code != 0 && missing.stderr.contains("cannot read"))
        let badEndpoint = try runTool("recpool", ["status", "--broker", "nonsense"])
        #expect(badEndpoint.code != 0 && badEndpoint.stderr.contains("nonsense"))
        // A port no TCP socket has is a usage error, not a timeout.
        let badPort = try runTool("recpool", ["status", "--broker", "tcp://127.0.0.1:99999"])
        #expect(badPort.code == 64 && badPort.stderr.contains("the port '99999'"), "\(badPort.stderr)")
        let workerPort = try runTool("recpool-worker", ["--broker", "tcp://127.0.0.1:99999"])
        #expect(workerPort.code == 64 && workerPort.stderr.contains("the port '99999'"), "\(workerPort.stderr)")
    }

    @Test("predict names a header column the specification does not have (a `Label` column), not only the count")
    func predictNamesTheExtraColumn() throws {
        let temporary = try TemporaryDirectory("predict-header")
        defer { temporary.remove() }
        let (rows, spec, model) = (temporary.file("f.csv").path, temporary.file("s.json").path, temporary.file("m.ckpt").path)
        let features = try runTool(
            "recpool", ["data", "features", "synthetic:users=100,rows=300,seed=1", "--out", rows, "--spec-out", spec])
        #expect(features.code == 0, "\(features.stderr)")
        let fit = try runTool("recpool", ["fit", "--dataset", rows, "--feature-spec", spec, "--out", model, "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let lines = try String(contentsOfFile: rows, encoding: .utf8).split(separator: "\n").prefix(3)
        let renamed = temporary.file("g.csv").path
        try ([lines[0].replacingOccurrences(of: "label", with: "Label")] + lines.dropFirst().map(String.init))
            .joined(separator: "\n").write(toFile: renamed, atomically: true, encoding: .utf8)
        let run = try runTool("recpool", ["predict", "--model", model, "--input", renamed])
        #expect(run.code == 2, "\(run.stderr)")
        #expect(run.stderr.contains("not in the specification: 'Label'") && run.stderr.contains("exactly `label`"))
        let plain = try runTool("recpool", ["predict", "--model", model, "--input", rows])
        #expect(plain.code == 0, "\(plain.stderr)")
    }

    /// `eval --json` on simulated rows without a click gave each reference's `roc_auc` as a bare null (and the text
    /// `AUC undefined` with no reason), while every other null carried its reason.
    @Test("eval --json gives the reason beside every null, the simulator's references' AUC too")
    func evalReferenceNulls() throws {
        let temporary = try TemporaryDirectory("eval-reference-nulls")
        defer { temporary.remove() }
        let dataset = "synthetic:users=20,rows=40,items=2,seed=3"
        let model = temporary.file("m.ckpt").path
        let fit = try runTool("recpool", ["fit", "--dataset", dataset, "--out", model, "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let run = try runTool("recpool", ["eval", "--model", model, "--dataset", dataset, "--json"])
        #expect(run.code == 0, "\(run.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
        #expect(NullReasons.unexplained(in: json) == [], "\(run.stdout)")
        #expect(run.stdout.contains("\"roc_auc_undefined\":\"no positive label: one class only\""), "\(run.stdout)")
        let text = try runTool("recpool", ["eval", "--model", model, "--dataset", dataset])
        #expect(text.stdout.contains("true click model AUC undefined (no positive label: one class only)"), "\(text.stdout)")
        // Two items: a hit rate at 3, 5 or 10 is 1 whatever the model, said rather than printed as a result.
        #expect(
            text.stdout.contains("note: HR@K at K = 3, 5, 10 is 1 whatever the model: the model ranks 2 items"),
            "\(text.stdout)")
    }

    /// Each window of `simulate --baselines-only --json` held `"fixed_ctr": null` and `"version": null` with no reason.
    @Test("simulate --baselines-only --json gives the reason beside every null, in every window too")
    func simulateBaselinesOnlyNulls() throws {
        let run = try runTool("recpool", ["simulate", "--baselines-only", "--users", "30", "--windows", "3", "--json"])
        #expect(run.code == 0, "\(run.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
        #expect(NullReasons.unexplained(in: json) == [], "\(run.stdout)")
    }

    /// `fit --json` without validation rows printed `validation`, `constant_baseline` and `best_epoch` as bare nulls;
    /// the text output said why, the JSON did not.
    @Test("fit --json without validation rows gives the reason beside every null")
    func fitWithoutValidationRows() throws {
        let temporary = try TemporaryDirectory("fit-nulls")
        defer { temporary.remove() }
        let rows = temporary.file("m.csv").path
        try "a,b,label\n1,2,1\n2,3,0\n3,1,0\n".write(toFile: rows, atomically: true, encoding: .utf8)
        let run = try runTool(
            "recpool", ["fit", "--dataset", rows, "--out", temporary.file("m.ckpt").path, "--epochs", "1", "--validation", "0", "--json"])
        #expect(run.code == 0, "\(run.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
        #expect(NullReasons.unexplained(in: json) == [], "\(run.stdout)")
        let object = try #require(json as? [String: Any])
        #expect(object["validation"] is NSNull && (object["validation_undefined"] as? String)?.contains("no validation rows") == true)
        #expect(object["training_labels_vary"] as? Bool == true)
    }

    /// With every training label alike, `fit` warned there was nothing to learn only when it had validation rows to
    /// compare on: `--validation 0` (or a split that leaves none) trained on nothing and said nothing.
    @Test("fit warns that there was nothing to learn from labels all alike, also without validation rows")
    func nothingToLearnWithoutValidationRows() throws {
        let temporary = try TemporaryDirectory("fit-one-label")
        defer { temporary.remove() }
        let rows = temporary.file("m.csv").path
        try "f0,f1,label\n0.5,1,1\n0.2,3,1\n0.1,2,1\n0.7,1,1\n0.3,0,1\n".write(toFile: rows, atomically: true, encoding: .utf8)
        let base = ["fit", "--dataset", rows, "--out", temporary.file("m.ckpt").path, "--epochs", "1", "--validation", "0"]
        let text = try runTool("recpool", base)
        #expect(
            text.code == 0
                && text.stdout.contains(
                    "warning: the model cannot beat the constant predictor: every training row has a click, so there was "
                        + "nothing to learn"),
            "\(text.stdout)")
        let json = try runTool("recpool", base + ["--json"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["training_labels_vary"] as? Bool == false && object["constant_baseline"] is NSNull)
    }

    /// A log is split by time whatever `--validation` says: `fit --validation 0.5` on one trained on the same 60/10
    /// split and said nothing, and `train --model dqn --validation 0.1` was sent and ignored.
    @Test("--validation is refused where it has no effect: a log's fit or train, a dqn job")
    func validationWithoutEffect() throws {
        let temporary = try TemporaryDirectory("validation-refused")
        defer { temporary.remove() }
        let out = temporary.file("m.ckpt").path
        let says = "--validation holds out rows of a feature matrix"
        let fit = try runTool(
            "recpool", ["fit", "--dataset", "synthetic:users=50,rows=400,seed=1", "--out", out, "--validation", "0.5"])
        #expect(fit.code == 64 && fit.stderr.contains(says) && fit.stderr.contains("split by time"), "\(fit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // The default, given or not, is no change.
        let same = try runTool(
            "recpool", ["fit", "--dataset", "synthetic:users=50,rows=400,seed=1", "--out", out, "--validation", "0.2",
                        "--epochs", "1"])
        #expect(same.code == 0, "\(same.stderr)")
        for arguments in [
            ["--dataset", "synthetic:users=50,rows=400,seed=1", "--validation", "0.3"],
            ["--model", "dqn", "--dataset", "synthetic:users=50,rows=400,seed=1", "--validation", "0.1"],
        ] {
            let train = try runTool("recpool", ["train"] + arguments + ["--broker", "tcp://127.0.0.1:1"])
            #expect(train.code == 64 && train.stderr.contains(says), "\(arguments): \(train.stderr)")
        }
    }

    /// A retire at 200,000 items was stored 16 s after the request, while the command had said "timed out": a retry
    /// was then refused as already retired. A change therefore waits 15 s by default, and says the broker may still
    /// make it when the wait ends; a `--timeout-ms` the user gives is honoured (it was raised to 15 s whatever it said).
    @Test("a catalogue change that times out says the broker may still make it, after the wait --timeout-ms gives")
    func catalogueChangeTimeout() throws {
        let run = try runTool("recpool", ["catalogue", "retire", "sku-1", "--broker", "tcp://127.0.0.1:1", "--timeout-ms", "100"])
        #expect(
            run.code == 3 && run.stderr.contains("timed out after 100 ms; the broker may still make the change"),
            "\(run.code) \(run.stderr)")
        // Without --timeout-ms a change waits 15 s (an ordinary request 5 s), as the broker waits up to 10 s for the
        // workers' confirmations.
        let defaulted = try runTool("recpool", ["catalogue", "retire", "sku-1", "--broker", "tcp://127.0.0.1:1"])
        #expect(
            defaulted.code == 3 && defaulted.stderr.contains("timed out after 15000 ms; the broker may still make the change"),
            "\(defaulted.code) \(defaulted.stderr)")
    }

    /// Each was accepted and ignored: the run's label and figures were those of another mode.
    @Test("loadtest and simulate refuse flags the chosen mode does not read", arguments: [
        (["loadtest", "--concurrency", "2", "--poisson"], "--poisson, --seed and --max-in-flight shape an open loop"),
        (["loadtest", "--seed", "9"], "--poisson, --seed and --max-in-flight shape an open loop"),
        (["loadtest", "--rate", "100", "--seed", "5"], "--seed draws Poisson arrivals: give --poisson"),
        (["loadtest", "--max-in-flight", "5"], "--poisson, --seed and --max-in-flight shape an open loop"),
        // Given at their default values, they are given all the same (they were accepted and read as not given).
        (["loadtest", "--rate", "100", "--sweep-factor", "2"], "shape a sweep: give --sweep"),
        (["loadtest", "--rate", "100", "--window", "1s"], "shape a sweep: give --sweep"),
        (["loadtest", "--concurrency", "2", "--max-in-flight", "10000"], "--max-in-flight shape an open loop"),
        (["loadtest", "--rate", "100", "--seed", "1"], "--seed draws Poisson arrivals"),
        (["loadtest", "--sweep", "--concurrency", "1", "--duration", "10s"], "--duration is not read"),
        (["loadtest", "--sweep", "--concurrency", "1", "--duration", "30s"], "--duration is not read"),
        (["loadtest", "--sweep", "--max-windows", "2"], "--max-windows must be 3…10000"),
        (["loadtest", "--recommend", "--width", "5"], "--width sets a SCORE row's features"),
        (["loadtest", "--dataset", "synthetic:users=100", "--width", "106"], "drop --width"),
        (["loadtest", "--schema", "x.toml"], "--schema reads a --dataset: give one, or drop it"),
        // An empty path (an unset variable) was read as the current folder's "" or, for --data-dir, as `/`.
        (["score", "--input", ""], "--input must name a file (or - for standard input), got an empty string"),
        (["loadtest", "--sweep-factor", "3"], "shape a sweep: give --sweep"),
        (["loadtest", "--window", "2s"], "shape a sweep: give --sweep"),
        (["loadtest", "--max-levels", "5"], "shape a sweep: give --sweep"),
        (["loadtest", "--recommend", "--batch", "64"], "--batch sets the rows of a SCORE"),
        (["simulate", "--sessions", "--windows", "3"], "--windows splits a run of users"),
        (["simulate", "--click-scale", "2"], "--click-scale scales the clicks of a --world built from logs"),
        (["simulate", "--export-catalogue", "ec", "--json", "--users", "5"], "simulating no user: drop --users, --json"),
        (["simulate", "--deterministic", "--baselines-only"], "--baselines-only runs none"),
        // Each range names its flag alone, and a duration in the units it is read in.
        (["loadtest", "--connections", "100000"], "--connections must be 1…256, got 100000"),
        (["loadtest", "--width", "0"], "--width must be 1…4096 (the features a SCORE row may hold), got 0"),
        (["loadtest", "--width", "4097"], "--width must be 1…4096 (the features a SCORE row may hold), got 4097"),
        (["loadtest", "--duration", "1441m"], "--duration must be at most 1440m (a day)"),
        (["loadtest", "--duration", "0.0001us"], "--duration must be at least 1us"),
    ])
    func flagsWithoutEffect(arguments: [String], says: String) throws {
        let run = try runTool("recpool", arguments + ["--broker", "tcp://127.0.0.1:1"])
        #expect(run.code == 64 && run.stderr.contains(says), "\(arguments): \(run.code) \(run.stderr)")
    }

    /// SIGHUP (a closed terminal) ended `recpool local` alone by its default action (exit 129), the broker left first
    /// and every worker's drain went unacknowledged.
    @Test("recpool local starts a broker and N workers; SIGTERM or SIGHUP drains every worker and leaves no process behind",
          arguments: [SIGTERM, SIGHUP])
    func local(stop: Int32) async throws {
        let (process, log, text) = try Self.startLocal(["--workers", "2", "--log-level", "info"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let lines = text.split(separator: "\n")
        let frontend = try #require(lines.first { $0.hasPrefix("frontend ") }).split(separator: " ").last.map(
            String.init)
        let pids = try #require(lines.first { $0.hasPrefix("pids") }).split(separator: " ").dropFirst().compactMap {
            Int32($0)
        }
        #expect(pids.count == 3)
        var options = RecPoolClient.Options()
        options.timeoutMs = 2000
        let client = try await RecPoolClient(endpoint: try #require(frontend), options: options)
        defer { client.close() }
        let cluster = ProcessCluster()
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
        let scores = try await client.score(rows: [[Float](repeating: 0.5, count: 106)])
        #expect(scores.values.count == 1)

        kill(process.processIdentifier, stop)
        let logText = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        for pid in pids {
            #expect(kill(pid, 0) != 0, "process \(pid) outlived recpool local")
        }
        // The workers drain while the broker still runs, so each one's drain is acknowledged (before, the broker
        // stopped with them and each worker left unacknowledged after its liveness window).
        let left = logText.split(separator: "\n").filter { $0.contains("left the broker") }
        #expect(left.count == 2 && left.allSatisfy { $0.contains("drained=true") }, "\(logText)")
    }
}

extension CommandLineTests {
    /// Starts `recpool local ARGUMENTS` on any free loopback ports, with `environment` added to this process's, and
    /// reads its standard output up to "ready:" (or its end); returns the process, its standard error and that text.
    static func startLocal(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, String) {
        let process = Process()
        process.executableURL = ProcessCluster.executable("recpool")
        process.arguments = ["local", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let log = Pipe()
        process.standardOutput = out
        process.standardError = log
        try process.run()
        var text = ""
        while !text.contains("ready:") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return (process, log, text)
    }

    /// `recpool local` watched only its workers: with its broker killed it and its workers ran on, serving nobody,
    /// and SIGTERM then exited 0.
    @Test("recpool local keeps its RECPOOL_* variables from its children, and stops, exit 1 naming the broker, when its broker dies")
    func localBrokerDies() async throws {
        // The operator's RECPOOL_* variables configure `recpool local`, not its children: read by the broker and the
        // worker as well, this one made both bind one metrics port and the cluster never became ready.
        let (process, log, text) = try Self.startLocal(
            ["--workers", "1"], environment: ["RECPOOL_METRICS": "127.0.0.1:\(freeLoopbackPort())"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let pids = try #require(text.split(separator: "\n").first { $0.hasPrefix("pids") }).split(separator: " ")
            .dropFirst().compactMap { Int32($0) }
        #expect(pids.count == 2)
        kill(try #require(pids.first), SIGKILL)  // the broker is the first
        let logText = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(logText.contains("the broker exited (killed by signal 9"), "\(logText)")
        for pid in pids { #expect(kill(pid, 0) != 0, "process \(pid) outlived recpool local") }
    }
}

/// Swift decodes argv leniently: `fit --out $'m\xff.ckpt'` wrote `m\u{FFFD}.ckpt`, and `predict --input` of a file
/// with such a name said "No such file or directory" though it existed.
@Suite("Arguments that are not UTF-8")
struct NonUTF8ArgumentTests {
    @Test("an argument with bytes that are not UTF-8 is refused (exit 64) naming it, and nothing is written")
    func refused() throws {
        let temporary = try TemporaryDirectory("non-utf8")
        defer { temporary.remove() }
        let recpool = ProcessCluster.executable("recpool").path
        // The shell passes the raw byte 0xFF: Swift's own Process would encode the argument as UTF-8.
        let script = "cd \"$1\" && \"$2\" fit --dataset synthetic:users=100,seed=1 --epochs 1 --out \"$(printf 'm\\377.ckpt')\""
        let run = try runTool("/bin/sh", ["-c", script, "sh", temporary.path, recpool])
        #expect(run.code == 64, "\(run.code) \(run.stderr)")
        #expect(run.stderr.contains("argument 7 (m\\xFF.ckpt) is not UTF-8 text"), "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path).isEmpty)
    }

    /// `RECPOOL_STATE_DIR=$'\xff\xfe'` started a broker on a directory named "��" (Swift decodes the environment
    /// leniently too), and `RECPOOL_ID` of such bytes named the worker `w�`.
    @Test("a RECPOOL_ variable with bytes that are not UTF-8 is refused (exit 64) naming it, and nothing is created")
    func refusedFromTheEnvironment() throws {
        let temporary = try TemporaryDirectory("non-utf8-env")
        defer { temporary.remove() }
        let broker = ProcessCluster.executable("recpool-broker").path
        let script = "cd \"$1\" && RECPOOL_STATE_DIR=\"$(printf '\\377\\376')\" exec \"$2\" --frontend tcp://127.0.0.1:0 "
            + "--backend tcp://127.0.0.1:0"
        let run = try runTool("/bin/sh", ["-c", script, "sh", temporary.path, broker])
        #expect(run.code == 64, "\(run.code) \(run.stderr)")
        #expect(run.stderr.contains("the environment variable RECPOOL_STATE_DIR (\\xFF\\xFE) is not UTF-8 text"), "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path).isEmpty)
    }
}

/// An exported `RECPOOL_DATA_DIR` (where OBD lives, for every command) refused every `loadtest` without `--dataset`:
/// "--schema and --data-dir read a --dataset".
@Suite("loadtest under RECPOOL_DATA_DIR")
struct LoadTestDataDirTests {
    @Test("a data directory from the environment is not judged by a run that reads no dataset")
    func environmentDataDir() throws {
        let run = try runTool(
            "recpool",
            ["loadtest", "--broker", "tcp://127.0.0.1:1", "--width", "3", "--duration", "100ms", "--timeout-ms", "300", "--quiet"],
            environment: ["RECPOOL_DATA_DIR": "data"])
        #expect(run.code != 64 && !run.stderr.contains("--data-dir"), "\(run.code) \(run.stderr)")
    }
}

/// An empty path (an unset variable) was read as "" or, for `--data-dir`, as `/` (its obd/ child, `/obd`).
@Suite("Empty path options")
struct EmptyPathOptionTests {
    @Test("an empty or blank path option of a local command is refused naming it", arguments: [
        (["predict", "--model", "", "--input", "x.csv"], "--model must name a file"),
        (["data", "describe", "obd:random/all", "--data-dir", ""], "--data-dir must name a folder, got an empty string"),
        (["fit", "--dataset", "synthetic:users=10", "--out", "x.ckpt", "--data-dir", " "], "--data-dir must name a folder"),
        (["eval", "--model", "m.ckpt", "--dataset", "obd:random/all", "--data-dir", ""], "--data-dir must name a folder"),
    ])
    func refused(arguments: [String], says: String) throws {
        let run = try runTool("recpool", arguments)
        #expect(run.code == 64 && run.stderr.contains(says), "\(arguments): \(run.code) \(run.stderr)")
    }
}

/// `recpool local` refuses what its broker or workers would refuse, and does not keep a broker with no worker.
@Suite("recpool local: bad flags and workers that cannot start")
struct LocalStartupTests {
    @Test("a width, log level or checkpoint path the workers would refuse is refused up front")
    func refusedUpFront() throws {
        let width = try runTool("recpool", ["local", "--input-width", "0"])
        #expect(width.code == 64 && width.stderr.contains("--input-width must be 1…4096"), "\(width.stderr)")
        let level = try runTool("recpool", ["local", "--log-level", "bogus"])
        #expect(level.code == 64 && level.stderr.contains("--log-level must be one of"), "\(level.stderr)")
        let model = try runTool("recpool", ["local", "--model", "/nonexistent/m.ckpt"])
        #expect(
            model.code == 2 && model.stderr.contains("cannot read the checkpoint: No such file or directory (errno 2)"),
            "\(model.stderr)")
        #expect(!model.stderr.contains("reachable from other hosts"), "\(model.stderr)")
        // A frontend other hosts reach is said to be open (the cluster runs without keys); nothing is bound here, the
        // checkpoint being unreadable.
        // A checkpoint that does not decode is refused before the broker creates its state directory.
        let temporary = try TemporaryDirectory("local-empty-model")
        defer { temporary.remove() }
        let empty = temporary.file("empty.ckpt").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let state = temporary.file("state").path
        let damaged = try runTool("recpool", ["local", "--model", empty, "--state-dir", state])
        #expect(damaged.code == 2 && damaged.stderr.contains("\(empty): checkpoint truncated"), "\(damaged.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "the state directory was created for a refused start")
        let open = try runTool("recpool", ["local", "--frontend", "tcp://0.0.0.0:5555", "--model", "/nonexistent/m.ckpt"])
        #expect(open.code == 2 && open.stderr.contains("--frontend tcp://0.0.0.0:5555 is reachable from other hosts"), "\(open.stderr)")
    }

    @Test("an online setting the broker refuses is a usage error of recpool local too (exit 64), naming the problem")
    func onlineFlagsTheBrokerRefuses() throws {
        let temporary = try TemporaryDirectory("local-online-flags")
        defer { temporary.remove() }
        let cases: [(flags: [String], says: String)] = [
            (["--epsilon", "2"], "--epsilon must be in [0, 1]"),
            (["--online-sync-events", "0"], "--online-sync-events (online sync events) must be at least 1"),
            (["--feedback-window-s", "0"], "the feedback window must be at least 1 s"),
        ]
        for (index, c) in cases.enumerated() {
            let result = try runTool(
                "recpool",
                ["local", "--online", "--workers", "1", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
                 "--state-dir", temporary.url.appendingPathComponent("state-\(index)").path] + c.flags)
            #expect(result.code == 64, "\(c.flags): \(result.stderr)")
            // Refused by recpool local itself when parsed, as the broker refuses it, before any process starts (it
            // was the broker's exit 64, after local had started it).
            #expect(result.stderr.contains(c.says) && !result.stderr.contains("exited with status"), "\(result.stderr)")
        }
        // A catalogue version is read by recpool local itself, as every version is (one parser): refused before the
        // broker starts, naming the value.
        let catalogue = try runTool(
            "recpool",
            ["local", "--online", "--workers", "1", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
             "--state-dir", temporary.url.appendingPathComponent("state-catalogue").path, "--online-catalogue", "foo"])
        #expect(catalogue.code == 64 && catalogue.stderr.contains("\"foo\" is not a version"), "\(catalogue.stderr)")
        // --print-config refuses them too, as the broker's does (it printed `online-gamma = 1` and exited 0).
        for flags in [
            ["--online-learner", "session_dqn", "--online-gamma", "1"], ["--epsilon", "2"],
            ["--online-update-every", "0"], ["--online-guard-margin", "nan"],
        ] {
            let printed = try runTool(
                "recpool", ["local", "--online", "--state-dir", temporary.url.appendingPathComponent("p").path]
                    + flags + ["--print-config"])
            #expect(printed.code == 64 && printed.stderr.contains("online learning:"), "\(flags): \(printed.stderr)")
        }
    }

    /// `recpool local` exited 1 for every broker that failed to start, so its supervisor could not tell a damaged state
    /// directory (no restart helps) from a port in use: it exits with the broker's own status now.
    @Test("recpool local exits with the status of a broker that failed to start: 65 for a damaged state directory")
    func brokerStartStatusPassesThrough() throws {
        let temporary = try TemporaryDirectory("local-damaged-state")
        defer { temporary.remove() }
        let state = temporary.url.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8_192).write(to: state.appendingPathComponent("recpool.sqlite"))
        let result = try runTool(
            "recpool",
            ["local", "--workers", "1", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
             "--state-dir", state.path])
        #expect(
            result.code == 65 && result.stderr.contains("the broker did not start: it exited with status 65"),
            "\(result.code) \(result.stderr)")
    }

    @Test("when every worker exits at start (a checkpoint of another width than --input-width), recpool local stops and says why")
    func everyWorkerExits() throws {
        let temporary = try TemporaryDirectory("local-bad-model")
        defer { temporary.remove() }
        // A checkpoint that does not decode is refused by recpool local itself, before anything starts.
        let garbage = temporary.url.appendingPathComponent("garbage.ckpt")
        try Data("not a checkpoint".utf8).write(to: garbage)
        let refused = try runTool("recpool", ["local", "--model", garbage.path])
        #expect(refused.code == 2 && refused.stderr.contains("not a RecPool model file"), "\(refused.stderr)")
        // One that decodes but whose width the workers refuse (--input-width beside it): every worker exits 64.
        let model = temporary.url.appendingPathComponent("tiny.ckpt").path
        let fit = try runTool("recpool", ["fit", "--dataset", "synthetic:users=100,seed=1", "--epochs", "1", "--out", model])
        #expect(fit.code == 0, "\(fit.stderr)")
        let process = Process()
        process.executableURL = ProcessCluster.executable("recpool")
        process.arguments = [
            "local", "--workers", "2", "--model", model, "--input-width", "7", "--frontend", "tcp://127.0.0.1:*", "--backend",
            "tcp://127.0.0.1:*", "--state-dir", temporary.url.appendingPathComponent("state").path,
        ]
        let err = Pipe()
        let out = Pipe()
        process.standardError = err
        process.standardOutput = out
        try process.run()
        // Before the fix it ran on with no worker; a watchdog keeps a regression from hanging the suite.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { kill(pid, SIGKILL) }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus != 0, "\(text)")
        #expect(text.contains("every worker exited"), "\(text)")
        // "ready" waits for the workers to register: a cluster none of whose workers started never says it.
        #expect(!said.contains("ready"), "\(said)")
    }
}

/// Flags whose every request would be refused are usage errors before anything is sent.
@Suite("Usage errors before sending", .serialized)
struct UsageBeforeSendingTests {
    @Test("score --exact without --model-version, and loadtest --batch over the row limit, are usage errors")
    func noPool() throws {
        let exact = try runTool("recpool", ["score", "--exact", "--input", "-"], stdin: "1,2\n")
        #expect(exact.code == 64 && exact.stderr.contains("--exact needs --model-version"), "\(exact.stderr)")
        let zero = try runTool(
            "recpool", ["score", "--model-version", "0", "--exact", "--input", "-", "--broker", "tcp://127.0.0.1:1"], stdin: "1,2\n")
        #expect(zero.code == 64 && zero.stderr.contains("\"0\" is not a version"), "\(zero.stderr)")
        let events = try runTool("recpool", ["recommend", "--events", ",,", "--broker", "tcp://127.0.0.1:1"])
        #expect(events.code == 64 && events.stderr.contains("--events"), "\(events.stderr)")
        // A value starting with `-` was taken for a flag ("Missing value for '--events'"); a negative item id was sent.
        for (flag, value, says) in [
            ("--events", "-1:5", "--events: \"-1:5\" is not ITEM:SECONDS with an item id of 0 or more"),
            ("--candidates", "-3", "--candidates: \"-3\" is not an item id (a whole number, 0 or more)"),
            ("--candidates", "18446744073709551615", "--candidates: \"18446744073709551615\" is more than any item id"),
            ("--candidates", "4,-3", "--candidates: \"-3\" is not an item id"),
            ("--events", "1.5:30", "--events: \"1.5:30\" is not ITEM:SECONDS"),
            ("--candidates", "2.5", "--candidates: \"2.5\" is not an item id"),
            // A SKU's spelling (`00101`) was read as row 101 ("unknown item 101"), and `00005` as row 5.
            ("--candidates", "00101,3", "--candidates: \"00101\" is written with leading zeros"),
            ("--candidates", "3,00005", "--candidates: \"00005\" is written with leading zeros"),
            ("--events", "007:30", "--events: \"007\" is written with leading zeros"),
            // A catalogue's id is not a row: the refusal says where each row's id is listed.
            ("--candidates", "SKU-7", "--candidates: \"SKU-7\" is not a catalogue row (a whole number, 0 or more): items here "
                + "are catalogue rows (0, 1, 2, …), as a slate numbers them, not the catalogue's ids; `recpool catalogue show`"),
            ("--events", "SKU-9:30", "not the catalogue's ids; `recpool catalogue show` lists each row's id"),
        ] {
            let run = try runTool("recpool", ["recommend", flag, value, "--broker", "tcp://127.0.0.1:1"])
            #expect(run.code == 64 && run.stderr.contains(says), "\(value): \(run.stderr)")
        }
        // An item in any spelling a log's `viewed` column reads (` 1`, `1.0`, `1e0`) is that item: past the checks, the
        // command meets the unreachable broker (exit 3), never a usage error.
        let spelled = try runTool(
            "recpool", ["recommend", "--events", "1.0:30,1e0:5, 2:1", "--candidates", "1.0,2", "--broker", "tcp://127.0.0.1:1",
                "--timeout-ms", "200"])
        #expect(spelled.code == 3, "\(spelled.stderr)")
        // Row 0 is no leading zero; feedback's `--item 00005` was recorded on row 5, whatever item that is.
        let rowZero = try runTool(
            "recpool", ["recommend", "--candidates", "0,10", "--events", "0:30", "--broker", "tcp://127.0.0.1:1",
                "--timeout-ms", "200"])
        #expect(rowZero.code == 3, "\(rowZero.stderr)")
        // `+25` and `25.0` are row 25 as --candidates reads them: past the checks, the unreachable broker (exit 3).
        for spelling in ["+25", "25.0"] {
            let run = try runTool(
                "recpool",
                ["feedback", "--impression", "i", "--item", spelling, "--click", "1", "--broker", "tcp://127.0.0.1:1",
                    "--timeout-ms", "200"])
            #expect(run.code == 3, "\(spelling): \(run.stderr)")
        }
        for (value, says) in [("00005", "\"00005\" is written with leading zeros"), ("5x", "\"5x\" is not a catalogue row")] {
            let feedback = try runTool(
                "recpool", ["feedback", "--impression", "i", "--item", value, "--click", "1", "--broker", "tcp://127.0.0.1:1"])
            #expect(feedback.code == 64 && feedback.stderr.contains(says), "\(value): \(feedback.stderr)")
        }
        // A connect to port 0 waited for a broker that cannot be there (health exited 3, a worker reconnected forever).
        let anyPort = try runTool("recpool", ["health", "--broker", "tcp://127.0.0.1:0"])
        #expect(anyPort.code == 64 && anyPort.stderr.contains("picks a free port when binding"), "\(anyPort.stderr)")
        let worker = try runTool("recpool-worker", ["--broker", "tcp://127.0.0.1:0"])
        #expect(worker.code == 64 && worker.stderr.contains("picks a free port when binding"), "\(worker.stderr)")
        // Every list flag refuses an empty entry the same way, before anything is sent.
        for (flag, value) in [("--candidates", "1,,2"), ("--candidates", "5,"), ("--candidates", ","),
            ("--user-features", "a=1,,b=2"), ("--user-features", "a=1,")] {
            let run = try runTool("recpool", ["recommend", flag, value, "--broker", "tcp://127.0.0.1:1"])
            #expect(run.code == 64 && run.stderr.contains(flag) && run.stderr.contains("\"\""), "\(flag) \(value): \(run.stderr)")
        }
        let negative = try runTool("recpool", ["promote", "-1", "--broker", "tcp://127.0.0.1:1"])
        #expect(
            negative.code == 64 && negative.stderr.contains("The value '-1' is invalid for '<version>'")
                && !negative.stderr.contains("Missing expected argument"), "\(negative.stderr)")
        // A log level in capitals: the daemons took it and `recpool local` refused it.
        for (tool, arguments) in [
            ("recpool", ["local", "--log-level", "INFO", "--print-config"]), ("recpool-broker", ["--log-level", "INFO", "--print-config"]),
            ("recpool-worker", ["--log-level", "Warning", "--print-config"]),
        ] {
            let level = try runTool(tool, arguments)
            #expect(level.code == 0, "\(tool): \(level.stderr)")
        }
        let badLevel = try runTool("recpool", ["local", "--log-level", "loud", "--print-config"])
        #expect(badLevel.code == 64 && badLevel.stderr.contains("got 'loud'"), "\(badLevel.stderr)")
        // Each bench-model flag is named alone, with its value.
        for (flag, value, says) in [
            ("--d-in", "0", "--d-in must be 1…65536, got 0"), ("--repeats", "0", "--repeats must be 1…1000, got 0"),
            ("--seconds", "nan", "--seconds must be in (0, 3600], got nan"),
        ] {
            let bench = try runTool("recpool", ["bench-model", flag, value])
            #expect(bench.code == 64 && bench.stderr.contains(says) && !bench.stderr.contains(" and --"), "\(bench.stderr)")
        }
        let heartbeat = try runTool("recpool-broker", ["--heartbeat-ms", "5", "--print-config"])
        #expect(heartbeat.code == 64 && heartbeat.stderr.contains("--heartbeat-ms must be 10…3600000 (an hour), got 5"), "\(heartbeat.stderr)")
        let wait = try runTool("recpool-worker", ["--batch-wait-us", "99999999999", "--broker", "tcp://127.0.0.1:1"])
        #expect(wait.code == 64 && wait.stderr.contains("--batch-wait-us must be 0…60000000"), "\(wait.stderr)")
        let guardRows = try runTool(
            "recpool-broker", ["--online", "--state-dir", "/nonexistent/state", "--online-guard-min-rows", "-1", "--print-config"])
        #expect(guardRows.code == 64 && guardRows.stderr.contains("--online-guard-min-rows), got -1"), "\(guardRows.stderr)")
        let offline = try runTool("recpool-broker", ["--feedback-window-s", "60", "--online-sync-events", "10"])
        #expect(offline.code == 64 && offline.stderr.contains("need --online"), "\(offline.stderr)")
        let emptyJob = try runTool("recpool", ["job", "", "--broker", "tcp://127.0.0.1:1"])
        #expect(emptyJob.code == 64 && emptyJob.stderr.contains("the job id is empty"), "\(emptyJob.stderr)")
        // A model no worker builds was submitted and failed on the worker; fit refused it at once.
        for printing in [[], ["--print-config"]] {
            let huge = try runTool(
                "recpool", ["train", "--dataset", "synthetic:users=10", "--hidden", "65536,65536", "--broker", "tcp://127.0.0.1:1"]
                    + printing)
            #expect(
                huge.code == 64 && huge.stderr.contains("--hidden 65536,65536 makes a model of at least")
                    && huge.stderr.contains("more than the 50000000 RecPool builds"), "\(huge.stderr)")
        }
        let hidden = try runTool("recpool", ["train", "--dataset", "synthetic:users=10", "--hidden", "4,,4", "--broker", "tcp://127.0.0.1:1"])
        #expect(hidden.code == 64 && hidden.stderr.contains("--hidden"), "\(hidden.stderr)")
        let rows = try runTool("recpool", ["loadtest", "--batch", "8193", "--broker", "tcp://127.0.0.1:1"])
        #expect(rows.code == 64 && rows.stderr.contains("--batch must be 1…8192"), "\(rows.stderr)")
        // Options that contradict each other, or a value the broker would refuse after the connection.
        let both = try runTool("recpool", ["loadtest", "--json", "--csv", "--broker", "tcp://127.0.0.1:1"])
        #expect(both.code == 64 && both.stderr.contains("--json or --csv"), "\(both.stderr)")
        let set = try runTool("recpool", ["data", "features", "--dataset", "synthetic:users=10", "--out", "x.csv", "--spec", "s.json", "--feature-set", "basic"])
        #expect(set.code == 64 && set.stderr.contains("--feature-set does not go with --spec"), "\(set.stderr)")
        let page = try runTool("recpool", ["logs", "export", "--out", "x.csv", "--page-size", "100000000", "--broker", "tcp://127.0.0.1:1"])
        #expect(page.code == 64 && page.stderr.contains("--page-size must be 1…10000"), "\(page.stderr)")
        let drain = try runTool("recpool", ["drain", "w\n1", "--broker", "tcp://127.0.0.1:1"])
        #expect(drain.code == 64 && drain.stderr.contains("control character"), "\(drain.stderr)")
    }

    /// A path that can never be used is refused before anything is computed, sent or written: an empty `--state-dir`
    /// put `recpool.sqlite` and `blobs/` at the file system's root, and `pull --out` into a missing folder (or an
    /// empty one) waited for the broker and downloaded before failing.
    @Test("empty paths, output files in missing folders or on directories are usage errors, for every command")
    func unusablePaths() throws {
        let missing = "/nonexistent-recpool-folder/out.file"
        let broker = ["--broker", "tcp://127.0.0.1:1", "--timeout-ms", "200"]
        let cases: [(tool: String, arguments: [String], names: String)] = [
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--state-dir", ""], "--state-dir"),
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--state-dir", " "], "--state-dir"),
            ("recpool", ["local", "--state-dir", ""], "--state-dir"),
            ("recpool", ["pull", "1", "--out", ""] + broker, "--out"),
            ("recpool", ["pull", "1", "--out", missing] + broker, "does not exist"),
            ("recpool", ["pull", "1", "--out", NSTemporaryDirectory()] + broker, "is a directory"),
            ("recpool", ["logs", "export", "--out", " "] + broker, "--out"),
            ("recpool", ["loadtest", "--report", missing, "--duration", "1s"] + broker, "does not exist"),
            ("recpool", ["loadtest", "--dataset", "", "--duration", "1s"] + broker, "--dataset"),
            ("recpool", ["simulate", "--report", missing] + broker, "does not exist"),
            ("recpool", ["simulate", "--export-catalogue", ""], "--export-catalogue"),
            ("recpool", ["fit", "--dataset", "synthetic:users=10", "--out", missing], "does not exist"),
            ("recpool", ["export", "--model", "m.ckpt", "--out", ""], "--out"),
            ("recpool", ["eval", "--model", "m.ckpt", "--dataset", "synthetic:users=10", "--report", missing], "does not exist"),
            ("recpool", ["data", "features", "--dataset", "synthetic:users=10", "--out", missing], "does not exist"),
            ("recpool", ["data", "features", "--dataset", "synthetic:users=10", "--out", "x.csv", "--spec-out", ""], "--spec-out"),
            ("recpool", ["data", "schema", "--infer", "log.csv", "--out", missing], "does not exist"),
            ("recpool", ["data", "ope", "--dataset", "synthetic:users=10", "--policy", "random", "--rewards-out", missing], "does not exist"),
            ("recpool", ["keygen", "--out", ""], "--out"),
            // Key, model, schema and spec paths given empty were read as a file named "" (": cannot read", exit 2/66).
            ("recpool", ["status", "--curve-server-key", "", "--curve-key", "k.key"] + broker, "--curve-server-key must name"),
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--curve-key", ""], "--curve-key must name"),
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--allow-clients", " "], "--allow-clients must name"),
            ("recpool-worker", ["--model", ""], "--model must name"),
            ("recpool", ["fit", "--dataset", "synthetic:users=10", "--out", "x.ckpt", "--feature-spec", ""], "--feature-spec must name"),
            ("recpool", ["fit", "--dataset", "synthetic:users=10", "--out", "x.ckpt", "--schema", ""], "--schema must name"),
            ("recpool", ["eval", "--model", "", "--dataset", "synthetic:users=10"], "--model must name"),
            ("recpool", ["data", "schema", "--infer", ""], "--infer must name"),
            // A built-in dataset name that does not parse is a usage error before `train` connects, as for `fit`.
            ("recpool", ["train", "--dataset", "synthetic:foo=1"] + broker, "--dataset: invalid dataset specification"),
            ("recpool", ["train", "--dataset", "synthetic:users=0"] + broker, "--dataset: invalid dataset specification"),
            ("recpool", ["train", "--dataset", "obd:random/nope"] + broker, "--dataset: invalid dataset specification"),
            ("recpool", ["train", "--model", "dqn", "--dataset", "synthetic:foo=1"] + broker, "--dataset: invalid dataset"),
            ("recpool", ["train", "--dataset", "sha256:abc"] + broker, "is not sha256: and 64 lowercase hexadecimal digits"),
            // An output that is one of the command's inputs (after resolving ./).
            ("recpool", ["eval", "--model", "m.ckpt", "--dataset", "synthetic:users=10", "--report", "./m.ckpt"], "would be overwritten"),
            ("recpool", ["export", "--model", "m.ckpt", "--out", "m.ckpt"], "would be overwritten"),
            ("recpool", ["fit", "--dataset", "log.csv", "--out", "log.csv"], "would be overwritten"),
            ("recpool", ["data", "schema", "--infer", "log.csv", "--out", "log.csv"], "would be overwritten"),
        ]
        for (tool, arguments, names) in cases {
            let run = try runTool(tool, arguments)
            #expect(run.code == 64 && run.stderr.contains(names), "\(tool) \(arguments): \(run.code) \(run.stderr)")
        }
    }

    /// A model no replica could hold is refused before it is allocated (17 GB aborted each of these).
    @Test("fit and bench-model refuse a model over the parameter limit, naming it")
    func tooLargeModels() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-large-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let matrix = directory.appendingPathComponent("m.csv").path
        try Data("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n".utf8).write(to: URL(fileURLWithPath: matrix))
        let cases: [(tool: String, arguments: [String])] = [
            ("recpool", ["fit", "--dataset", matrix, "--out", directory.appendingPathComponent("x").path, "--hidden", "65536,65536"]),
            ("recpool", ["bench-model", "--d-in", "65536"]),
        ]
        for (tool, arguments) in cases {
            let run = try runTool(tool, arguments)
            #expect(run.code == 64 && run.stderr.contains("parameters, more than the 50000000"), "\(arguments): \(run.stderr)")
        }
    }

    @Test("loadtest --batch whose requests at the served width exceed the message-byte limit is a usage error")
    func overMessageBytes() async throws {
        try await ProcessCluster.withPool(workers: ["w1"], workerArguments: ["--input-width", "640"]) { cluster, _ in
            let run = try runTool(
                "recpool", ["loadtest", "--broker", cluster.endpoints.frontend, "--batch", "8192", "--duration", "1s"])
            #expect(run.code == 64 && run.stderr.contains("message limit"), "\(run.stderr)")
            #expect(run.stderr.contains("use at most 6553 rows"), "\(run.stderr)")
        }
    }
}

/// `data ope` candidates that do not exist are refused, never evaluated as something else.
@Suite("data ope: candidates that do not exist")
struct MissingCandidateTests {
    /// Writes a one-slot log over items 0…2 (`outcome` is the schema's `click` or `reward` role) with its catalogue
    /// and schema into `directory`; returns `data ope LOG --schema SCHEMA`.
    static func shopLog(_ rows: [(outcome: String, propensity: String)], outcome: String, in directory: URL) throws
        -> [String]
    {
        var log = "ts,item,pos,\(outcome),prop,device\n"
        for (i, row) in rows.enumerated() {
            log += "\(i),\(i % 3),1,\(row.outcome),\(row.propensity),\(i % 2 == 0 ? "ios" : "web")\n"
        }
        try Data(log.utf8).write(to: directory.appendingPathComponent("log.csv"))
        try Data("item\n0\n1\n2\n".utf8).write(to: directory.appendingPathComponent("cat.csv"))
        let schema = """
            [logs]
            timestamp = "ts"
            item = "item"
            position = "pos"
            \(outcome) = "\(outcome)"
            propensity = "prop"

            [logs.user_features]
            device = "categorical"

            [catalogue]
            file = "cat.csv"
            item = "item"
            """
        try Data(schema.utf8).write(to: directory.appendingPathComponent("shop.toml"))
        return [
            "data", "ope", directory.appendingPathComponent("log.csv").path, "--schema",
            directory.appendingPathComponent("shop.toml").path,
        ]
    }

    @Test("popular with no click in the training split, and --epsilon without a model, are refused naming why")
    func refused() throws {
        let temporary = try TemporaryDirectory("ope-candidates")
        defer { temporary.remove() }
        let base = try Self.shopLog(Array(repeating: ("0", "0.25"), count: 30), outcome: "click", in: temporary.url)
        let popular = try runTool("recpool", base + ["--policy", "popular"])
        #expect(popular.code == 2 && popular.stderr.contains("has no click"), "\(popular.stderr)")
        let epsilon = try runTool("recpool", base + ["--epsilon", "0.1"])
        #expect(epsilon.code == 64 && epsilon.stderr.contains("--epsilon needs --model or --version"), "\(epsilon.stderr)")
        #expect(try runTool("recpool", base + ["--policy", "uniform"]).code == 0)
        let samePath = temporary.url.appendingPathComponent("x.npy").path
        let same = try runTool("recpool", base + ["--rewards-out", samePath, "--policy-out", samePath])
        #expect(same.code == 64 && same.stderr.contains("name the same file"), "\(same.stderr)")
    }

    /// An output naming an input overwrote it (exit 0), and --rewards-out with no reward model wrote nothing and exited
    /// 0, leaving an older file at the path to be read as this run's.
    @Test("an output that is an input is refused; --rewards-out that cannot be written fails naming why")
    func outputsAndInputs() throws {
        let temporary = try TemporaryDirectory("ope-outputs")
        defer { temporary.remove() }
        let base = try Self.shopLog(Array(repeating: ("0", "0.25"), count: 30), outcome: "click", in: temporary.url)
        let log = temporary.url.appendingPathComponent("log.csv").path
        let schema = temporary.url.appendingPathComponent("shop.toml").path
        let before = try Data(contentsOf: URL(fileURLWithPath: log))
        let catalogue = temporary.url.appendingPathComponent("cat.csv").path
        for (flag, path, input) in [
            ("--policy-out", log, "--dataset"), ("--rewards-out", schema, "--schema"),
            ("--policy-out", catalogue, "catalogue (--schema's [catalogue] file)"),
        ] {
            let run = try runTool("recpool", base + ["--policy", "uniform", flag, path])
            #expect(run.code == 64 && run.stderr.contains("is the \(input) file this command reads"), "\(run.stderr)")
        }
        let features = try runTool("recpool", ["data", "features", log, "--schema", schema, "--out", log])
        #expect(features.code == 64 && features.stderr.contains("would be overwritten"), "\(features.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: log)) == before)
        // One row: no reward model (cross-fitting has nothing to hold out), so q̂ cannot be written.
        let one = try TemporaryDirectory("ope-one-row")
        defer { one.remove() }
        let single = try Self.shopLog([("1", "0.5")], outcome: "click", in: one.url)
        let stale = one.url.appendingPathComponent("q.npy").path
        try Data("stale".utf8).write(to: URL(fileURLWithPath: stale))
        let run = try runTool("recpool", single + ["--split", "all", "--policy", "uniform", "--rewards-out", stale])
        #expect(run.code == 2 && run.stderr.contains("was not written: no reward model"), "\(run.code) \(run.stderr)")
        #expect(run.stdout.contains("DR"), "the report is still printed: \(run.stdout)")
    }

    @Test("data features writes each column name as one CSV field, so fit reads back the specification's names")
    func featureNamesAreQuotedFields() throws {
        let temporary = try TemporaryDirectory("features-quoted")
        defer { temporary.remove() }
        let rows = (0..<40).map { i in (outcome: i % 4 == 0 ? "1" : "0", propensity: "0.5") }
        let base = try Self.shopLog(rows, outcome: "click", in: temporary.url)
        // The device values hold a quote, a comma and a line break: each is one legal, quoted CSV field.
        let logURL = temporary.url.appendingPathComponent("log.csv")
        let values = ["\"tablet 10\"\" ios\"", "\"web, mobile\"", "\"and\nroid\""]
        var log = "ts,item,pos,click,prop,device\n"
        for (i, row) in rows.enumerated() { log += "\(i),\(i % 3),1,\(row.outcome),0.5,\(values[i % 3])\n" }
        try Data(log.utf8).write(to: logURL)
        let out = temporary.url.appendingPathComponent("train.csv").path
        let spec = temporary.url.appendingPathComponent("spec.json").path
        let features = try runTool(
            "recpool", ["data", "features", logURL.path, "--schema", base[4], "--split", "train", "--out", out, "--spec-out", spec,
                        "--feature-set", "basic"])
        #expect(features.code == 0, "\(features.stderr)")
        let header = try CSVFile.read(path: out).records[0]
        #expect(header.contains("device=tablet 10\" ios") && header.contains("device=web, mobile"), "\(header)")
        #expect(header.contains("device=and\nroid"), "\(header)")
        let fit = try runTool(
            "recpool", ["fit", "--dataset", out, "--feature-spec", spec, "--out", temporary.url.appendingPathComponent("m.ckpt").path,
                        "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
    }

    @Test("an estimate of 1e110 prints in scientific notation, not as 111 digits")
    func hugeEstimate() throws {
        let temporary = try TemporaryDirectory("ope-huge")
        defer { temporary.remove() }
        let rows = (0..<12).map { $0 == 4 ? (outcome: "1000000000", propensity: "1e-100") : (outcome: "0", propensity: "0.5") }
        let run = try runTool("recpool", try Self.shopLog(rows, outcome: "reward", in: temporary.url) + ["--split", "all"])
        #expect(run.code == 0, "\(run.stderr)")
        let ipw = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("    IPW") })
        #expect(ipw.contains("e+10"), "\(ipw)")
        #expect(!ipw.contains("0000000000000000"), "\(ipw)")
        // The interval's bounds follow the value's rule: a bound of 1e12 or more is in scientific notation too.
        for line in run.stdout.split(separator: "\n") where line.contains("[") {
            #expect(line.range(of: #"[0-9]{13}"#, options: .regularExpression) == nil, "\(line)")
        }
        let bracketed = run.stdout.split(separator: "\n").filter { $0.hasPrefix("    IPW") && $0.contains("[") }
        #expect(!bracketed.isEmpty && bracketed.allSatisfy { $0.contains("e+") }, "\(run.stdout)")
    }
}

/// RECOMMEND through the pool, from raw context, with a model trained on simulator features.
@Suite("Recommend end to end", .serialized)
struct RecommendTests {
    @Test("recommend ranks items from raw context, falls back for a user with no signal, and names bad items")
    func recommend() async throws {
        let temporary = try TemporaryDirectory("rec")
        defer { temporary.remove() }
        let directory = temporary.url
        let csv = directory.appendingPathComponent("syn.csv").path
        let spec = directory.appendingPathComponent("syn.json").path
        let model = directory.appendingPathComponent("syn.ckpt").path
        let features = try runTool("recpool", ["data", "features", "synthetic:users=500,seed=3", "--out", csv, "--spec-out", spec])
        #expect(features.code == 0, "\(features.stderr)")
        let fit = try runTool("recpool", ["fit", "--dataset", csv, "--feature-spec", spec, "--out", model, "--epochs", "1", "--version", "4"])
        #expect(fit.code == 0, "\(fit.stderr)")

        try await ProcessCluster.withPool(workers: ["w1"], workerArguments: ["--model", model]) { cluster, client in
            let broker = cluster.endpoints.frontend

            let warm = try runTool("recpool", ["recommend", "--broker", broker, "--events", "1:30,2:10", "--top", "5", "--json"])
            #expect(warm.code == 0, "\(warm.stderr)")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(warm.stdout.utf8)) as? [String: Any])
            let items = try #require(answer["items"] as? [[String: Any]])
            #expect(items.count == 5 && answer["model_version"] as? Int == 0 && answer["source"] as? String == "model")
            let scores = items.compactMap { $0["score"] as? Double }
            #expect(scores == scores.sorted(by: >))

            let health = try runTool("recpool", ["health", "--broker", broker, "--service", "RECOMMEND"])
            #expect(health.code == 0 && health.stdout.contains("healthy"), "\(health.stderr)")

            let cold = try runTool("recpool", ["recommend", "--broker", broker, "--top", "3", "--json"])
            #expect(cold.code == 0, "\(cold.stderr)")
            #expect(cold.stdout.contains("\"source\":\"cold_start_fallback\"") && cold.stdout.contains("\"items\""))

            let bad = try runTool("recpool", ["recommend", "--broker", broker, "--events", "9999:3"])
            #expect(bad.code != 0 && bad.stderr.contains("unknown item 9999"))
            let malformed = try runTool("recpool", ["recommend", "--broker", broker, "--events", "1:-4"])
            #expect(malformed.code != 0 && malformed.stderr.contains("ITEM:SECONDS"))
        }
    }
}

/// Probes and the live status view.
@Suite("Health and status watch", .serialized)
struct HealthTests {
    @Test("recpool health exits 0 with a live worker, 1 without one, and non-zero when the broker is unreachable")
    func health() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        let broker = cluster.endpoints.frontend
        let empty = try runTool("recpool", ["health", "--broker", broker])
        #expect(empty.code == 1 && empty.stderr.contains("no live worker"))
        try cluster.startWorker("w1")
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(try runTool("recpool", ["health", "--broker", broker]).code == 0)
        #expect(try runTool("recpool", ["health", "--broker", broker, "--service", "TRAIN_ROUND"]).code == 0)
        // The seeded model has no feature specification: every RECOMMEND is refused, so RECOMMEND is unhealthy
        // (it was reported healthy).
        let recommend = try runTool("recpool", ["health", "--broker", broker, "--service", "RECOMMEND"])
        #expect(recommend.code == 1 && recommend.stderr.contains("no feature specification"), "\(recommend.stderr)")
        // FEEDBACK is answered by the broker: without online learning no replica serves a policy to be about.
        let feedback = try runTool("recpool", ["health", "--broker", broker, "--service", "FEEDBACK"])
        #expect(feedback.code == 1 && feedback.stderr.contains("online policy"), "\(feedback.stderr)")
        #expect(try runTool("recpool", ["health", "--broker", broker, "--service", "NOPE"]).code != 0)
        cluster.kill("broker", signal: SIGKILL)
        let gone = try runTool("recpool", ["health", "--broker", broker, "--timeout-ms", "300"])
        #expect(gone.code != 0 && gone.code != 1)
    }

    @Test("recpool status --watch --json prints a document a second and exits 0 on SIGINT")
    func watch() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1")
        let process = Process()
        process.executableURL = ProcessCluster.executable("recpool")
        process.arguments = ["status", "--broker", cluster.endpoints.frontend, "--watch", "--json"]
        let out = Pipe()
        process.standardOutput = out
        let printed = LockedBox(Data())
        out.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            printed.withLock { $0.append(chunk) }
        }
        try process.run()
        // Interrupt once two snapshots are out.
        try? await eventually(pollMs: 20, "two status lines") { printed.withLock { $0.count { $0 == 0x0A } } >= 2 }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        #expect(process.terminationStatus == 0)
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        let lines = String(decoding: printed.withLock { $0 } + rest, as: UTF8.self).split(separator: "\n")
        #expect(lines.count >= 2)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })
    }
}
