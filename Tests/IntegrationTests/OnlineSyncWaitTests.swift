import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// `online_sync` while another sync is out waits for the next sync, which the broker starts as soon as that one ends.
@Suite("Online sync while another is out", .serialized)
struct OnlineSyncWaitTests {
    @Test("forced syncs during another sync wait for the next one, from a raw request or onlineSync, never CONFLICT")
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
            // A raw second request, from any client, waits for the next sync instead of answering CONFLICT...
            let second = Task {
                try await client.control(ControlRequest(op: "online_sync"), as: OnlineView.self, timeoutMs: 30_000)
            }
            // ...and so does the client's onlineSync.
            let third = Task { try await client.onlineSync() }
            try await Task.sleep(for: .milliseconds(300))
            kill(worker, SIGCONT)
            let one = try await first.value
            let two = try await second.value
            let three = try await third.value
            #expect(one.syncs + one.emptySyncs + one.rejected == 1, "\(one)")
            // Both waited for the same next sync, which started as the first ended.
            #expect(two.syncs + two.emptySyncs + two.rejected == 2, "\(two)")
            #expect(three.syncs + three.emptySyncs + three.rejected == 2, "\(three)")
        }
    }
}
