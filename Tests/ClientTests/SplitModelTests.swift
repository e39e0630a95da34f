import RecWire
import Testing

@testable import RecClient

/// Which model serves a version number, as a split score compares it before and after its requests.
@Suite("The models serving a version, from STATUS")
struct SplitModelTests {
    static func worker(
        _ id: String, version: UInt64 = 0, seed: UInt64? = nil, sha: String? = nil, source: String = "seeded",
        draining: Bool = false, idle: String? = nil, services: [String] = ["SCORE"]
    ) -> StatusDocument.Worker {
        StatusDocument.Worker(
            id: id, address: "", slots: 1, inflight: 0, modelVersion: version, inputWidth: 3, heartbeatAgeMs: 0,
            services: services, completed: 0, errors: 0, pid: 1, modelSource: source, modelSha256: sha, modelSeed: seed,
            idleReason: idle, draining: draining)
    }

    static func status(_ workers: [StatusDocument.Worker]) -> StatusDocument {
        StatusDocument(protocolVersion: 1, uptimeMs: 1, workers: workers, queues: [], inflight: 0, counters: [:])
    }

    @Test("only workers that take SCORE under the number count: not draining, not idle, not unverified, not of another number")
    func servingWorkers() {
        let document = Self.status([
            Self.worker("a", seed: 42),
            Self.worker("b", seed: 7, idle: "takes no SCORE: model version 0 is served there by the model seeded with 42"),
            Self.worker("c", seed: 9, draining: true),
            Self.worker("d", seed: 11, source: "unverified"),
            Self.worker("e", version: 3, sha: "ab12cd34ef56ab12cd34", source: "registry"),
            Self.worker("f", seed: 5, services: ["RECOMMEND"]),
        ])
        #expect(RecPoolClient.modelsServing(0, in: document) == ["the model seeded with 42"])
        #expect(RecPoolClient.modelsServing(3, in: document) == ["sha256 ab12cd34ef56"])
        #expect(RecPoolClient.modelsServing(4, in: document).isEmpty)
    }
}
