import Foundation
import RecClient
import RecData
import RecTransport
import RecWire
import Testing

/// Online learning end to end: a broker with `--online`, workers serving the policy, clients giving feedback.
///
/// These need the broker side (`--online`, FEEDBACK, the online CONTROL operations) and the worker side
/// (POLICY install, policy RECOMMEND replies, LEARN) of issue #9.
@Suite("Online learning end to end", .serialized)
struct OnlineLearningTests {
    /// A pool with online learning and two workers serving the policy; the caller stops the cluster.
    static func onlinePool(_ cluster: ProcessCluster, state: URL, extra: [String] = []) async throws -> RecPoolClient {
        let client = try await cluster.startPool(
            brokerArguments: ["--online", "--state-dir", state.path] + extra, workers: ["w1", "w2"])
        try await eventually(pollMs: 50, "two replicas serving the policy") {
            (try? await client.online(timeoutMs: 1000))?.replicas.count == 2
        }
        return client
    }

    static func temporaryDirectory(_ name: String) throws -> URL { try TemporaryDirectory(name).url }

    @Test("a policy recommendation takes feedback once per shown item; bad feedback is a typed refusal")
    func recommendAndFeedback() async throws {
        let state = try Self.temporaryDirectory("online-feedback")
        defer { try? FileManager.default.removeItem(at: state) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await Self.onlinePool(cluster, state: state)
        defer { client.close() }

        let query = Array(#"{"user_features":{"user_feature_0":"u0_01","user_feature_2":"u2_05"},"top":3}"#.utf8)
        let slate = try await client.recommendPolicy(document: query)
        #expect(!slate.impressionId.isEmpty && slate.source == "policy" && slate.modelVersion >= 1)
        #expect(slate.items.count == 3 && Set(slate.items.map(\.item)).count == 3)
        #expect(slate.items.allSatisfy { $0.propensity > 0 && $0.propensity <= 1 })
        #expect(slate.items.map(\.position) == [0, 1, 2])

        for (index, item) in slate.items.enumerated() {
            let reply = try await client.feedback(
                impressionId: slate.impressionId, item: item.item, click: index == 0 ? 1 : 0)
            #expect(reply.item == item.item && !reply.duplicate)
        }
        let again = try await client.feedback(impressionId: slate.impressionId, item: slate.items[0].item, click: 1)
        #expect(again.duplicate)

        let unknown = await clientError {
            try await client.feedback(impressionId: "no-such-impression", item: 1, click: 0)
        }
        #expect(unknown?.statusName == "NOT_FOUND")
        let outside = (0..<40).first { item in !slate.items.contains { $0.item == item } }!
        let notShown = await clientError {
            try await client.feedback(impressionId: slate.impressionId, item: outside, click: 1)
        }
        #expect(notShown?.statusName == "BAD_REQUEST")
        let malformed = await clientError {
            try await client.feedback(impressionId: slate.impressionId, item: 1, click: 2)
        }
        #expect(malformed == .invalidRequest("click must be 0 or 1, got 2"))

        let view = try await client.online()
        #expect(view.enabled && view.impressions >= 1 && view.feedback == 3 && view.duplicates == 1)
        let (install, pack) = try await client.onlinePolicy()
        // The interval sync may merge the three events and install a newer version between the two reads.
        #expect(install.version >= view.version && install.spec.itemCount == 40 && pack["a"] != nil)
        let page = try await client.impressions(after: nil, limit: 10)
        let logged = try #require(page.impressions.first { $0.record.impressionId == slate.impressionId })
        #expect(logged.record.slate == slate.items.map(\.item))
        #expect(
            logged.clicks
                == Dictionary(uniqueKeysWithValues: slate.items.enumerated().map { (String($1.item), $0 == 0 ? 1 : 0) })
        )
    }

    @Test("recpool online sync with nothing learnt: an empty sync, neither accepted nor rejected, last_sync_ms set")
    func emptySync() async throws {
        let state = try Self.temporaryDirectory("online-empty-sync")
        defer { try? FileManager.default.removeItem(at: state) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await Self.onlinePool(cluster, state: state)
        defer { client.close() }
        let broker = cluster.endpoints.frontend
        // No feedback was ever given: no replica learnt anything, so no sync starts on its own.
        let sync = try runTool("recpool", ["online", "sync", "--broker", broker, "--json"])
        #expect(sync.code == 0, "\(sync.stderr)")
        let view = try WireJSON.decode(OnlineView.self, from: Array(sync.stdout.utf8))
        #expect(view.syncs == 0 && view.rejected == 0 && view.emptySyncs == 1, "\(sync.stdout)")
        #expect(view.lastSyncMs > 0 && view.lastDecision == nil && view.version == 1)
        #expect(sync.stdout.contains("\"empty_syncs\":1"))
        let text = try runTool("recpool", ["online", "status", "--broker", broker])
        #expect(text.stdout.contains("syncs 0 accepted, 0 rejected, 1 with nothing to merge"), "\(text.stdout)")
        // With nothing pending no sync starts on its own: said, never "next after N ms" as though a timer ran.
        #expect(text.stdout.contains("; next once feedback arrives, then after "), "\(text.stdout)")
    }

    @Test("the command line: recommend, feedback and online --json print the documented keys; freeze toggles")
    func commandLine() async throws {
        let state = try Self.temporaryDirectory("online-cli")
        defer { try? FileManager.default.removeItem(at: state) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await Self.onlinePool(cluster, state: state)
        defer { client.close() }
        let broker = cluster.endpoints.frontend

        let recommend = try runTool(
            "recpool",
            ["recommend", "--broker", broker, "--user-features", "user_feature_1=u1_02", "--top", "3", "--json"])
        #expect(recommend.code == 0, "\(recommend.stderr)")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(recommend.stdout.utf8)) as? [String: Any])
        for key in ["impression_id", "items", "model_version", "source", "exploration"] {
            #expect(reply[key] != nil, "\(key)")
        }
        let items = try #require(reply["items"] as? [[String: Any]])
        for key in ["item", "position", "score", "propensity"] {
            #expect(items.allSatisfy { $0[key] != nil }, "\(key)")
        }
        let impression = try #require(reply["impression_id"] as? String)
        let item = try #require(items.first?["item"] as? Int)

        // A value holding a comma goes whole through --user-feature (a shop's declared value may hold one); split by
        // --user-features it is two pairs, the second not NAME=VALUE.
        let comma = try runTool(
            "recpool",
            ["recommend", "--broker", broker, "--user-feature", "user_feature_1=u1,02", "--user-feature", "user_feature_0=u0_01", "--top", "3"])
        #expect(comma.code == 0, "\(comma.stderr)")
        let split = try runTool("recpool", ["recommend", "--broker", broker, "--user-features", "user_feature_1=u1,02"])
        #expect(split.code == 64 && split.stderr.contains("--user-features: \"02\" is not NAME=VALUE"), "\(split.stderr)")
        let twice = try runTool(
            "recpool",
            ["recommend", "--broker", broker, "--user-features", "user_feature_1=a", "--user-feature", "user_feature_1=b"])
        #expect(twice.code == 64 && twice.stderr.contains("--user-feature: user_feature_1 is given twice"), "\(twice.stderr)")
        // `NAME=` is the empty value, which RECOMMEND takes from the Python client too; `=x` names no feature.
        let empty = try runTool("recpool", ["recommend", "--broker", broker, "--user-feature", "user_feature_0=", "--top", "3"])
        #expect(empty.code == 0, "\(empty.stderr)")
        let unnamed = try runTool("recpool", ["recommend", "--broker", broker, "--user-feature", "=x"])
        #expect(unnamed.code == 64 && unnamed.stderr.contains("is not NAME=VALUE"), "\(unnamed.stderr)")

        let text = try runTool("recpool", ["recommend", "--broker", broker, "--top", "3"])
        #expect(text.code == 0 && text.stdout.contains("impression ") && text.stdout.contains("propensity"))

        let feedback = try runTool(
            "recpool",
            [
                "feedback", "--broker", broker, "--impression", impression, "--item", "\(item)", "--click", "1",
                "--dwell", "12.5", "--json",
            ])
        #expect(feedback.code == 0, "\(feedback.stderr)")
        #expect(feedback.stdout.contains("\"duplicate\":false"))
        let missing = try runTool(
            "recpool", ["feedback", "--broker", broker, "--impression", "nope", "--item", "1", "--click", "0"])
        #expect(missing.code == 20 && missing.stderr.contains("NOT_FOUND"))

        let status = try runTool("recpool", ["online", "status", "--broker", broker, "--json"])
        #expect(status.code == 0, "\(status.stderr)")
        let view = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        for key in [
            "enabled", "frozen", "version", "weights_sha256", "syncs", "rejected", "empty_syncs", "last_sync_ms",
            "sync_interval_ms",
            "sync_events", "impressions", "feedback", "duplicates", "pending_events", "unlearnt_events", "replicas",
        ] {
            #expect(view[key] != nil, "missing \(key)")
        }
        let frozen = try runTool("recpool", ["online", "freeze", "--broker", broker, "--json"])
        #expect(frozen.code == 0 && frozen.stdout.contains("\"frozen\":true"), "\(frozen.stderr)")
        let thawed = try runTool("recpool", ["online", "unfreeze", "--broker", broker, "--json"])
        #expect(thawed.code == 0 && thawed.stdout.contains("\"frozen\":false"), "\(thawed.stderr)")
        let human = try runTool("recpool", ["online", "--broker", broker])
        #expect(human.code == 0 && human.stdout.contains("version"))
    }

    @Test("simulated users make the pool learn, and the exported log loads back with its schema")
    func simulateAndExport() async throws {
        let state = try Self.temporaryDirectory("online-sim")
        defer { try? FileManager.default.removeItem(at: state) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await Self.onlinePool(cluster, state: state, extra: ["--online-sync-events", "300"])
        defer { client.close() }
        let broker = cluster.endpoints.frontend
        let report = state.appendingPathComponent("sim.html").path

        let run = try runTool(
            "recpool",
            [
                "simulate", "--broker", broker, "--users", "5000", "--seed", "21", "--concurrency", "2", "--json",
                "--report", report, "--quiet", "--timeout-ms", "20000",
            ])
        #expect(run.code == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let served = try #require(result["served"] as? Int)
        let first = try #require(result["ctr_first_fifth"] as? Double)
        let last = try #require(result["ctr_last_fifth"] as? Double)
        let random = try #require(result["random_ctr"] as? Double)
        #expect(served == 5000)
        #expect((result["errors"] as? [String: Int])?.isEmpty == true, "\(result["errors"] ?? "")")
        #expect(result["feedback_sent"] as? Int == 3 * 5000)
        // Seed 21 on this world: random ≈ 0.07, an untrained policy ≈ 0.07–0.10 early on, and a learning pool
        // reaches ≈ 0.16 by the last fifth; each fifth's CTR has a standard error near 0.009, so these margins
        // sit several standard errors inside the measured gaps.
        #expect(last > random + 0.04, "last fifth \(last), random \(random)")
        #expect(last > first + 0.03, "first fifth \(first), last fifth \(last)")
        #expect((result["last_version"] as? Int ?? 0) > 1, "no sync was accepted")
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("<svg"))

        // The export creates its folder and writes its schema next to the data.
        let out = state.appendingPathComponent("export/impressions.csv")
        let export = try runTool("recpool", ["logs", "export", "--broker", broker, "--out", out.path, "--json"])
        #expect(export.code == 0, "\(export.stderr)")
        let folder = out.deletingLastPathComponent()
        let data = try LogLoader.load(
            logFile: out.path, catalogueFile: folder.appendingPathComponent("item_context.csv").path,
            schema: try DataSchema.read(path: folder.appendingPathComponent("schema.toml").path), name: "export")
        #expect(data.rows == 3 * 5000)
        #expect(data.nActions == 40 && data.nPositions == 3)
        #expect(data.pscore.allSatisfy { $0 > 0 && $0 <= 1 })
    }
}
