import Foundation
import RecTestKit
import Testing

/// The timing fields of a RECOMMEND reply: its wait for the worker's RECOMMEND thread is `worker_queue_us`, as a
/// SCORE's wait for its micro-batch is.
@Suite("RECOMMEND timing fields", .serialized)
struct RecommendTimingTests {
    /// A helper's run: `recpool loadtest --recommend` printed `worker queue 0.000` every time, since no RECOMMEND
    /// handler set the field, and the wait was counted as client↔broker time.
    @Test("loadtest --recommend on an online pool reports a worker queue above 0")
    func workerQueueIsMeasured() async throws {
        let state = try TemporaryDirectory("recommend-timing")
        defer { state.remove() }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await OnlineLearningTests.onlinePool(cluster, state: state.url)
        defer { client.close() }
        let load = try runTool(
            "recpool",
            [
                "loadtest", "--broker", cluster.endpoints.frontend, "--recommend", "--concurrency", "2", "--duration",
                "500ms", "--drain", "2s", "--json", "--quiet",
            ])
        #expect(load.code == 0, "\(load.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(load.stdout.utf8)) as? [String: Any])
        #expect((summary["completed"] as? Int ?? 0) > 0, "\(summary)")
        let breakdown = try #require(summary["breakdown"] as? [String: Any], "\(summary)")
        let queue = try #require(breakdown["worker_queue_ms"] as? Double, "\(breakdown)")
        #expect(queue > 0, "\(breakdown)")
    }
}
