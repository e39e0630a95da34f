import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

@testable import Worker

@Suite("RECOMMEND over a large catalogue: retrieval, then the policy")
struct PolicyRetrievalTests {
    /// A policy over a simulator catalogue of `items` items scoring with a Thompson sample of its prior, so that
    /// its ranking is not flat.
    static func policy(items: Int) throws -> OnlinePolicy {
        var config = SimulatorConfig()
        config.items = items
        config.users = 100
        var rng = Xoshiro256(seed: 5)
        return try OnlinePolicy.initial(spec: SimulatorCatalog.spec(world: SimulatorWorld(config: config)))
            .sampled(rng: &rng)
    }

    @Test("a small catalogue gets no retrieval: every active item is scored")
    func smallCatalogueIsExhaustive() throws {
        let snapshot = PolicySnapshot()
        #expect(snapshot.publish(ServedPolicy(policy: try Self.policy(items: 40), version: 1, learningEnabled: true)) == nil)
        #expect(snapshot.current?.retrieval == nil)
    }

    @Test("the slate comes from retrieval's candidates, which hold the policy's exhaustive top ten, with exact propensities")
    func slateFromCandidates() throws {
        let policy = try Self.policy(items: 4_000)
        let snapshot = PolicySnapshot()
        #expect(snapshot.publish(ServedPolicy(policy: policy, version: 3, learningEnabled: true)) == nil)
        let served = try #require(snapshot.current)
        let retrieval = try #require(served.retrieval?.retrieval)
        var kept = 0
        let all = policy.catalogue.activeIndices
        for n in 0..<20 {
            let user = onlineUser(n, spec: policy.spec)
            let z = try policy.userVector(user)
            let exact = CandidateRanking.top(10, rows: all, scores: policy.scores(z: z, items: all).map(Float.init))
            let found = try retrieval.candidates(state: z.map(Float.init), catalogue: policy.catalogue)
            #expect(found.version?.catalogue == 3)
            kept += Set(exact).intersection(found.rows).count
        }
        #expect(Double(kept) / 200 >= 0.95)

        var sampler = PolicySampler(seed: 9, prefix: 1)
        let user = onlineUser(1, spec: policy.spec)
        let reply = PolicyRecommendHandler.answer(
            WireMessage(
                header: Header(command: .recommend, requestId: 1),
                payload: [WireJSON.encode(RecommendQuery(userFeatures: user, top: 3))]),
            served: served, sampler: &sampler, nowEpochMillis: 1)
        #expect(reply.header.status == .ok)
        let record = try WireJSON.decode(ImpressionRecord.self, from: reply.payload[1])
        #expect(record.retrieval == retrieval.index.version.description)
        #expect(String(decoding: reply.payload[1], as: UTF8.self).contains("\"retrieval\":\"e0.c3.g1\""))
        let z = try policy.userVector(user)
        let pool = try retrieval.candidates(state: z.map(Float.init), catalogue: policy.catalogue).rows
        #expect(record.slate.allSatisfy(pool.contains))
        let exactPropensities = try policy.slotProbabilities(
            q: policy.scores(z: z, items: pool), pool: pool, slate: record.slate)
        for (logged, exact) in zip(record.propensities, exactPropensities) { #expect(abs(logged - max(exact, 1e-12)) < 1e-12) }
    }

    @Test("a retired item is never a candidate once the policy's catalogue retires it, and the index drops it")
    func retiredItemLeavesTheIndex() throws {
        let policy = try Self.policy(items: 3_000)
        let snapshot = PolicySnapshot()
        snapshot.publish(ServedPolicy(policy: policy, version: 1, learningEnabled: true))
        let user = onlineUser(0, spec: policy.spec)
        let z = try policy.userVector(user).map(Float.init)
        let before = try #require(snapshot.current?.retrieval?.retrieval)
        let best = try before.candidates(state: z, catalogue: policy.catalogue).rows[0]
        var catalogue = policy.catalogue
        try catalogue.retire(id: catalogue.ids[best])
        let next = try policy.with(catalogue: catalogue)
        #expect(snapshot.publish(ServedPolicy(policy: next, version: 2, learningEnabled: true)) == nil)
        let after = try #require(snapshot.current?.retrieval?.retrieval)
        #expect(after.index === before.index)
        #expect(!after.index.contains(row: best))
        #expect(after.index.version.catalogue == 2)
        #expect(!(try after.candidates(state: z, catalogue: next.catalogue).rows.contains(best)))
    }
}
