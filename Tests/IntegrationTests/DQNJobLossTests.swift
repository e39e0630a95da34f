import Foundation
import RecClient
import RecWire
import Testing

/// A DQN job over real broker and worker processes: a round in which no replica took a gradient step has no loss.
@Suite("DQN job losses over the pool", .serialized)
struct DQNJobLossTests {
    @Test("a dqn round before the replay buffer holds a batch reports no loss (null, 'undefined' in text), never 0")
    func firstRoundHasNoLoss() async throws {
        let directory = try TrainingTests.makeDirectory("dqn-loss")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", directory.appendingPathComponent("state").path], workers: ["w1"]
        ) { cluster, client in
            // Batch 8, 5 steps a round: round 1 fills the buffer to 5 transitions, so learning starts in round 2.
            let train = try runTool(
                "recpool",
                ["train", "--broker", cluster.endpoints.frontend, "--model", "dqn", "--dataset",
                 "synthetic:users=60,items=5,seed=3", "--epochs", "1", "--batch", "8", "--sync-every", "5",
                 "--follow", "--json"])
            #expect(train.code == 0, "\(train.stderr)")
            let job = try await TrainingTests.job(client, "job-1")
            #expect(job.state == "completed")
            let rounds = try #require(job.rounds)
            #expect(rounds.count == 12 && rounds[0].loss == nil && rounds[0].samples == 5)
            #expect(rounds.dropFirst().allSatisfy { ($0.loss ?? -1) > 0 })
            let json = try runTool("recpool", ["job", "--broker", cluster.endpoints.frontend, "job-1", "--json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let first = try #require((object["rounds"] as? [[String: Any]])?.first)
            #expect(first.keys.contains("loss") && first["loss"] is NSNull)
            let text = try runTool("recpool", ["job", "--broker", cluster.endpoints.frontend, "job-1"])
            #expect(text.stdout.contains("round 1: loss undefined (no gradient step)"), "\(text.stdout)")
        }
    }
}
