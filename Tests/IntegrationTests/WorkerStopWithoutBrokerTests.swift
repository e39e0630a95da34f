import Foundation
import RecTestKit
import Testing

/// A worker stopped after its broker is gone says in its log that it left unacknowledged (docs/OPERATIONS.md).
@Suite("A worker stopped while its broker is gone", .serialized)
struct WorkerStopWithoutBrokerTests {
    /// A helper's case: SIGTERM to a worker waiting to reconnect to a killed broker exited 0, its last log line
    /// "broker silent; reconnecting", with no `left the broker` or `drained=` line.
    @Test("SIGTERM during the reconnect wait exits 0 and logs left the broker, drained=false")
    func stopWhileReconnecting() async throws {
        try await withTemporaryDirectory("worker-stop-without-broker") { folder in
            let cluster = ProcessCluster()
            defer { cluster.stop() }
            try cluster.startBroker()
            let log = folder.file("w.log")
            cluster.workerLogs["w"] = log
            try cluster.startWorker(
                "w",
                arguments: [
                    "--broker", cluster.endpoints.backend, "--id", "w", "--exit-with-parent", "--log-level", "info",
                ])
            let client = try await cluster.client()
            defer { client.close() }
            _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
            _ = cluster.kill("broker", signal: SIGKILL)
            let text = { String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self) }
            // The reconnect waits double from 250 ms to 4 s: once one has begun, SIGTERM lands in a wait or in the
            // next connection's silence, and either way the worker must say it left without an acknowledgement.
            try await eventually(timeoutMs: 60_000, "the worker noticed its broker is gone") {
                text().contains("broker silent; reconnecting")
            }
            #expect(cluster.kill("w", signal: SIGTERM) == 0)
            let left = text().split(separator: "\n").filter { $0.contains("left the broker") }
            #expect(left.count == 1 && left[0].contains("drained=false"), "\(text())")
        }
    }
}
