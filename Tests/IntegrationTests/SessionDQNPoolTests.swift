import Foundation
import RecClient
import RecTransport
import RecWire
import Testing

/// A pool whose replicas learn with the session DQN (`--online-learner session_dqn`), driven by whole simulated
/// sessions (`recpool simulate --sessions`): it serves, learns and syncs through the real broker and workers.
@Suite("Session DQN pool end to end", .serialized)
struct SessionDQNPoolTests {
    @Test("a pool started with the session DQN serves whole sessions, learns, and its versions advance without errors")
    func sessionDQNServesAndLearns() async throws {
        let state = try TemporaryDirectory("session-dqn").url
        defer { try? FileManager.default.removeItem(at: state) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await OnlineLearningTests.onlinePool(
            cluster, state: state,
            extra: ["--online-learner", "session_dqn", "--online-gamma", "0.9", "--online-sync-events", "200"])
        defer { client.close() }
        let (install, _) = try await client.onlinePolicy()
        #expect(install.spec.learning.learner == .sessionDQN && install.spec.learning.gamma == 0.9)

        let run = try runTool(
            "recpool",
            [
                "simulate", "--broker", cluster.endpoints.frontend, "--sessions", "--users", "40", "--seed", "21",
                "--concurrency", "2", "--json", "--quiet", "--timeout-ms", "20000",
            ])
        #expect(run.code == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(result["learner"] as? String == "session_dqn")
        #expect(result["sessions"] as? Int == 40 && result["completed"] as? Int == 40)
        #expect((result["errors"] as? [String: Int])?.isEmpty == true, "\(result["errors"] ?? "")")
        let steps = try #require(result["steps"] as? Int)
        let clicks = try #require(result["clicks"] as? Int)
        // Every session spends its budget of 30 (a click gives back 0.5).
        #expect(steps >= 40 * 30 && steps <= 40 * 30 + clicks)
        #expect(clicks > 0)
        let perSession = try #require(result["clicks_per_session"] as? Double)
        #expect(abs(perSession - Double(clicks) / 40) < 1e-9)
        #expect((result["version"] as? Int ?? 0) > 1, "no sync was accepted")

        let view = try await client.online()
        #expect(view.version > 1)
        #expect(view.feedback == 3 * steps)
        let (after, pack) = try await client.onlinePolicy()
        // A leftover sync may install a newer version between the two reads.
        #expect(after.version >= view.version && after.spec.learning.learner == .sessionDQN)
        #expect(pack["a"] != nil)
    }

    @Test("an unknown --online-learner is refused by name")
    func unknownLearner() throws {
        let run = try runTool("recpool-broker", ["--online", "--state-dir", "/nonexistent", "--online-learner", "dqn2"])
        #expect(run.code != 0)
        #expect(run.stderr.contains("--online-learner must be contextual_bandit or session_dqn"), "\(run.stderr)")
    }
}
