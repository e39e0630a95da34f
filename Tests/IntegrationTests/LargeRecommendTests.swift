import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// A RECOMMEND document may be as large as a message (16 MiB), and decoding one that large takes seconds in a debug
/// build. A worker that decoded it on its session thread stopped heartbeating: the broker retired it (three missed
/// beats), answered the RECOMMEND and every other client's request it held NO_WORKER, and the worker had to register
/// again. The worker now answers RECOMMENDs on their own thread, so its session keeps heartbeating and scoring.
@Suite("A large RECOMMEND never stalls the worker's session", .serialized)
struct LargeRecommendTests {
    @Test("a 15 MiB RECOMMEND with heartbeats at 200 ms: the worker is never retired and SCOREs are answered meanwhile")
    func largeRecommendKeepsTheSessionAlive() async throws {
        let beat = ["--heartbeat-ms", "200"]
        try await ProcessCluster.withPool(
            brokerArguments: beat, workers: ["w1"], workerArguments: ["--input-width", "3"] + beat
        ) { cluster, client in
            // Valid JSON whose one unknown key is 15 MiB long: the whole document is read before it is refused.
            let filler = String(repeating: "a", count: 15 << 20)
            let document = Array("{\"top\":3,\"x\":\"\(filler)\"}".utf8)
            // nil when answered OK, otherwise the error's status name and text.
            let recommend = Task { () -> (status: String, text: String)? in
                do {
                    _ = try await client.recommend(document: document, timeoutMs: 120_000)
                    return nil
                } catch let error as ClientError {
                    return (error.statusName, "\(error)")
                } catch {
                    return ("?", "\(error)")
                }
            }
            // While the worker reads it, another request's SCOREs come back from the same worker.
            let scorer = try await cluster.client()
            defer { scorer.close() }
            try await Task.sleep(for: .milliseconds(300))
            for _ in 0..<5 {
                let scores = try await scorer.score(rows: [[0.1, 0.2, 0.3]], timeoutMs: 60_000)
                #expect(scores.values.count == 1)
            }
            // The document is refused for its unknown key by the worker, never NO_WORKER from a broker that retired
            // the worker while it read.
            if let refusal = await recommend.value {
                #expect(refusal.status == "BAD_REQUEST", "\(refusal.text)")
            }
            let status = try await client.status()
            #expect(status.counters["workers_expired"] == nil, "the worker was retired: \(status.counters)")
            #expect(status.counters["redispatched"] == nil, "\(status.counters)")
        }
    }
}
