import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// What the replicas learnt since the last sync survives any restart: the broker stores which feedback a finished
/// sync consumed and hands the rest to the replicas again when it starts.
@Suite("Learning across restarts", .serialized)
struct RestartLearningTests {
    /// The lines of the broker's log that contain `message`.
    static func lines(_ log: URL, _ message: String) -> [Substring] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains(message) }
    }

    /// Replicas `a` and `b` under a broker that syncs only when asked (no interval, no event count), so every event
    /// stays unsynced until the test's own sync; the broker logs at info to `log`.
    static func poolSyncingOnRequest(_ cluster: ProcessCluster, folder: TemporaryDirectory, log: URL) async throws
        -> RecPoolClient
    {
        cluster.brokerLog = log
        return try await cluster.startPool(
            brokerArguments: [
                "--state-dir", folder.path + "/state", "--online", "--online-sync-interval-ms", "600000",
                "--online-sync-events", "100000", "--log-level", "info",
            ],
            workers: ["a", "b"])
    }

    @Test("a whole-pool restart before any sync loses no learning: the events are learnt after it, and only once")
    func wholePoolRestart() async throws {
        let folder = try TemporaryDirectory("online-restart-learning")
        defer { folder.remove() }
        let log = folder.file("broker.log")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await Self.poolSyncingOnRequest(cluster, folder: folder, log: log)
        defer { client.close() }
        let first = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 2) }
        var driver = OnlineDriver(client: client, seed: 3)
        try await driver.users(40)
        #expect(driver.acknowledged == 120)
        _ = try await OnlinePoolTests.waitForOnline(client) { $0.pendingEvents == 120 }

        // The broker and both workers go down at once, before any sync: the replicas' learning is gone with them.
        _ = cluster.kill("a", signal: SIGKILL)
        _ = cluster.kill("b", signal: SIGKILL)
        try cluster.restartBroker()
        try cluster.startWorker("a")
        try cluster.startWorker("b")
        let reconnected = try await cluster.client()
        defer { reconnected.close() }
        // The stored events no sync consumed go to the new replicas again.
        let resumed = try await OnlinePoolTests.waitForOnline(reconnected) {
            OnlinePoolTests.converged($0, replicas: 2) && $0.pendingEvents == 120
        }
        #expect(resumed.version == first.version)
        #expect(Self.lines(log, "goes to the replicas again").contains { $0.contains("events=120") }, "\(resumed)")
        let synced = try await reconnected.control(
            ControlRequest(op: "online_sync"), as: OnlineView.self, timeoutMs: 30_000)
        #expect(synced.version == first.version + 1, "\(synced)")
        #expect(synced.emptySyncs == 0 && synced.lastDecision?.accepted == true, "\(synced)")
        #expect(
            Self.lines(log, "online sync accepted").contains { $0.contains("events=120") },
            "\(Self.lines(log, "online sync"))")

        // The sync consumed them: a broker restarted now hands nothing on again.
        try cluster.restartBroker()
        let again = try await cluster.client()
        defer { again.close() }
        let after = try await OnlinePoolTests.waitForOnline(again) {
            OnlinePoolTests.converged($0, replicas: 2) && $0.version == synced.version
        }
        #expect(after.pendingEvents == 0)
        #expect(Self.lines(log, "goes to the replicas again").isEmpty)
        // And the pool goes on learning from new feedback.
        var more = OnlineDriver(client: again, seed: 4)
        try await more.users(10)
        _ = try await OnlinePoolTests.waitForOnline(again) { $0.pendingEvents == 30 }
    }

    @Test("a freeze pauses learning and loses none: after unfreeze the sync merges every event learnt before it, once")
    func freezeLosesNoLearning() async throws {
        let folder = try TemporaryDirectory("online-freeze-learning")
        defer { folder.remove() }
        let log = folder.file("broker.log")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await Self.poolSyncingOnRequest(cluster, folder: folder, log: log)
        defer { client.close() }
        let first = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 2) }
        var driver = OnlineDriver(client: client, seed: 6)
        try await driver.users(40)
        _ = try await OnlinePoolTests.waitForOnline(client) { $0.pendingEvents == 120 }
        // The freeze's install resets the replicas' learners: the 120 events wait at the broker...
        let frozen = try await client.control(ControlRequest(op: "online_freeze"), as: OnlineView.self)
        #expect(frozen.frozen && frozen.pendingEvents == 0, "\(frozen)")
        // ...and feedback that arrives while frozen is stored, not learnt.
        try await driver.users(10)
        #expect(driver.acknowledged == 150)
        _ = try await client.control(ControlRequest(op: "online_unfreeze"), as: OnlineView.self)
        _ = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 2) && $0.pendingEvents == 120 }
        let synced = try await client.onlineSync(timeoutMs: 30_000)
        #expect(synced.version == first.version + 1, "\(synced)")
        #expect(
            Self.lines(log, "online sync accepted").contains { $0.contains("events=120") },
            "\(Self.lines(log, "online sync"))")
    }
}
