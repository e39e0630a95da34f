import Foundation
import RecClient
import RecData
import RecTestKit
import RecWire
import Testing

/// A worker that outlives a registry (review fault F7): it forgets its catalogue when it registers with another
/// broker, so it installs and confirms exactly the versions that broker's registry sends, and serves them.
@Suite("A worker that outlives a catalogue registry", .serialized)
struct CatalogueOutlivesRegistryTests {
    /// Stops the broker (only the broker) and starts another on the same endpoints with `extra`.
    static func replaceBroker(_ cluster: ProcessCluster, extra: [String]) async throws {
        let old = cluster.endpoints
        _ = cluster.kill("broker", signal: SIGKILL)
        _ = cluster.waitForExit("broker", timeoutMs: 10_000)
        try cluster.startBroker(frontend: old.frontend, backend: old.backend, extra: extra)
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
    }

    @Test(
        "a worker left at registry A's version 3 installs, confirms and serves registry B's versions 1 and 2",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func outlivesRegistry() async throws {
        let folder = try TemporaryDirectory("catalogue-outlives")
        defer { folder.remove() }
        let schema = try CatalogueRegistryTests.schema(in: folder.path)
        try await ProcessCluster.with { cluster in
            try cluster.startBroker(extra: ["--state-dir", folder.path + "/a"])
            try cluster.startWorker("w")
            let first = try await cluster.client()
            _ = try await cluster.waitForStatus(first) { $0.workers.count == 1 }
            first.close()
            let frontend = cluster.endpoints.frontend
            func catalogue(_ arguments: [String]) throws -> CatalogueView {
                try CatalogueRegistryTests.catalogue(frontend, arguments, as: CatalogueView.self)
            }
            let add = ["--field", "item_feature_0=0.25", "--field", "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179"]
            _ = try catalogue(["upload", "--schema", schema])
            _ = try catalogue(["add", "A-1"] + add)
            let a3 = try catalogue(["add", "A-2"] + add)
            #expect(a3.version == 3 && a3.confirmed == true)

            // Registry B, a fresh state folder: version 1, then served by the online policy.
            try await Self.replaceBroker(cluster, extra: ["--state-dir", folder.path + "/b"])
            let b1 = try catalogue(["upload", "--schema", schema])
            #expect(b1.version == 1 && b1.items == 80)
            try await Self.replaceBroker(
                cluster, extra: ["--state-dir", folder.path + "/b", "--online", "--online-catalogue", "latest"])
            let client = try await cluster.client()
            defer { client.close() }
            _ = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }

            let b2 = try catalogue(["add", "NEW-1"] + add)
            #expect(b2.version == 2 && b2.items == 81 && b2.confirmed == true)
            #expect(b2.replicas?.map(\.version) == [2] && b2.replicas?.map(\.sha256) == [b2.sha256])
            #expect(b2.replicas?.first?.error == nil)
            // The worker serves what it confirmed: NEW-1's row, 80, is a candidate it knows.
            let query = RecommendQuery(userFeatures: ["user_feature_0": "x"], candidates: [80], top: 1)
            let reply = try await client.call(
                WireMessage(header: Header(command: .recommend), payload: [WireJSON.encode(query)]), timeoutMs: 5000)
            let slate = try WireJSON.decode(PolicyRecommendation.self, from: reply.frame(0))
            #expect(slate.items.map(\.item) == [80])
            let retired = try catalogue(["retire", "NEW-1"])
            #expect(retired.version == 3 && retired.confirmed == true)
        }
    }

    @Test(
        "a policy that moved to an added item's catalogue version keeps that move across a restart pinned to the older version",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func movedPolicyIsStored() async throws {
        let folder = try TemporaryDirectory("catalogue-pinned")
        defer { folder.remove() }
        let schema = try CatalogueRegistryTests.schema(in: folder.path)
        let state = folder.path + "/state"
        let pinned = ["--state-dir", state, "--online", "--online-catalogue", "1"]
        try await ProcessCluster.with { cluster in
            try cluster.startBroker(extra: ["--state-dir", state])
            try cluster.startWorker("w")
            let frontend = cluster.endpoints.frontend
            func catalogue(_ arguments: [String]) throws -> CatalogueView {
                try CatalogueRegistryTests.catalogue(frontend, arguments, as: CatalogueView.self)
            }
            let first = try catalogue(["upload", "--schema", schema])
            #expect(first.version == 1 && first.items == 80)
            try await Self.replaceBroker(cluster, extra: pinned)
            let client = try await cluster.client()
            defer { client.close() }
            let served = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
            #expect(served.catalogueVersion == 1)

            let add = ["--field", "item_feature_0=0.25", "--field", "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179"]
            let added = try catalogue(["add", "NEW-1"] + add)
            #expect(added.version == 2 && added.confirmed == true)
            let moved = try await OnlinePoolTests.waitForOnline(client) { $0.catalogueVersion == 2 }
            #expect(moved.version == served.version)

            // The same flags again: version 1 of the catalogue is what the operator pinned, but the served number
            // named catalogue version 2 (with NEW-1) before the restart, so version 1 is served under the next number.
            try await Self.replaceBroker(cluster, extra: pinned)
            let restarted = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
            #expect(restarted.catalogueVersion == 1)
            #expect(restarted.version == moved.version + 1, "\(restarted.version) after \(moved.version)")
            // With `latest` the pool serves catalogue version 2 again, NEW-1 included.
            try await Self.replaceBroker(cluster, extra: ["--state-dir", state, "--online", "--online-catalogue", "latest"])
            let latest = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
            #expect(latest.catalogueVersion == 2)
        }
    }
}
