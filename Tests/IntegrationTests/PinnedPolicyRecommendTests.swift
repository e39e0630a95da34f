import Foundation
import RecClient
import RecData
import RecTestKit
import RecWire
import Testing

/// A pinned RECOMMEND in a pool whose workers answer it with the online policy: the broker routes the pin by the
/// model version each worker serves, and the worker must judge it by the same number, not by the policy version
/// (docs/PROTOCOL.md, "Model versions"). Judged by the policy version, a pin of the served model was refused
/// CONFLICT "request pins model version 2; this worker serves 1" by a worker that serves model version 2.
@Suite("Pinned RECOMMEND answered by an online policy", .serialized)
struct PinnedPolicyRecommendTests {
    static func recommend(_ client: RecPoolClient, _ version: VersionRequirement) async throws -> (
        slate: PolicyRecommendation, headerVersion: UInt64
    ) {
        let document = WireJSON.encode(RecommendQuery(userFeatures: ["user_feature_0": "u0_01"], top: 2))
        let reply = try await client.recommend(document: document, version: version, timeoutMs: 10_000)
        return (try WireJSON.decode(PolicyRecommendation.self, from: reply.document), reply.modelVersion)
    }

    @Test("a pin of the served model version is answered by the policy slate, under the policy version")
    func pinNamesTheModelVersion() async throws {
        let temporary = try TemporaryDirectory("pinned-policy")
        defer { temporary.remove() }
        let directory = temporary.url
        try TwoCheckpoints.fit(in: directory)
        let state = directory.appendingPathComponent("state").path
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", state, "--online", "--online-sync-interval-ms", "0"], workers: ["w1"],
            workerArguments: ["--input-width", "3"]
        ) { cluster, client in
            let broker = cluster.endpoints.frontend
            for (name, promote) in [("m1", false), ("m2", true)] {
                let imported = try runTool(
                    "recpool",
                    ["import", "--broker", broker, "--model", directory.appendingPathComponent("\(name).ckpt").path]
                        + (promote ? ["--promote"] : []))
                #expect(imported.code == 0, "\(imported.stderr)")
            }
            // Model version 2 on the worker, online policy version 1 (no feedback, so no sync makes another).
            _ = try await cluster.waitForStatus(client) { status in
                status.workers.count == 1 && status.workers.allSatisfy { $0.modelVersion == 2 }
                    && status.online.map { $0.version == 1 && $0.replicas.count == 1 } == true
            }

            for pin in [VersionRequirement.exactly(2), .atLeast(2), .atLeast(1), .any] {
                let reply = try await Self.recommend(client, pin)
                #expect(reply.slate.source == "policy", "\(pin)")
                #expect(reply.headerVersion == 1 && reply.slate.modelVersion == 1, "\(pin)")
            }
            // The policy's number is no model version any worker serves: the pin is refused, never read as the
            // policy's.
            for pin in [VersionRequirement.exactly(1), .atLeast(3)] {
                do {
                    _ = try await Self.recommend(client, pin)
                    Issue.record("RECOMMEND pinned \(pin) was answered, but no worker serves that model version")
                } catch let ClientError.server(status, message, _) {
                    #expect(status == .conflict, "\(pin): \(message)")
                }
            }
        }
    }
}
