import Foundation
import RecClient
import RecModel
import RecTransport
import RecWire
import RecTestKit
import Testing

/// A broker and real workers, as separate processes on loopback.
@Suite("Scoring end to end", .serialized)
struct ScoringTests {
    static func row(_ width: Int, _ seed: Int) -> [Float] { (0..<width).map { Float(($0 * 7 + seed) % 11) / 11 } }

    @Test("two workers register and score rows with a model version")
    func scores() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let client = try await cluster.client()
        defer { client.close() }
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
        #expect(Set(status.workers.map(\.id)) == ["w1", "w2"])
        #expect(status.workers.allSatisfy { $0.inputWidth == 106 && $0.slots > 0 })

        let rows = (0..<5).map { Self.row(106, $0) }
        let scores = try await client.score(rows: rows)
        #expect(scores.values.count == 5)
        #expect(scores.values.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(scores.modelVersion == 0)
        // The same seed on both workers: the same rows get the same scores from either.
        for _ in 0..<4 {
            let again = try await client.score(rows: rows)
            #expect(again.values == scores.values)
        }
    }

    @Test("rows far past the broker's per-client budget score in one split call, at most 12 MiB in flight")
    func rowsPastTheClientBudget() async throws {
        // 1,000,000 rows of 106 features are 123 requests of 3.5 MB: sent at once, 427 MB passed the broker's 64 MiB a
        // client may hold, and the call failed BUSY.
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1")
        let client = try await cluster.client(timeoutMs: 120_000)
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        let distinct = (0..<11).map { Self.row(106, $0) }
        let rows = (0..<1_000_000).map { distinct[$0 % 11] }
        let scores = try await client.scoreSplit(rows: rows)
        #expect(scores.values.count == 1_000_000)
        let first = try await client.score(rows: distinct)
        // Same rows, other batch shapes: at most the last bit of a float32 may move.
        let worst = stride(from: 0, to: 1_000_000, by: 997).map { abs(scores.values[$0] - first.values[$0 % 11]) }.max()
        #expect((worst ?? 1) <= 1e-6)
    }

    @Test("wrong widths and NaN get typed errors and the worker keeps serving")
    func badRows() async throws {
        try await ProcessCluster.withPool(workers: ["w1"]) { cluster, client in
            let wide = await serverError { try await client.score(rows: [[1, 2, 3]]) }
            #expect(wide?.status == .badRequest)
            #expect(wide?.message.contains("106") == true)
            var nan = Self.row(106, 1)
            nan[3] = .nan
            let notFinite = await serverError { try await client.score(rows: [nan]) }
            #expect(notFinite?.status == .badRequest)
            #expect(notFinite?.message.contains("column 3") == true)
            let ok = try await client.score(rows: [Self.row(106, 2)])
            #expect(ok.values.count == 1)
        }
    }

    @Test("with no worker a request gets NO_WORKER, not silence")
    func noWorker() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--no-worker-timeout-ms", "300"])
        let client = try await cluster.client()
        defer { client.close() }
        let error = await serverError { try await client.score(rows: [[1, 2]]) }
        #expect(error?.status == .noWorker)
    }

    @Test("a worker killed with SIGKILL leaves the status within 5 s and the other keeps serving, with no request lost")
    func killWorker() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let client = try await cluster.client(timeoutMs: 10_000)
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 2 }

        // Steady load while one worker dies.
        let progress = LockedBox(0)
        let load = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        var done = 0
                        for i in 0..<150 {
                            _ = try await client.score(rows: [Self.row(106, lane * 1000 + i)])
                            done += 1
                            progress.withLock { $0 += 1 }
                        }
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        // Kill once the load is flowing (40 of its 600 requests answered).
        try await eventually(pollMs: 5, "the load under way") { progress.withLock { $0 } >= 40 }
        cluster.kill("w1", signal: SIGKILL)
        let killedAt = Clocks.monotonicMicros()
        let status = try await cluster.waitForStatus(client, timeoutMs: 5000) { $0.workers.count == 1 }
        #expect(Clocks.monotonicMicros() - killedAt < 5_000_000)
        #expect(status.workers.map(\.id) == ["w2"])
        let completed = try await load.value
        #expect(completed == 600)
        let after = try await client.score(rows: [Self.row(106, 9)])
        #expect(after.values.count == 1)
    }

    @Test("workers re-register after the broker restarts")
    func brokerRestart() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1")
        var client = try await cluster.client()
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        client.close()
        try cluster.restartBroker()
        client = try await cluster.client()
        defer { client.close() }
        let start = Clocks.monotonicMicros()
        _ = try await cluster.waitForStatus(client, timeoutMs: 8000) { $0.workers.count == 1 }
        #expect(Clocks.monotonicMicros() - start < 8_000_000)
        let scores = try await client.score(rows: [Self.row(106, 3)])
        #expect(scores.values.count == 1)
    }

    @Test("a request that outlives its timeout fails with a typed timeout, not a hang")
    func timeout() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--no-worker-timeout-ms", "60000"])
        let client = try await cluster.client()
        defer { client.close() }
        let result = await clientError { try await client.score(rows: [[1]], timeoutMs: 300) }
        switch result {
        case .server(let status, _, _)?: #expect(status == .expired)
        case .timedOut?: break
        default: Issue.record("unexpected \(String(describing: result))")
        }
    }
}

/// The client error a call failed with, or `nil` if it succeeded.
func clientError<T>(_ body: () async throws -> T) async -> ClientError? {
    do {
        _ = try await body()
        return nil
    } catch let error as ClientError {
        return error
    } catch {
        Issue.record("not a ClientError: \(error)")
        return nil
    }
}

/// The status and message of a server error a call failed with, or `nil`.
func serverError<T>(_ body: () async throws -> T) async -> (status: Status, message: String)? {
    guard case .server(let status, let message, _)? = await clientError(body) else { return nil }
    return (status, message)
}

/// A worker serving a checkpoint written by `recpool fit`.
@Suite("Serving a trained checkpoint", .serialized)
struct CheckpointServingTests {
    @Test("a worker started with --model serves that checkpoint's version and scores like recpool predict")
    func servesCheckpoint() async throws {
        let temporary = try TemporaryDirectory("ckpt")
        defer { temporary.remove() }
        let directory = temporary.url
        var csv = "a,b,c,label\n"
        for i in 0..<200 {
            let a = Float(i % 10) / 10, b = Float((i * 7) % 13) / 13, c = Float((i * 3) % 5) / 5
            csv += "\(a),\(b),\(c),\(a + b > 1 ? 1 : 0)\n"
        }
        let data = directory.appendingPathComponent("train.csv")
        try csv.write(to: data, atomically: true, encoding: .utf8)
        let model = directory.appendingPathComponent("model.ckpt")
        let fit = try runTool(
            "recpool", ["fit", "--dataset", data.path, "--out", model.path, "--epochs", "2", "--version", "7"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let rows = directory.appendingPathComponent("rows.csv")
        try "0.1,0.2,0.3\n0.9,0.8,0.7\n".write(to: rows, atomically: true, encoding: .utf8)
        let predict = try runTool("recpool", ["predict", "--model", model.path, "--input", rows.path, "--json"])
        #expect(predict.code == 0, "\(predict.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(predict.stdout.utf8)) as? [String: Any])
        // The file holds 7, which is no registry version: predict names it checkpoint_version, never model_version.
        #expect(expected["model_version"] is NSNull, "\(predict.stdout)")
        #expect(expected["checkpoint_version"] as? Int == 7)
        let fileSHA = try #require(expected["checkpoint_sha256"] as? String)

        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1", extra: ["--model", model.path])
        let client = try await cluster.client()
        defer { client.close() }
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        // Decision 6: a file's model is unregistered (version 0, known by its hash), whatever number the file holds.
        #expect(status.workers[0].modelVersion == 0 && status.workers[0].inputWidth == 3)
        #expect(status.workers[0].modelSource == "file" && status.workers[0].modelSha256 == fileSHA)
        let scores = try await client.score(rows: [[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]])
        #expect(scores.modelVersion == 0)
        let want = try #require(expected["scores"] as? [Double])
        #expect(zip(scores.values, want).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        // The random MLP's width beside a checkpoint (a fleet's config may set it for every worker) was ignored: it
        // must be the checkpoint's. The same width starts (checked by the worker above, which got none), another
        // exits 64 naming both.
        let other = try runTool("recpool-worker", ["--broker", "tcp://127.0.0.1:1", "--model", model.path, "--input-width", "8"])
        #expect(
            other.code == 64 && other.stderr.contains("--input-width 8, but --model") && other.stderr.contains("rows of 3 features"),
            "\(other.stderr)")
        try cluster.startWorker("w2", extra: ["--model", model.path, "--input-width", "3", "--seed", "9"])
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
    }

    /// Pointed at the broker's client endpoint, a worker took the BAD_REQUEST answers to its READY and heartbeats for
    /// the broker's heartbeats and waited for ever, logging nothing above debug.
    @Test("a worker pointed at the broker's client endpoint exits 64 naming it, at once")
    func workerOnTheFrontend() throws {
        let cluster = ProcessCluster()
        try cluster.startBroker()
        defer { cluster.stop() }
        let result = try runTool(
            "recpool-worker", ["--broker", cluster.endpoints.frontend, "--log-level", "warning", "--heartbeat-ms", "200"])
        #expect(result.code == 64, "\(result.stderr)")
        #expect(
            result.stderr.contains("answered this worker's READY with BAD_REQUEST")
                && result.stderr.contains("--broker must name the broker's --backend"), "\(result.stderr)")
    }

    @Test("a worker refuses a corrupt checkpoint with a clear error instead of serving")
    func corruptCheckpoint() throws {
        let temporary = try TemporaryDirectory("bad-ckpt")
        defer { temporary.remove() }
        let path = temporary.file("bad.ckpt")
        try Data("RECPOOLM garbage".utf8).write(to: path)
        let result = try runTool("recpool-worker", ["--broker", "tcp://127.0.0.1:1", "--model", path.path])
        #expect(result.code != 0)
        // The message names the file, as every command reading a checkpoint does.
        #expect(result.stderr.contains("cannot load model") && result.stderr.contains(path.path), "\(result.stderr)")
        for arguments in [
            ["predict", "--model", path.path, "--input", path.path],
            // Checked before connecting: a broker that cannot be reached does not hide the damaged file.
            ["import", "--model", path.path, "--broker", "tcp://127.0.0.1:1", "--timeout-ms", "500"],
        ] {
            let command = try runTool("recpool", arguments)
            #expect(command.code == 2, "\(arguments[0]): \(command.stderr)")
            #expect(command.stderr.contains("\(path.path): checkpoint"), "\(arguments[0]): \(command.stderr)")
        }
    }
}

/// The registry refuses to import such a model; a worker started with it served nothing (every SCORE TOO_LARGE).
@Suite("Worker start: a model no request could reach")
struct UnreachableModelStartTests {
    @Test("recpool-worker and recpool local refuse a model wider than a SCORE row without a feature specification")
    func refusesWideModel() throws {
        let temporary = try TemporaryDirectory("wide-ckpt")
        defer { temporary.remove() }
        let path = temporary.file("wide.ckpt")
        try Data(Checkpoint(model: .mlp(MLP(inputWidth: 4_097, hiddenSizes: [1], seed: 1))).encoded()).write(to: path)
        let worker = try runTool("recpool-worker", ["--broker", "tcp://127.0.0.1:1", "--model", path.path])
        #expect(worker.code == 66, "\(worker.stderr)")
        #expect(
            worker.stderr.contains("\(path.path) cannot be served: its model takes rows of 4097 features, and a SCORE row "
                + "holds at most 4096"), "\(worker.stderr)")
        for tool in ["recpool-worker", "recpool"] {
            let arguments = ["--input-width", "4097"] + (tool == "recpool" ? [] : ["--broker", "tcp://127.0.0.1:1"])
            let run = try runTool(tool, (tool == "recpool" ? ["local"] : []) + arguments)
            #expect(run.code == 64, "\(tool): \(run.stderr)")
            #expect(
                run.stderr.contains("--input-width must be 1…4096 (a SCORE row holds at most 4096 features), got 4097"),
                "\(tool): \(run.stderr)")
        }
    }
}

/// Promotion while clients score: no request fails and no client sees the version go back.
@Suite("Rollout under load", .serialized)
struct RolloutTests {
    @Test("promoting a new version under continuous scoring fails no request and never goes back")
    func rolloutUnderLoad() async throws {
        let temporary = try TemporaryDirectory("rollout")
        defer { temporary.remove() }
        let directory = temporary.url
        try TwoCheckpoints.fit(in: directory)
        try await ProcessCluster.withPool(brokerArguments: ["--state-dir", directory.appendingPathComponent("state").path], workers: ["w1", "w2"], workerArguments: ["--input-width", "3"]) { cluster, client in
            let broker = cluster.endpoints.frontend
            let first = try runTool("recpool", ["import", "--broker", broker, "--model", directory.appendingPathComponent("m1.ckpt").path, "--promote"])
            #expect(first.code == 0, "\(first.stderr)")
            _ = try await cluster.waitForStatus(client) { $0.workers.allSatisfy { $0.modelVersion == 1 } && $0.workers.count == 2 }

            let servedByFirst = LockedBox(0)
            let load = Task {
                try await withThrowingTaskGroup(of: [UInt64].self) { group in
                    for lane in 0..<4 {
                        group.addTask {
                            var versions: [UInt64] = []
                            // Bounded, but far past any promotion delay: a lane stops once it has seen 50 replies from v2.
                            for i in 0..<20_000 {
                                let scores = try await client.score(rows: [[Float(lane) / 4, Float(i % 10) / 10, 0.5]])
                                versions.append(scores.modelVersion)
                                if scores.modelVersion == 1 { servedByFirst.withLock { $0 += 1 } }
                                if versions.count > 50 && versions.suffix(50).allSatisfy({ $0 == 2 }) { break }
                            }
                            return versions
                        }
                    }
                    var lanes: [[UInt64]] = []
                    for try await lane in group { lanes.append(lane) }
                    return lanes
                }
            }
            // Promote once the lanes are being served by version 1.
            try await eventually(pollMs: 5, "replies from version 1") { servedByFirst.withLock { $0 } >= 20 }
            let second = try runTool("recpool", ["import", "--broker", broker, "--model", directory.appendingPathComponent("m2.ckpt").path, "--promote"])
            #expect(second.code == 0, "\(second.stderr)")
            let lanes = try await load.value  // any failed request throws here
            for versions in lanes {
                #expect(zip(versions, versions.dropFirst()).allSatisfy { $0 <= $1 }, "a lane saw the version go back")
                #expect(Set(versions).isSubset(of: [1, 2]))
            }
            #expect(lanes.contains { $0.contains(1) } && lanes.allSatisfy { $0.last == 2 })
            let status = try await cluster.waitForStatus(client) { $0.workers.allSatisfy { $0.modelVersion == 2 } }
            #expect(status.workers.count == 2)
        }
    }
}
