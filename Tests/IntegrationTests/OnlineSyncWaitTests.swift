import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// `recpool online sync` (the client's `onlineSync`) while another sync is out waits for it and runs its own.
@Suite("Online sync while another is out", .serialized)
struct OnlineSyncWaitTests {
    @Test("a forced sync during another sync waits for it, then runs its own, instead of answering CONFLICT")
    func waitsForTheSyncInProgress() async throws {
        let folder = try TemporaryDirectory("online-sync-wait")
        defer { folder.remove() }
        try await ProcessCluster.withPool(
            brokerArguments: [
                "--state-dir", folder.path + "/state", "--online", "--online-sync-interval-ms", "600000",
                "--online-sync-events", "100000",
            ],
            workers: ["a"]
        ) { cluster, client in
            _ = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
            var driver = OnlineDriver(client: client, seed: 8)
            try await driver.users(10)
            let worker = try #require(cluster.pid("a"))
            // The stopped replica cannot answer the pull, so the first sync stays out until it is continued.
            kill(worker, SIGSTOP)
            let first = Task {
                try await client.control(ControlRequest(op: "online_sync"), as: OnlineView.self, timeoutMs: 30_000)
            }
            _ = try await OnlinePoolTests.waitForOnline(client) { $0.syncing }
            // A raw second request is refused while the first is out...
            await #expect(throws: ClientError.self) {
                try await client.control(ControlRequest(op: "online_sync"), as: OnlineView.self)
            }
            // ...and onlineSync waits instead.
            let second = Task { try await client.onlineSync(timeoutMs: 30_000) }
            try await Task.sleep(for: .milliseconds(300))
            kill(worker, SIGCONT)
            let one = try await first.value
            let two = try await second.value
            #expect(one.syncs + one.emptySyncs + one.rejected == 1, "\(one)")
            #expect(two.syncs + two.emptySyncs + two.rejected == 2, "\(two)")
        }
    }
}
