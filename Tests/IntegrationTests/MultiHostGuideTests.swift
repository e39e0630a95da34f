import Foundation
import RecClient
import RecTransport
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The multi-host guide in docs/OPERATIONS.md, followed step by step with one network namespace per
/// host: A runs the broker, B and C the first workers, D the worker added under load; the test
/// process is the operator's and the application's machine, reaching A through the bridge. The
/// namespaces have their own port spaces, so the guide's fixed ports (5555, 5556, 9100, 9101) are
/// used as written.
@Suite("Multi-host guide over network namespaces", .serialized)
struct MultiHostGuideTests {
    /// The guide's hosts.
    static func network() -> NamespaceNetwork {
        var network = NamespaceNetwork()
        network.subnet = "10.214.0"
        network.tag = "g"
        network.members = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
        return network
    }

    /// Runs `recpool` and expects exit 0.
    @discardableResult
    static func recpool(_ arguments: [String]) throws -> String {
        let result = try runTool("recpool", arguments)
        #expect(result.code == 0, "recpool \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    /// A worker's configuration file for host `host`, as in the guide's step 3.
    static func workerConfig(_ name: String, address: String, keys: String, broker: String) -> String {
        """
        [worker]
        broker = "tcp://\(broker):5556"
        id = "\(name)"
        curve-server-key = "\(keys)/broker.pub"
        curve-key = "\(keys)/\(name).key"
        metrics = "\(address):9101"
        input-width = 3
        log-format = "json"
        """
    }

    @Test(
        "keygen, config files per host, CURVE broker on A, workers on B and C, a worker added and one drained under load with no request lost, a version promoted and rolled back, metrics and health over the network",
        .enabled(if: NamespaceNetwork.permitted, "needs root and `ip netns add`"))
    func followTheGuide() async throws {
        let network = Self.network()
        defer { network.remove() }
        try network.create()
        let directory = try TrainingTests.makeDirectory("guide")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let brokerAddress = network.address("a")

        // Step 1: keys, one pair per role and host; allow-lists per role.
        for name in ["broker", "worker-b", "worker-c", "worker-d", "app", "ops"] {
            try Self.recpool(["keygen", "--out", keys, "--name", name])
        }
        func publicKey(_ name: String) throws -> String {
            try String(contentsOfFile: "\(keys)/\(name).pub", encoding: .utf8)
        }
        try (["worker-b", "worker-c", "worker-d"].map(publicKey).joined()).write(
            toFile: "\(keys)/workers.allow", atomically: true, encoding: .utf8)
        try publicKey("app").write(toFile: "\(keys)/clients.allow", atomically: true, encoding: .utf8)
        try publicKey("ops").write(toFile: "\(keys)/trainers.allow", atomically: true, encoding: .utf8)

        // Step 2: the broker on host A, from its configuration file.
        let brokerConfig = directory.appendingPathComponent("broker.toml").path
        try """
        [broker]
        frontend = "tcp://\(brokerAddress):5555"
        backend = "tcp://\(brokerAddress):5556"
        curve-key = "\(keys)/broker.key"
        allow-clients = "\(keys)/clients.allow"
        allow-trainers = "\(keys)/trainers.allow"
        allow-workers = "\(keys)/workers.allow"
        state-dir = "\(directory.path)/state"
        metrics = "\(brokerAddress):9100"
        log-format = "json"
        """.write(toFile: brokerConfig, atomically: true, encoding: .utf8)
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        cluster.namespaces = [
            "broker": network.namespace("a"), "worker-b": network.namespace("b"), "worker-c": network.namespace("c"),
            "worker-d": network.namespace("d"),
        ]
        try cluster.startBroker(arguments: ["--config", brokerConfig, "--exit-with-parent", "--log-level", "warning"])
        #expect(cluster.endpoints.frontend == "tcp://\(brokerAddress):5555")

        // Step 3: workers on hosts B and C.
        func startWorker(_ name: String, host: String) throws {
            let path = directory.appendingPathComponent("\(name).toml").path
            try Self.workerConfig(name, address: network.address(host), keys: keys, broker: brokerAddress)
                .write(toFile: path, atomically: true, encoding: .utf8)
            try cluster.startWorker(
                name, arguments: ["--config", path, "--exit-with-parent", "--log-level", "warning"])
        }
        try startWorker("worker-b", host: "b")
        try startWorker("worker-c", host: "c")

        // Step 4: the operator's client configuration, and the health probe.
        let ops = directory.appendingPathComponent("ops.toml").path
        try """
        [client]
        broker = "tcp://\(brokerAddress):5555"
        curve-server-key = "\(keys)/broker.pub"
        curve-key = "\(keys)/ops.key"
        """.write(toFile: ops, atomically: true, encoding: .utf8)
        var operatorOptions = RecPoolClient.Options()
        operatorOptions.socketOptions = try CurveKeyFile.clientOptions(
            serverKeyPath: "\(keys)/broker.pub", keyPath: "\(keys)/ops.key")
        let operatorClient = try await RecPoolClient(endpoint: cluster.endpoints.frontend, options: operatorOptions)
        defer { operatorClient.close() }
        _ = try await cluster.waitForStatus(operatorClient, timeoutMs: 15_000) { $0.workers.count == 2 }
        let health = try runTool("recpool", ["health"], environment: ["RECPOOL_CONFIG": ops])
        #expect(health.code == 0, "\(health.stderr)")

        // Step 5: the first model version, rolled out to every worker.
        let data = directory.appendingPathComponent("train.csv")
        try TrainingTests.writeCSV(data, rows: 120)
        for (name, seed) in [("m1", "1"), ("m2", "2")] {
            try Self.recpool([
                "fit", "--dataset", data.path, "--out", "\(directory.path)/\(name).ckpt", "--epochs", "1", "--seed",
                seed,
            ])
        }
        #expect(
            try Self.recpool(["import", "--config", ops, "--model", "\(directory.path)/m1.ckpt", "--promote"])
                .contains("imported and promoted version 1"))
        _ = try await cluster.waitForStatus(operatorClient, timeoutMs: 15_000) {
            $0.workers.count == 2 && $0.workers.allSatisfy { $0.modelVersion == 1 }
        }

        // The application scores under load with its own (client-role) key.
        var appOptions = RecPoolClient.Options()
        appOptions.socketOptions = try CurveKeyFile.clientOptions(
            serverKeyPath: "\(keys)/broker.pub", keyPath: "\(keys)/app.key")
        let app = try await RecPoolClient(endpoint: cluster.endpoints.frontend, options: appOptions)
        defer { app.close() }
        let load = SteadyLoad(client: app, lanes: 6, timeoutMs: 10_000, width: 3)
        try await load.waitForCompleted(200)

        // Step 6: add a worker on host D under load; it is brought to the promoted version.
        try startWorker("worker-d", host: "d")
        _ = try await cluster.waitForStatus(operatorClient, timeoutMs: 15_000) {
            $0.workers.count == 3 && $0.workers.allSatisfy { $0.modelVersion == 1 }
        }
        // Remove worker-b under load: it finishes what it holds, deregisters and exits 0.
        #expect(try Self.recpool(["drain", "worker-b", "--config", ops]).contains("draining worker-b"))
        #expect(cluster.waitForExit("worker-b", timeoutMs: 15_000) == 0)
        try await load.waitForCompleted(load.completed + 200)

        // Step 7: a new version: import, promote, and roll back.
        #expect(
            try Self.recpool(["import", "--config", ops, "--model", "\(directory.path)/m2.ckpt"])
                .contains("imported version 2"))
        try Self.recpool(["promote", "2", "--config", ops])
        _ = try await cluster.waitForStatus(operatorClient, timeoutMs: 15_000) {
            $0.workers.count == 2 && $0.workers.allSatisfy { $0.modelVersion == 2 }
        }
        try await load.waitForCompleted(load.completed + 100)
        try Self.recpool(["rollback", "--config", ops])
        let rolledBack = try await cluster.waitForStatus(operatorClient, timeoutMs: 15_000) {
            $0.workers.count == 2 && $0.workers.allSatisfy { $0.modelVersion == 1 }
        }
        try await load.waitForCompleted(load.completed + 100)
        let outcomes = await load.stop()
        #expect(outcomes.keys.sorted() == ["OK"], "no request may be lost: \(outcomes)")
        #expect(rolledBack.counters["dropped_worker_lost"] == nil)
        #expect(Set(rolledBack.workers.map(\.id)) == ["worker-c", "worker-d"])
        #expect(rolledBack.workers.allSatisfy { !$0.host.isEmpty })

        // Step 8: metrics, scraped over the network from the broker (A) and a worker (C).
        let brokerMetrics = try await Self.scrape("http://\(brokerAddress):9100/metrics")
        #expect(brokerMetrics["recpool_broker_live_workers"] == 2)
        #expect((brokerMetrics["recpool_broker_requests_total{service=\"score\"}"] ?? 0) >= 600)
        let workerMetrics = try await Self.scrape("http://\(network.address("c")):9101/metrics")
        #expect(workerMetrics["recpool_worker_model_version"] == 1)
        #expect((workerMetrics["recpool_worker_rows_total"] ?? 0) > 0)

        // Step 9: status with hosts, and health, from the operator's machine.
        let status = try runTool("recpool", ["status"], environment: ["RECPOOL_CONFIG": ops])
        #expect(
            status.stdout.contains("HOST") && status.stdout.contains("worker-c") && status.stdout.contains("worker-d"))
        try Self.recpool(["health", "--config", ops])
        #expect(cluster.kill("worker-c", signal: SIGTERM) == 0)
        #expect(cluster.kill("worker-d", signal: SIGTERM) == 0)
        #expect(cluster.kill("broker", signal: SIGTERM) == 0)
    }

    static func scrape(_ url: String) async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return try MetricsTests.parse(String(decoding: data, as: UTF8.self))
    }
}
