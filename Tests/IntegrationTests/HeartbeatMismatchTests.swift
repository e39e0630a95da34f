import Foundation
import RecTestKit
import Testing

/// A worker's `--heartbeat-ms` that differs from its broker's, on real processes.
@Suite("Heartbeat intervals that differ between broker and worker", .serialized)
struct HeartbeatMismatchTests {
    /// A worker at 10000 ms against a broker at 1000 ms was expired every few seconds (live workers 1, 1, 0, 0, …,
    /// SCORE answered NO_WORKER); a worker faster than its broker reconnected every 3 of its own intervals. The
    /// broker's registration names its interval and the worker takes it.
    @Test("a worker whose --heartbeat-ms differs from the broker's stays live and serves, either way round",
        arguments: [(broker: "300", worker: "5000"), (broker: "2000", worker: "100")])
    func mismatchStaysLive(broker: String, worker: String) async throws {
        try await ProcessCluster.withPool(
            brokerArguments: ["--heartbeat-ms", broker], workers: ["w1"], workerArguments: ["--heartbeat-ms", worker]
        ) { cluster, client in
            // Several of the broker's liveness windows (3 × 300 ms) and of the worker's own (3 × 100 ms).
            let until = ContinuousClock.now + .seconds(7)
            var samples = 0
            while ContinuousClock.now < until {
                let status = try await client.status(timeoutMs: 2_000)
                #expect(status.workers.count == 1, "sample \(samples): \(status.workers.map(\.id))")
                let scores = try await client.score(rows: [[Float](repeating: 0.5, count: 106)])
                #expect(scores.values.count == 1)
                samples += 1
                try await Task.sleep(for: .milliseconds(250))
            }
            let status = try await client.status(timeoutMs: 2_000)
            #expect(status.counters["workers_expired"] == nil, "\(status.counters)")
            #expect(status.counters["workers_registered"] == 1, "the worker reconnected: \(status.counters)")
            #expect(samples > 5)
        }
    }
}
