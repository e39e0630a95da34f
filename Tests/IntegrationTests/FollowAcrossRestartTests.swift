import Foundation
import RecTestKit
import Testing

/// `recpool job --follow` gave up with "request N timed out" when the broker restarted, though the job resumed from
/// its last stored round and completed; it now keeps following through a restart.
@Suite("job --follow across a broker restart", .serialized)
struct FollowAcrossRestartTests {
    /// SIGKILL leaves the follow's reads unanswered; SIGTERM (a systemd restart) drains first, answering them BUSY
    /// ("retry against its successor"), which ended the follow with exit 13 (a helper's case).
    @Test("a follow that outlives a broker restart reports the job's completion and exits 0", arguments: [SIGKILL, SIGTERM])
    func followSurvivesRestart(signal: Int32) async throws {
        let directory = try TrainingTests.makeDirectory("follow-restart")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", directory.appendingPathComponent("state").path], workers: ["w1"]
        ) { cluster, _ in
            let frontend = cluster.endpoints.frontend
            let submit = try runTool(
                "recpool",
                ["train", "--broker", frontend, "--dataset", "synthetic:users=3000,rows=6000,seed=9", "--workers", "1",
                 "--sync-every", "10", "--epochs", "3"])
            #expect(submit.code == 0, "\(submit.stderr)")
            let follow = Process()
            follow.executableURL = ProcessCluster.executable("recpool")
            follow.arguments = ["job", "job-1", "--follow", "--json", "--broker", frontend, "--timeout-ms", "1000"]
            let err = Pipe()
            follow.standardError = err
            follow.standardOutput = Pipe()
            try follow.run()
            defer { if follow.isRunning { follow.terminate() } }
            try await Task.sleep(for: .seconds(1))
            try cluster.restartBroker(signal: signal)
            let deadline = Date().addingTimeInterval(240)
            while follow.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
            #expect(!follow.isRunning, "the follow did not end")
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(follow.terminationStatus == 0, "\(stderr)")
            let status = try runTool("recpool", ["job", "job-1", "--broker", frontend, "--json"])
            #expect(status.stdout.contains(#""state":"completed""#), "\(status.stdout)")
        }
    }
}
