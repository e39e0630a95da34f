import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// A warm start on a real pool: OBD's 80-item catalogue registered, `recpool policy warmstart` trains the served
/// policy on `random/all`'s logs, prints its off-policy check and registers it; the broker stores it as the next
/// version recording the catalogue version, every replica serves it, online learning continues from it, and a policy
/// trained for another catalogue version is refused.
@Suite("Warm start from logs", .serialized)
struct WarmStartTests {
    /// A pool of `workers` whose broker (restarted once the catalogue of `schema` is uploaded) serves it online with
    /// `--online-catalogue latest` and the flags `online`; `body` runs once every replica serves policy version 1, with
    /// the cluster and a client.
    static func servingRegistry(
        schema: String, state: String, workers: [String], online: [String] = [],
        _ body: @escaping (_ cluster: ProcessCluster, _ client: RecPoolClient) async throws -> Void
    ) async throws {
        try await ProcessCluster.withPool(brokerArguments: ["--state-dir", state], workers: workers) { cluster, _ in
            let frontend = cluster.endpoints.frontend
            _ = try CatalogueRegistryTests.catalogue(frontend, ["upload", "--schema", schema], as: CatalogueView.self)
            _ = cluster.kill("broker", signal: SIGKILL)
            try cluster.startBroker(
                frontend: frontend, backend: cluster.endpoints.backend,
                extra: ["--state-dir", state, "--online", "--online-catalogue", "latest"] + online)
            let client = try await cluster.client(timeoutMs: 10_000)
            defer { client.close() }
            try await eventually(timeoutMs: 60_000, pollMs: 200, "every replica serves version 1") {
                let view = try await client.online()
                return view.replicas.count == workers.count && view.replicas.allSatisfy { $0.version == 1 }
            }
            try await body(cluster, client)
        }
    }

    @Test(
        "warm start → register → the pool serves it with its catalogue version and keeps learning; a mismatch is refused",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func warmStartIsRegisteredAndServed() async throws {
        let folder = try TemporaryDirectory("warm-start")
        defer { folder.remove() }
        let schema = try CatalogueRegistryTests.schema(in: folder.path)
        let state = folder.path + "/state"
        let dataDir = CatalogueRegistryTests.root.appendingPathComponent("data").path
        try await Self.servingRegistry(
            schema: schema, state: state, workers: ["w1", "w2"], online: ["--online-sync-events", "30"]
        ) { cluster, client in
            let frontend = cluster.endpoints.frontend
            #expect(try await client.online().catalogueVersion == 1)

            // The command refuses to train for a catalogue the pool does not serve.
            let wrong = try runTool(
                "recpool",
                ["policy", "warmstart", "obd:random/all", "--catalogue", "2", "--data-dir", dataDir, "--broker", frontend])
            #expect(wrong.code == 20 && wrong.stderr.contains("no catalogue version 2"), "\(wrong.stderr)")
            #expect(wrong.stderr.contains("serves catalogue version 1"), "\(wrong.stderr)")
            // The pool is asked before the log is read: the catalogue is refused even when the log is not there.
            let unread = try runTool(
                "recpool",
                ["policy", "warmstart", "no-such-log.csv", "--catalogue", "2", "--broker", frontend])
            #expect(unread.code == 20 && unread.stderr.contains("no catalogue version 2"), "\(unread.stderr)")

            let run = try runTool(
                "recpool",
                [
                    "policy", "warmstart", "obd:random/all", "--catalogue", "1", "--register", "--resamples", "100",
                    "--json", "--data-dir", dataDir, "--broker", frontend,
                ])
            #expect(run.code == 0, "\(run.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            #expect(report["registered_version"] as? Int == 2)
            #expect(report["catalogue_version"] as? Int == 1 && report["start_version"] as? Int == 1)
            #expect(report["trained_rows"] as? Int == 6_000 && report["evaluated_rows"] as? Int == 999)
            let evaluation = try #require(report["evaluation"] as? [String: Any])
            #expect(evaluation["logging_value"] is Double && evaluation["logging_interval"] is [String: Any])
            let candidate = try #require(evaluation["candidate"] as? [String: Any])
            let all = try #require((candidate["segments"] as? [[String: Any]])?.first { $0["segment"] as? String == "all" })
            let estimators = (all["estimates"] as? [[String: Any]] ?? []).compactMap { $0["estimator"] as? String }
            #expect(estimators == ["dm", "ipw", "snipw", "dr"])
            // Only the first slot's rows of the 3,000 held out (999, with 4 of their 10 clicks; pandas counts the
            // same): too few clicks fall on the items the policy favours to compare.
            #expect(report["verdict"] as? String == "too_few_clicks", "\(String(describing: report["verdict"]))")
            #expect(report["resamples"] as? Int == 100 && report["no_interval_reason"] is NSNull)
            #expect((evaluation["favoured_clicks"] as? Int ?? 99) < 10 && evaluation["clicks"] as? Int == 4)

            // Stored and served: version 2 records catalogue version 1, every replica installs it.
            try await eventually(timeoutMs: 30_000, pollMs: 200, "both replicas serve the warm start") {
                let view = try await client.online()
                return view.version == 2 && view.replicas.count == 2
                    && view.replicas.allSatisfy { $0.version == 2 && $0.weightsSha256 == view.weightsSha256 }
            }
            let view = try await client.online()
            #expect(view.catalogueVersion == 1)
            #expect(view.lastDecision?.reason.contains("warm start") == true, "\(String(describing: view.lastDecision))")
            let status = try runTool("recpool", ["online", "status", "--broker", frontend])
            #expect(status.stdout.contains("version 2") && status.stdout.contains("catalogue version 1"), "\(status.stdout)")

            // A policy trained for another catalogue version is refused, typed, and changes nothing.
            let (_, pack) = try await client.onlinePolicy()
            do {
                _ = try await client.onlineRegister(pack, catalogueVersion: 7, startVersion: 2)
                Issue.record("a policy for catalogue version 7 was registered")
            } catch let error as ClientError {
                guard case .server(let status, let message, _) = error else { throw error }
                #expect(status == .conflict && message.contains("catalogue version 7") && message.contains("serves catalogue version 1"))
            }
            #expect(try await client.online().version == 2)

            // Serving and learning continue from the warm start: slates come from version 2, then a sync on their
            // feedback makes version 3, still on catalogue version 1.
            for user in try CatalogueRegistryTests.visitors(40) {
                let query = try JSONSerialization.data(withJSONObject: ["user_features": user, "top": 3])
                let slate = try await client.recommendPolicy(document: Array(query))
                #expect(slate.modelVersion >= 2)
                for item in slate.items {
                    _ = try await client.feedback(
                        impressionId: slate.impressionId, item: item.item, click: item.position == 0 ? 1 : 0)
                }
            }
            try await eventually(timeoutMs: 30_000, pollMs: 200, "a sync learns on top of the warm start") {
                try await client.online().version >= 3
            }
            #expect(try await client.online().catalogueVersion == 1)

            // After a restart the pool resumes the newest version on the same catalogue version.
            _ = cluster.kill("broker", signal: SIGKILL)
            try cluster.startBroker(
                frontend: frontend, backend: cluster.endpoints.backend,
                extra: ["--state-dir", state, "--online", "--online-catalogue", "latest"])
            let resumed = try await eventuallyValue(timeoutMs: 30_000, pollMs: 200, "the restarted broker answers") {
                try? await client.online()
            }
            #expect(resumed.version >= 3 && resumed.catalogueVersion == 1)

            // Logs of catalogue version 1 fit its later versions: the refusal names the version to pass.
            let added = try CatalogueRegistryTests.catalogue(
                frontend, ["add", "NEW-1", "--field", "item_feature_0=0.25"], as: CatalogueView.self)
            #expect(added.version == 2)
            try await eventually(timeoutMs: 30_000, pollMs: 200, "the policy serves catalogue version 2") {
                try await client.online().catalogueVersion == 2
            }
            let earlier = try runTool(
                "recpool",
                ["policy", "warmstart", "obd:random/all", "--catalogue", "1", "--data-dir", dataDir, "--broker", frontend])
            #expect(earlier.code == 21 && earlier.stderr.contains("pass --catalogue 2"), "\(earlier.stderr)")
            let zero = try runTool("recpool", ["policy", "warmstart", "obd:random/all", "--catalogue", "0", "--broker", frontend])
            #expect(zero.code == 64 && zero.stderr.contains("from 1"), "\(zero.stderr)")
        }
    }

    /// A schema that declares 64 values of one user feature: the policy serves it (1,806 interaction features), but
    /// its weights (about 20 MB) are more than a client may send, so `--register` is refused before the training,
    /// naming the cause, not answered TOO_LARGE after it (found by a tour).
    @Test(
        "warm start --register of a policy whose weights a client may not send is refused before training, naming why",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func tooWideToRegister() async throws {
        let folder = try TemporaryDirectory("warm-start-wide")
        defer { folder.remove() }
        let path = try CatalogueRegistryTests.schema(in: folder.path)
        let values = (0..<64).map { "\"v\($0)\"" }.joined(separator: ", ")
        let wide = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
            of: "user_feature_0 = \"categorical\"", with: "user_feature_0 = { kind = \"categorical\", values = [\(values)] }")
        try wide.write(toFile: path, atomically: true, encoding: .utf8)
        let state = folder.path + "/state"
        let dataDir = CatalogueRegistryTests.root.appendingPathComponent("data").path
        try await Self.servingRegistry(schema: path, state: state, workers: ["w1"]) { cluster, client in
            let frontend = cluster.endpoints.frontend
            let run = try runTool(
                "recpool",
                [
                    "policy", "warmstart", "obd:random/all", "--catalogue", "1", "--register", "--data-dir", dataDir,
                    "--broker", frontend,
                ])
            #expect(run.code == 2, "\(run.stderr)")
            #expect(run.stderr.contains("--register: the policy's weights are") && run.stderr.contains("a client may send"))
            #expect(run.stderr.contains("89 user columns") && run.stderr.contains("declare fewer values"), "\(run.stderr)")
            #expect(try await client.online().version == 1, "nothing was registered")
        }
    }

    /// A warm start of a session DQN pool exited 2 (bad input), where every other refusal for the pool's state (no
    /// online learning, a registration the broker refuses) is CONFLICT, 21: the logs were fine.
    @Test(
        "warm start of a session DQN pool is refused CONFLICT (exit 21), naming the learner",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func sessionDQNPoolRefused() async throws {
        let folder = try TemporaryDirectory("warm-start-dqn")
        defer { folder.remove() }
        let path = try CatalogueRegistryTests.schema(in: folder.path)
        let state = folder.path + "/state"
        let dataDir = CatalogueRegistryTests.root.appendingPathComponent("data").path
        try await Self.servingRegistry(
            schema: path, state: state, workers: ["w1"], online: ["--online-learner", "session_dqn"]
        ) { cluster, client in
            let frontend = cluster.endpoints.frontend
            let run = try runTool(
                "recpool",
                ["policy", "warmstart", "obd:random/all", "--catalogue", "1", "--data-dir", dataDir, "--broker", frontend])
            #expect(run.code == 21, "\(run.code) \(run.stderr)")
            #expect(run.stderr.contains("this pool's learner is session_dqn"), "\(run.stderr)")
        }
    }
}
