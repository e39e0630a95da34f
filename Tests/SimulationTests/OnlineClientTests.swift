import Foundation
import RecClient
import RecData
import RecPolicy
import RecSimulation
import Testing

/// The client's online calls over real loopback sockets, against a fake broker backed by an in-process learner.
@Suite struct OnlineClientTests {
    @Test func aSimulationOverSocketsMatchesTheInProcessRunUserForUser() async throws {
        let plan = SimulationPlan(users: 400, seed: 6, concurrency: 1, windows: 4)
        let local = try await SimulationRunner.run(backend: try LearnerBackend(), plan: plan)
        let local2 = try await SimulationRunner.run(backend: try LearnerBackend(), plan: plan)
        #expect(local.windows == local2.windows, "local determinism")

        let backend = try LearnerBackend()
        let broker = try await FakeOnlineBroker(backend: backend)
        defer { broker.shutdown() }
        let client = try await RecPoolClient(endpoint: broker.endpoint)
        defer { client.close() }
        let remote = try await SimulationRunner.run(backend: PoolBackend(client: client), plan: plan)
        #expect(remote.errors.isEmpty && remote.served == 400 && remote.feedbackSent == 1200)
        #expect(remote.windows == local.windows)
        #expect(remote.fixedCtr == local.fixedCtr && remote.clicks == local.clicks)
    }

    @Test func feedbackRefusalsArriveAsTypedServerErrors() async throws {
        let backend = try LearnerBackend()
        let broker = try await FakeOnlineBroker(backend: backend)
        defer { broker.shutdown() }
        let client = try await RecPoolClient(endpoint: broker.endpoint)
        defer { client.close() }
        let slate = try await client.recommendPolicy(
            query: RecommendQuery(userFeatures: ["user_feature_0": "u0_01"], top: 3))
        #expect(slate.items.count == 3 && slate.modelVersion == 1)

        let first = try await client.feedback(
            impressionId: slate.impressionId, item: slate.items[0].item, click: 1, dwellSeconds: 4)
        #expect(!first.duplicate)
        let again = try await client.feedback(impressionId: slate.impressionId, item: slate.items[0].item, click: 1)
        #expect(again.duplicate)
        await #expect(throws: ClientError.server(status: .notFound, message: "unknown impression", retryAfterMs: 0)) {
            try await client.feedback(impressionId: "nope", item: 1, click: 0)
        }
        let outside = (0..<40).first { item in !slate.items.contains { $0.item == item } }!
        await #expect(
            throws: ClientError.server(status: .badRequest, message: "item not in the slate", retryAfterMs: 0)
        ) {
            try await client.feedback(impressionId: slate.impressionId, item: outside, click: 0)
        }
        await #expect(throws: ClientError.invalidRequest("click must be 0 or 1, got 3")) {
            try await client.feedback(impressionId: slate.impressionId, item: 1, click: 3)
        }
        await #expect(throws: ClientError.invalidRequest("limit must be at least 1, got 0")) {
            try await client.impressions(limit: 0)
        }
    }

    @Test func theWholeLogIsPagedAndExportedThroughTheClient() async throws {
        let backend = try LearnerBackend(learning: false)
        let broker = try await FakeOnlineBroker(backend: backend, pageLimit: 7)
        defer { broker.shutdown() }
        let client = try await RecPoolClient(endpoint: broker.endpoint)
        defer { client.close() }
        _ = try await SimulationRunner.run(
            backend: PoolBackend(client: client), plan: SimulationPlan(users: 50, seed: 2, concurrency: 3, windows: 2))
        let (rows, spec, earlier) = try await client.allImpressions(pageSize: 5)
        #expect(earlier == 0)
        #expect(rows.map(\.seq) == backend.impressions.map(\.seq) && rows.count == 50)
        #expect(rows.allSatisfy { $0.clicks.count == 3 })
        let exported = try ImpressionExport.dataCSV(rows, spec: try #require(spec))
        #expect(exported.summary.rows == 150 && exported.summary.feedbackRows == 150)
    }
}
