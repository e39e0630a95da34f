import Crypto
import Foundation
import RecClient
import RecWire
import RecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 13 §1 and issue 14 §3–§4 end to end: a version names one set of weights, durable state is
/// verified before it is served, and a full disk never wedges an upload.
@Suite("Model identity and durable state", .serialized)
struct StateIntegrityTests {
    /// A folder with a 3-feature CSV and two fitted checkpoints, `m1.ckpt` and `m2.ckpt`, both with
    /// version 1 written inside (as every `recpool fit` output has).
    final class Fixture {
        let folder: TemporaryDirectory
        var directory: URL { folder.url }
        init() throws {
            folder = try TemporaryDirectory("state")
            var csv = "a,b,c,label\n"
            for i in 0..<120 { csv += "\(Float(i % 10) / 10),\(Float(i % 7) / 7),\(Float(i % 3) / 3),\(i % 2)\n" }
            try csv.write(to: path("train.csv"), atomically: true, encoding: .utf8)
            try "0.1,0.2,0.3\n0.9,0.8,0.7\n".write(to: path("rows.csv"), atomically: true, encoding: .utf8)
            for (name, seed) in [("m1", "1"), ("m2", "2")] {
                let fit = try runTool(
                    "recpool", ["fit", "--dataset", path("train.csv").path, "--out", path("\(name).ckpt").path, "--epochs", "1", "--seed", seed])
                guard fit.code == 0 else { throw FixtureError.fit(fit.stderr) }
            }
        }
        deinit { folder.remove() }

        func path(_ name: String) -> URL { directory.appendingPathComponent(name) }
        var state: String { path("state").path }

        /// The hex SHA-256 of a file: the registry's blob name for an imported checkpoint.
        func sha(_ name: String) throws -> String {
            SHA256.hash(data: try Data(contentsOf: path(name))).map { String(format: "%02x", $0) }.joined()
        }

        /// `recpool predict`'s scores of rows.csv under a checkpoint.
        func predicted(_ name: String) throws -> [Double] {
            let predict = try runTool("recpool", ["predict", "--model", path(name).path, "--input", path("rows.csv").path, "--json"])
            let document = try JSONSerialization.jsonObject(with: Data(predict.stdout.utf8)) as? [String: Any]
            return document?["scores"] as? [Double] ?? []
        }

        func corruptBlob(_ sha: String) throws {
            try Data("flipped".utf8).write(to: URL(fileURLWithPath: "\(state)/blobs/\(sha)"))
        }
    }

    enum FixtureError: Error { case fit(String) }

    static let rows: [[Float]] = [[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]]

    /// Scores `rows` and returns the error's description, or `nil` when the request was answered.
    static func scoreFailure(_ client: RecPoolClient, rows: [[Float]] = rows) async -> String? {
        do {
            _ = try await client.score(rows: rows)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The versions `recpool models --json` lists as promoted.
    static func promoted(_ broker: String) throws -> [Int] {
        let models = try runTool("recpool", ["models", "--broker", broker, "--json"])
        let document = try JSONSerialization.jsonObject(with: Data(models.stdout.utf8)) as? [String: Any]
        let list = document?["models"] as? [[String: Any]] ?? []
        return list.filter { $0["promoted"] as? Bool == true }.compactMap { $0["version"] as? Int }
    }

    static func close(_ scores: [Float], _ expected: [Double]) -> Bool {
        scores.count == expected.count && zip(scores, expected).allSatisfy { abs(Double($0) - $1) < 1e-6 }
    }

    @Test("a file model is served as unregistered version 0; the promoted v1 reaches it and an exact v1 pin gets v1's weights")
    func fileModelThenPromotion() async throws {
        let f = try Fixture()
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", f.state])
        try cluster.startWorker("local", extra: ["--model", f.path("m1.ckpt").path])
        let client = try await cluster.client()
        defer { client.close() }
        var status = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(status.workers[0].modelVersion == 0)
        #expect(status.workers[0].modelSource == "file")
        let localSHA = try f.sha("m1.ckpt")
        #expect(status.workers[0].modelSha256 == localSHA)
        #expect(status.promotedVersion == nil)
        let before = try await client.score(rows: Self.rows)
        let localScores = try f.predicted("m1.ckpt")
        #expect(before.modelVersion == 0 && Self.close(before.values, localScores))

        let imported = try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m2.ckpt").path, "--promote"])
        #expect(imported.code == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("version 1"))
        status = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 1 }
        let promotedSHA = try f.sha("m2.ckpt")
        #expect(status.workers[0].modelSource == "registry" && status.workers[0].modelSha256 == promotedSHA)
        #expect(status.promotedVersion == 1)
        let pinned = try await client.score(rows: Self.rows, version: .exactly(1))
        #expect(pinned.modelVersion == 1)
        let promotedScores = try f.predicted("m2.ckpt")
        #expect(Self.close(pinned.values, promotedScores), "an exact v1 pin was answered by other weights")
        // Importing the same file again names the same version.
        let again = try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m2.ckpt").path])
        // Said as the version that holds it, never "imported version 1" as though registered anew.
        #expect(
            again.code == 0 && again.stdout.contains("version 1 already holds this checkpoint")
                && !again.stdout.contains("imported"), "\(again.stdout) \(again.stderr)")
    }

    @Test("two workers with one id: the second is registered as id#2, and drain names exactly one")
    func duplicateIds() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        let arguments = ["--broker", cluster.endpoints.backend, "--id", "dup", "--exit-with-parent", "--log-level", "warning", "--input-width", "3"]
        try cluster.startWorker("a", arguments: arguments)
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        try cluster.startWorker("b", arguments: arguments)
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
        #expect(status.workers.map(\.id) == ["dup", "dup#2"])
        #expect(status.counters["workers_renamed"] == 1)
        let renamedPid = try #require(status.workers.first { $0.id == "dup#2" }?.pid)
        #expect(renamedPid == cluster.pid("b"))
        let drain = try runTool("recpool", ["drain", "--broker", cluster.endpoints.frontend, "dup#2"])
        #expect(drain.code == 0, "\(drain.stderr)")
        #expect(cluster.waitForExit("b", timeoutMs: 20_000) == 0)
        let after = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(after.workers.map(\.id) == ["dup"])
    }

    @Test("promote of a corrupt version is refused and nothing changes; re-importing the file repairs it")
    func corruptPromotion() async throws {
        let f = try Fixture()
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", f.state], workers: ["w1"], workerArguments: ["--input-width", "3"]) { cluster, client in
            let broker = cluster.endpoints.frontend
            // An empty registry is said in words, never a bare table header.
            let none = try runTool("recpool", ["models", "--broker", broker])
            #expect(none.code == 0 && none.stdout.hasPrefix("no model version is registered"), "\(none.stdout)")
            let noJobs = try runTool("recpool", ["jobs", "--broker", broker])
            #expect(noJobs.code == 0 && noJobs.stdout.hasPrefix("no training job has been submitted"), "\(noJobs.stdout)")
            #expect(try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m1.ckpt").path, "--promote"]).code == 0)
            #expect(try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m2.ckpt").path]).code == 0)
            // An imported version has no job and no metrics: the text says so, never a blank cell.
            let listed = try runTool("recpool", ["models", "--broker", broker])
            #expect(listed.stdout.split(separator: "\n").dropFirst().allSatisfy { $0.hasSuffix("none (no training job)") }, "\(listed.stdout)")
            _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 1 }
            try f.corruptBlob(try f.sha("m2.ckpt"))

            let refused = try runTool("recpool", ["promote", "--broker", broker, "2"])
            #expect(refused.code != 0)
            #expect(refused.stderr.contains("corrupt") && refused.stderr.contains("import"), "\(refused.stderr)")
            #expect(!refused.stdout.contains("promoted version 2"))
            #expect(try Self.promoted(broker) == [1])
            let quarantine = try FileManager.default.contentsOfDirectory(atPath: "\(f.state)/blobs/quarantine")
            #expect(quarantine.count == 1)

            let repaired = try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m2.ckpt").path, "--promote"])
            #expect(repaired.code == 0, "\(repaired.stderr)")
            #expect(repaired.stdout.contains("version 2"))
            _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 2 }
            let scores = try await client.score(rows: Self.rows)
            let expected2 = try f.predicted("m2.ckpt")
            #expect(scores.modelVersion == 2 && Self.close(scores.values, expected2))
        }
    }

    @Test("after a restart with the promoted blob corrupt, a seeded worker takes no work and says so until the file is imported again")
    func corruptPromotedAtRestart() async throws {
        let f = try Fixture()
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", f.state])
        let broker = cluster.endpoints.frontend
        #expect(try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m1.ckpt").path, "--promote"]).code == 0)
        try f.corruptBlob(try f.sha("m1.ckpt"))
        try cluster.restartBroker()
        try cluster.startWorker("fresh", extra: ["--input-width", "3"])
        let client = try await cluster.client()
        defer { client.close() }
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(status.promotedVersion == 1)
        #expect(status.workers[0].modelVersion == 0 && status.workers[0].modelSource == "seeded")
        #expect(status.workers[0].waitingForVersion == 1)
        let refused = await Self.scoreFailure(client)
        #expect(refused?.contains("promoted model version 1") == true, "\(refused ?? "answered while version 1 is promoted")")
        #expect(try Self.promoted(broker) == [1])
        // A supervisor's probe says so too: the live worker takes no work until it has version 1.
        let probe = try runTool("recpool", ["health", "--broker", broker])
        #expect(probe.code == 1 && probe.stderr.contains("promoted model version 1"), "\(probe.code) \(probe.stderr)")

        let repaired = try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m1.ckpt").path])
        #expect(
            repaired.code == 0 && repaired.stdout.contains("version 1 already holds this checkpoint"),
            "\(repaired.stdout) \(repaired.stderr)")
        _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 1 }
        let scores = try await client.score(rows: Self.rows)
        let expected1 = try f.predicted("m1.ckpt")
        #expect(scores.modelVersion == 1 && Self.close(scores.values, expected1))
        #expect(try runTool("recpool", ["health", "--broker", broker]).code == 0)
    }

    @Test("a worker that outlives its registry is unverified under a fresh one: health says unhealthy for SCORE, healthy for TRAIN_ROUND")
    func healthCountsOnlyWorkersThatTakeWork() async throws {
        let f = try Fixture()
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", f.state])
        let broker = cluster.endpoints.frontend
        #expect(try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m1.ckpt").path, "--promote"]).code == 0)
        try cluster.startWorker("w", extra: ["--input-width", "3"])
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 1 }
        #expect(try runTool("recpool", ["health", "--broker", broker]).code == 0)

        // Another broker on the same endpoints with an empty registry: the worker still claims version 1.
        _ = cluster.kill("broker", signal: SIGKILL)
        try cluster.startBroker(frontend: broker, backend: cluster.endpoints.backend, extra: ["--state-dir", f.path("fresh").path])
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(status.promotedVersion == nil)
        #expect(status.workers[0].modelVersion == 1 && status.workers[0].modelSource == "unverified")
        #expect(status.workers[0].waitingForVersion == nil)
        // The broker dispatches no scoring to it, and the probe agrees.
        #expect(await Self.scoreFailure(client) != nil)
        let probe = try runTool("recpool", ["health", "--broker", broker])
        #expect(probe.code == 1 && probe.stderr.contains("unverified") && probe.stderr.contains("w claims version 1"),
            "\(probe.code) \(probe.stderr)")
        let recommend = try runTool("recpool", ["health", "--broker", broker, "--service", "RECOMMEND"])
        #expect(recommend.code == 1, "\(recommend.stdout)")
        // Training rounds carry their own weights: the broker hands them to this worker, so TRAIN_ROUND is healthy.
        let train = try runTool("recpool", ["health", "--broker", broker, "--service", "TRAIN_ROUND"])
        #expect(train.code == 0 && train.stdout.contains("1 live worker(s) serve TRAIN_ROUND"), "\(train.code) \(train.stderr)")

        // Promoting a version of the fresh registry replaces the unverified weights; the probe turns healthy.
        #expect(try runTool("recpool", ["import", "--broker", broker, "--model", f.path("m2.ckpt").path, "--promote"]).code == 0)
        _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelSource == "registry" && $0.workers.first?.waitingForVersion == nil }
        #expect(try runTool("recpool", ["health", "--broker", broker]).code == 0)
    }

    /// Two brokers on one state directory both resumed its unfinished jobs and registered a model version each for the
    /// same job; the second one now refuses to start, naming the first one's pid, and the first keeps serving.
    @Test("a second broker on a state directory in use refuses to start (exit 73) naming the holder's pid")
    func stateDirectoryInUse() async throws {
        let f = try Fixture()
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", f.state])
        let holder = try #require(cluster.pid("broker"))
        let second = try runTool(
            "recpool-broker",
            ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--state-dir", f.state, "--log-level", "error"])
        #expect(second.code == 73)
        #expect(second.stderr.contains("is in use by pid \(holder)"), "\(second.stderr)")
        #expect(second.stdout.isEmpty, "the second broker announced endpoints")
        let local = try runTool("recpool", ["local", "--workers", "1", "--state-dir", f.state, "--frontend", "tcp://127.0.0.1:*"])
        #expect(local.code != 0 && local.stderr.contains("in use by pid \(holder)"), "\(local.code) \(local.stderr)")
        #expect(try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m1.ckpt").path]).code == 0)
        // Once the holder has stopped, the directory opens again.
        #expect(cluster.kill("broker", signal: SIGTERM) == 0)
        try cluster.startBroker(extra: ["--state-dir", f.state])
        let client = try await cluster.client()
        defer { client.close() }
    }

    @Test("a broker whose database has a damaged page refuses to start: exit 65 and how to recover")
    func damagedDatabase() throws {
        let f = try Fixture()
        do {
            let cluster = ProcessCluster()
            defer { cluster.stop() }
            try cluster.startBroker(extra: ["--state-dir", f.state])
            #expect(try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m1.ckpt").path, "--promote"]).code == 0)
            #expect(cluster.kill("broker", signal: SIGTERM) == 0)
        }
        let database = "\(f.state)/recpool.sqlite"
        try? FileManager.default.removeItem(atPath: database + "-wal")
        try? FileManager.default.removeItem(atPath: database + "-shm")
        // Six bytes of page 1's b-tree header (just after the 100-byte file header), which holds the schema.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: database)))
        #expect(bytes.count >= 4096)
        for i in 100..<106 { bytes[i] ^= 0xA5 }
        try Data(bytes).write(to: URL(fileURLWithPath: database))
        let started = try runTool(
            "recpool-broker",
            ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--state-dir", f.state, "--log-level", "error"])
        #expect(started.code == 65)
        // SQLite's own finding (quick_check's, or its refusal to open the file) and how to recover.
        #expect(started.stderr.contains("is corrupt: ") && started.stderr.contains("restore"), "\(started.stderr)")
        #expect(started.stdout.isEmpty, "the broker announced endpoints from a damaged state directory")
    }

    @Test("on a full state directory an upload is refused naming the space, leaves nothing, and succeeds once space is back")
    func fullDiskUpload() async throws {
        let f = try Fixture()
        let state = f.state
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        guard mount("tmpfs", state, "tmpfs", 0, "size=2m") == 0 else {
            Issue.record("cannot mount a tmpfs (run as root): \(String(cString: strerror(errno)))")
            return
        }
        defer { umount2(state, Int32(MNT_DETACH)) }
        // A 3 MB dataset on a 2 MiB state directory.
        var csv = "a,b,c,label\n"
        var i = 0
        while csv.utf8.count < 3_000_000 {
            csv += "\(Float(i % 10) / 10),\(Float(i % 7) / 7),\(Float(i % 3) / 3),\(i % 2)\n"
            i += 1
        }
        let big = f.path("big.csv")
        try csv.write(to: big, atomically: true, encoding: .utf8)
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", state])
        let broker = cluster.endpoints.frontend
        let refused = try runTool("recpool", ["train", "--broker", broker, "--dataset", big.path])
        #expect(refused.code != 0)
        #expect(refused.stderr.contains("no space") && refused.stderr.contains("discarded"), "\(refused.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(state)/blobs").filter { $0.hasSuffix(".part") }
        #expect(leftovers.isEmpty)
        // More space: the same command now uploads from the start and the job is accepted.
        #expect(mount("tmpfs", state, "tmpfs", UInt(MS_REMOUNT), "size=16m") == 0)
        let accepted = try runTool("recpool", ["train", "--broker", broker, "--dataset", big.path])
        #expect(accepted.code == 0, "\(accepted.stderr)")
        #expect(accepted.stdout.contains("job-1"), "\(accepted.stdout)")
    }

    @Test("with the state directory full, every slate acknowledged OK takes feedback once space is back; the rest say they were not logged")
    func fullDiskImpressions() async throws {
        let temporary = try TemporaryDirectory("fullonline")
        defer { temporary.remove() }
        let state = temporary.path
        guard mount("tmpfs", state, "tmpfs", 0, "size=16m") == 0 else {
            Issue.record("cannot mount a tmpfs (run as root): \(String(cString: strerror(errno)))")
            return
        }
        defer { umount2(state, Int32(MNT_DETACH)) }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", state, "--online", "--online-sync-interval-ms", "600000"], workers: ["a"]) { cluster, client in
            _ = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
            let driver = OnlineDriver(client: client, seed: 3)
            // Fill the disk.
            var info = statvfs()
            #expect(statvfs(state, &info) == 0)
            let free = Int(info.f_bavail) * Int(info.f_frsize)
            try Data(count: free).write(to: URL(fileURLWithPath: "\(state)/filler"))
            var served: [PolicyRecommendation] = []
            var refusals: [String] = []
            for i in 0..<300 {
                do {
                    served.append(try await driver.recommend(["user_feature_0": "u0_0\(i % 10)"]))
                } catch {
                    refusals.append("\(error)")
                }
            }
            #expect(!refusals.isEmpty, "the full disk was never hit: nothing was tested")
            #expect(refusals.allSatisfy { $0.contains("not logged") && $0.contains("feedback") }, "\(refusals.prefix(2))")
            try FileManager.default.removeItem(atPath: "\(state)/filler")
            var notFound = 0
            for slate in served {
                do {
                    _ = try await driver.feedback(slate.impressionId, item: slate.items[0].item, click: 1)
                } catch {
                    notFound += 1
                }
            }
            #expect(notFound == 0, "\(notFound) of \(served.count) acknowledged slates lost their impression")
        }
    }

    @Test("a fleet of two widths answers every request; status shows the width served now, after a promotion of another width")
    func widths() async throws {
        let f = try Fixture()
        var wide = "a,b,c,d,label\n"
        for i in 0..<120 { wide += "\(Float(i % 10) / 10),\(Float(i % 7) / 7),\(Float(i % 3) / 3),\(Float(i % 5) / 5),\(i % 2)\n" }
        try wide.write(to: f.path("wide.csv"), atomically: true, encoding: .utf8)
        let fit = try runTool("recpool", ["fit", "--dataset", f.path("wide.csv").path, "--out", f.path("wide.ckpt").path, "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", f.state])
        try cluster.startWorker("narrow", extra: ["--model", f.path("m1.ckpt").path])
        try cluster.startWorker("wide", extra: ["--model", f.path("wide.ckpt").path])
        let client = try await cluster.client()
        defer { client.close() }
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
        #expect(Set(status.workers.map(\.inputWidth)) == [3, 4])
        for i in 0..<20 {
            let narrow = try await client.score(rows: [[Float(i) / 20, 0.5, 0.5]])
            let wide = try await client.score(rows: [[Float(i) / 20, 0.5, 0.5, 0.5]])
            #expect(narrow.values.count == 1 && wide.values.count == 1)
        }
        // Promote a 3-wide model: the 4-wide worker loads it, and status shows width 3 for both.
        let imported = try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m2.ckpt").path, "--promote"])
        #expect(imported.code == 0, "\(imported.stderr)")
        let after = try await cluster.waitForStatus(client) { $0.workers.allSatisfy { $0.modelVersion == 1 } }
        #expect(after.workers.map(\.inputWidth) == [3, 3])
        let refused = await Self.scoreFailure(client, rows: [[0.5, 0.5, 0.5, 0.5]])
        #expect(refused?.contains("rows have 4 features") == true, "\(refused ?? "answered")")
    }

    @Test("a worker holding v1 of another registry is not served as this registry's v1: it is sent this v1 and then answers with it")
    func versionFromAnotherRegistry() async throws {
        let f = try Fixture()
        let other = f.path("other").path
        // State directory `other`: version 1 is m2.
        do {
            let cluster = ProcessCluster()
            defer { cluster.stop() }
            try cluster.startBroker(extra: ["--state-dir", other])
            let imported = try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m2.ckpt").path, "--promote"])
            #expect(imported.code == 0, "\(imported.stderr)")
        }
        // State directory `state`: version 1 is m1, and the worker loads it.
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", f.state])
        try cluster.startWorker("w", extra: ["--input-width", "3"])
        var client = try await cluster.client()
        #expect(try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", f.path("m1.ckpt").path, "--promote"]).code == 0)
        let m1 = try f.sha("m1.ckpt")
        _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelSha256 == m1 }
        client.close()
        // The broker comes back on the same endpoints with the other state directory.
        let endpoints = cluster.endpoints
        cluster.kill("broker", signal: SIGKILL)
        try cluster.startBroker(frontend: endpoints.frontend, backend: endpoints.backend, extra: ["--state-dir", other])
        client = try await cluster.client()
        defer { client.close() }
        let m2 = try f.sha("m2.ckpt")
        let status = try await cluster.waitForStatus(client) { $0.workers.first?.modelSha256 == m2 }
        #expect(status.workers[0].modelVersion == 1 && status.workers[0].modelSource == "registry")
        let pinned = try await client.score(rows: Self.rows, version: .exactly(1))
        let expected = try f.predicted("m2.ckpt")
        #expect(pinned.modelVersion == 1 && Self.close(pinned.values, expected), "v1 was answered by another registry's v1")
    }
}
