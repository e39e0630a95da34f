import Foundation
import RecWire
import RecTransport
import RecClient
import Testing

/// Scoring scenarios run twice: broker and workers in this process, then as real processes
/// (``PoolMode``). Both runs must give the same answers.
@Suite("Scoring in-process and as processes", .serialized)
struct TwinScoringTests {
    static func row(_ width: Int, _ seed: Int) -> [Float] { (0..<width).map { Float(($0 * 7 + seed) % 11) / 11 } }

    @Test("two workers with the same seeded model give the same scores for the same rows", arguments: PoolMode.allCases)
    func sameScoresFromEitherWorker(mode: PoolMode) async throws {
        let scores = try await mode.withPool(workers: ["w1", "w2"]) { client, frontend in
            // In process, broker, workers and client share one context and meet over inproc://.
            #expect(frontend.hasPrefix(mode == .inProcess ? "inproc://" : "tcp://127.0.0.1:"), "\(frontend)")
            let rows = (0..<5).map { Self.row(106, $0) }
            let first = try await client.score(rows: rows)
            #expect(first.values.count == 5)
            #expect(first.values.allSatisfy { $0 > 0 && $0 < 1 })
            #expect(first.modelVersion == 0)
            for _ in 0..<4 {
                let again = try await client.score(rows: rows)
                #expect(again.values == first.values)
            }
            let status = try await client.status()
            #expect(Set(status.workers.map(\.id)) == ["w1", "w2"])
            return first.values
        }
        // The seeded model (seed 42) is the same in either mode, so the scores are known across modes.
        let reference = try await PoolMode.inProcess.withPool(workers: ["r"]) { client, _ in
            try await client.score(rows: (0..<5).map { Self.row(106, $0) }).values
        }
        #expect(scores == reference)
    }

    @Test(
        "a row of the wrong width is a typed BAD_REQUEST naming the width, and the pool keeps serving",
        arguments: PoolMode.allCases)
    func wrongWidth(mode: PoolMode) async throws {
        try await mode.withPool(workers: ["w1"]) { client, _ in
            do {
                _ = try await client.score(rows: [[1, 2, 3]])
                Issue.record("a 3-wide row was scored by a 106-wide model")
            } catch let ClientError.server(status, message, _) {
                #expect(status == .badRequest)
                #expect(message.contains("106"))
            }
            let ok = try await client.score(rows: [Self.row(106, 2)])
            #expect(ok.values.count == 1)
        }
    }
}
