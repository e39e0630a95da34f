import Foundation
import RecClient
import RecData
import RecTestKit
import RecWire
import Testing

/// A policy slate reaches a client only from a broker that logs it (review fault F3): a worker left with a policy
/// its broker does not serve drops it when it registers, so RECOMMEND gets what that broker serves.
@Suite("Policy slates only from a broker that serves the policy", .serialized)
struct StalePolicyTests {
    /// Runs a one-worker online pool until its replica serves the broker's version; returns that view.
    static func onlinePool(_ cluster: ProcessCluster, state: String) async throws -> (RecPoolClient, OnlineView) {
        try cluster.startBroker(extra: ["--state-dir", state, "--online"])
        try cluster.startWorker("w")
        let client = try await cluster.client()
        let view = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
        let slate = try await OnlineDriver(client: client, seed: 1).recommend(["user_feature_0": "u0_01"])
        #expect(slate.modelVersion == view.version, "the pool serves policy slates before the restart")
        return (client, view)
    }

    /// RECOMMEND once the worker registered again: the seeded worker's own model cannot rank from raw context, so
    /// anything but a policy slate is this BAD_REQUEST.
    static func expectNoPolicySlate(_ cluster: ProcessCluster) async throws {
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        let query = RecommendQuery(userFeatures: ["user_feature_0": "u0_01"], top: 3)
        let refused = await serverError {
            try await client.call(
                WireMessage(header: Header(command: .recommend), payload: [WireJSON.encode(query)]), timeoutMs: 5000)
        }
        #expect(refused?.status == .badRequest, "\(String(describing: refused))")
        #expect(refused?.message.contains("has no feature specification") == true, "\(String(describing: refused))")
    }

    @Test("a worker from an online pool that joins a broker started without --online serves no policy slate")
    func workerJoinsBrokerWithoutOnline() async throws {
        let state = try TemporaryDirectory("stale-policy-b")
        defer { state.remove() }
        try await ProcessCluster.with { cluster in
            let (client, _) = try await Self.onlinePool(cluster, state: state.path)
            client.close()
            let old = cluster.endpoints
            _ = cluster.kill("broker", signal: SIGKILL)
            _ = cluster.waitForExit("broker", timeoutMs: 10_000)
            try cluster.startBroker(frontend: old.frontend, backend: old.backend)
            try await Self.expectNoPolicySlate(cluster)
        }
    }

    /// A blob that cannot be read (here a directory in its place: EISDIR; as a non-root user, mode 000 too) was taken
    /// for a write that failed: the broker started with online learning off and answered RECOMMEND from the MLP model.
    @Test(
        "after a restart whose stored policy blob is corrupt or unreadable, the broker refuses to serve (exit 65): no slate is served",
        arguments: ["flipped", "directory"])
    func corruptPolicyAtRestart(damage: String) async throws {
        let state = try TemporaryDirectory("stale-policy-a")
        defer { state.remove() }
        try await ProcessCluster.with { cluster in
            let (client, view) = try await Self.onlinePool(cluster, state: state.path)
            client.close()
            let old = cluster.endpoints
            _ = cluster.kill("broker", signal: SIGKILL)
            _ = cluster.waitForExit("broker", timeoutMs: 10_000)
            let blob = state.url.appendingPathComponent("blobs/\(view.weightsSha256)")
            if damage == "flipped" {
                try Data("flipped".utf8).write(to: blob)
            } else {
                try FileManager.default.removeItem(at: blob)
                try FileManager.default.createDirectory(at: blob, withIntermediateDirectories: false)
            }
            // Durable state it cannot read stops the broker before it binds (docs/OPERATIONS.md, exit 65): neither a
            // policy slate nor anything else is served over it.
            #expect(throws: ClusterError.self) {
                try cluster.startBroker(frontend: old.frontend, backend: old.backend, extra: ["--state-dir", state.path, "--online"])
            }
            #expect(cluster.waitForExit("broker", timeoutMs: 10_000) == 65)
        }
    }
}
