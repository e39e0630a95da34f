import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// Two worker processes serving different unregistered checkpoints both report version 0; every answer under that
/// number must come from one model (docs/PROTOCOL.md, "Model versions").
@Suite("One model per version number, over real processes", .serialized)
struct OneModelPerVersionPoolTests {
    /// Writes a checkpoint fitted with `seed` and returns `recpool predict --json`'s document for `rows`.
    static func fit(_ directory: URL, seed: Int, rows: URL) throws -> (path: String, predicted: [String: Any]) {
        let model = directory.appendingPathComponent("m\(seed).ckpt").path
        let fit = try runTool(
            "recpool",
            ["fit", "--dataset", directory.appendingPathComponent("train.csv").path, "--out", model, "--epochs", "1",
             "--seed", "\(seed)"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let predict = try runTool("recpool", ["predict", "--model", model, "--input", rows.path, "--json"])
        #expect(predict.code == 0, "\(predict.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(predict.stdout.utf8)) as? [String: Any] ?? [:]
        return (model, document)
    }

    @Test("two workers with different --model files: every reply under version 0 is the first one's model's scores")
    func differentFilesAreNotMixed() async throws {
        let temporary = try TemporaryDirectory("onemodel")
        defer { temporary.remove() }
        let directory = temporary.url
        var csv = "a,b,c,label\n"
        for i in 0..<120 {
            let a = Float(i % 10) / 10, b = Float((i * 7) % 13) / 13, c = Float((i * 3) % 5) / 5
            csv += "\(a),\(b),\(c),\(a + b > 1 ? 1 : 0)\n"
        }
        try csv.write(to: directory.appendingPathComponent("train.csv"), atomically: true, encoding: .utf8)
        let rows = directory.appendingPathComponent("rows.csv")
        try "0.1,0.2,0.3\n0.9,0.8,0.7\n".write(to: rows, atomically: true, encoding: .utf8)
        let first = try Self.fit(directory, seed: 1, rows: rows)
        let second = try Self.fit(directory, seed: 2, rows: rows)
        let want = try #require(first.predicted["scores"] as? [Double])
        let other = try #require(second.predicted["scores"] as? [Double])
        #expect(want != other)

        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        let client = try await cluster.client()
        defer { client.close() }
        // One slot each: before, the overflow of a burst went to the second worker, i.e. to the other model.
        try cluster.startWorker("w1", extra: ["--model", first.path, "--slots", "1"])
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        try cluster.startWorker("w2", extra: ["--model", second.path, "--slots", "1"])
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
        #expect(status.workers.allSatisfy { $0.modelVersion == 0 && $0.modelSource == "file" })
        #expect(Set(status.workers.compactMap(\.modelSha256)).count == 2)

        let replies = try await withThrowingTaskGroup(of: Scores.self) { group in
            for _ in 0..<24 { group.addTask { try await client.score(rows: [[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]]) } }
            return try await group.reduce(into: [Scores]()) { $0.append($1) }
        }
        #expect(replies.count == 24)
        for reply in replies {
            #expect(reply.modelVersion == 0)
            #expect(zip(reply.values, want).allSatisfy { abs(Double($0) - $1) < 1e-6 }, "\(reply.values) vs \(want)")
        }
        let after = try await client.status()
        #expect(after.workers.first { $0.id == "w2" }?.completed == 0)
    }

    @Test("two seeded workers with different --seed values are two models: only the first one's answers, status names each seed")
    func differentSeedsAreNotMixed() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        let client = try await cluster.client()
        defer { client.close() }
        try cluster.startWorker("w1", extra: ["--input-width", "3", "--seed", "5", "--slots", "1"])
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        try cluster.startWorker("w2", extra: ["--input-width", "3", "--seed", "6", "--slots", "1"])
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 2 }
        #expect(status.workers.map(\.modelSeed) == [5, 6])
        #expect(status.workers.allSatisfy { $0.modelVersion == 0 && $0.modelSource == "seeded" && $0.modelSha256 == nil })

        let replies = try await withThrowingTaskGroup(of: Scores.self) { group in
            for _ in 0..<24 { group.addTask { try await client.score(rows: [[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]]) } }
            return try await group.reduce(into: [Scores]()) { $0.append($1) }
        }
        // Before, the seed was not reported: both answered as version 0, with two sets of weights.
        #expect(Set(replies.map(\.values)).count == 1)
        let after = try await client.status()
        #expect(after.workers.first { $0.id == "w2" }?.completed == 0)
        let text = try runTool("recpool", ["status", "--broker", cluster.endpoints.frontend])
        #expect(text.code == 0 && text.stdout.contains("0 (seeded 5)") && text.stdout.contains("0 (seeded 6)"), "\(text.stdout)")
        // Only w2 is shown kept from SCORE, and why (it may still take RECOMMEND: the seed changes no slate).
        #expect(text.stdout.components(separatedBy: "no SCORE: another model holds v0").count == 2, "\(text.stdout)")
        #expect(
            after.workers.first { $0.id == "w2" }?.idleReason
                == "takes no SCORE: model version 0 is served there by the model seeded with 5, and this worker serves "
                + "the model seeded with 6 under the same number")
        #expect(after.workers.first { $0.id == "w1" }?.idleReason == nil)
        // `recpool health` counts the workers the broker dispatches to: w2 takes no SCORE (it counted as serving it).
        let health = try runTool("recpool", ["health", "--broker", cluster.endpoints.frontend])
        #expect(health.code == 0 && health.stdout == "healthy: 1 live worker(s) serve SCORE\n", "\(health.stdout)")
    }
}
