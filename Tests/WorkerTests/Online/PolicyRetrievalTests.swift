import RecData
import RecModel
import RecPolicy
import RecTransport
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
        let snapshot = PolicySnapshot(builds: .inline)
        #expect(snapshot.publish(ServedPolicy(policy: try Self.policy(items: 40), version: 1, learningEnabled: true)) == nil)
        #expect(snapshot.current?.retrieval == nil)
    }

    @Test("the slate comes from retrieval's candidates, which hold the policy's exhaustive top ten, with exact propensities")
    func slateFromCandidates() throws {
        let policy = try Self.policy(items: 4_000)
        let snapshot = PolicySnapshot(builds: .inline)
        // Policy version 3 over registry catalogue version 7: the index names the catalogue, not the policy.
        #expect(
            snapshot.publish(ServedPolicy(policy: policy, version: 3, learningEnabled: true, catalogueVersion: 7)) == nil)
        let served = try #require(snapshot.current)
        let retrieval = try #require(served.retrieval?.retrieval)
        var kept = 0
        let all = policy.catalogue.activeIndices
        for n in 0..<20 {
            let user = onlineUser(n, spec: policy.spec)
            let z = try policy.userVector(user)
            let exact = CandidateRanking.top(10, rows: all, scores: policy.scores(z: z, items: all).map(Float.init))
            let found = try retrieval.candidates(state: z.map(Float.init), catalogue: policy.catalogue)
            #expect(found.version?.catalogue == 7)
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
        #expect(String(decoding: reply.payload[1], as: UTF8.self).contains("\"retrieval\":\"e0.c7.g1\""))
        #expect(record.version == 3)
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
        let snapshot = PolicySnapshot(builds: .inline)
        snapshot.publish(ServedPolicy(policy: policy, version: 5, learningEnabled: true, catalogueVersion: 1))
        let user = onlineUser(0, spec: policy.spec)
        let z = try policy.userVector(user).map(Float.init)
        let before = try #require(snapshot.current?.retrieval?.retrieval)
        let best = try before.candidates(state: z, catalogue: policy.catalogue).rows[0]
        var catalogue = policy.catalogue
        try catalogue.retire(id: catalogue.ids[best])
        let next = try policy.with(catalogue: catalogue)
        // The policy moves to catalogue version 2 keeping its version (5): the index follows the catalogue's number.
        #expect(
            snapshot.publish(ServedPolicy(policy: next, version: 5, learningEnabled: true, catalogueVersion: 2)) == nil)
        let after = try #require(snapshot.current?.retrieval?.retrieval)
        #expect(after.index === before.index)
        #expect(!after.index.contains(row: best))
        #expect(after.index.version.catalogue == 2)
        #expect(after.index.version.description == "e0.c2.g2")
        #expect(!(try after.candidates(state: z, catalogue: next.catalogue).rows.contains(best)))
    }

    @Test("the same rows under another catalogue version keep the index and relabel it: the log names the catalogue in force")
    func sameRowsNewCatalogueVersion() throws {
        let policy = try Self.policy(items: 3_000)
        let snapshot = PolicySnapshot(builds: .inline)
        snapshot.publish(ServedPolicy(policy: policy, version: 4, learningEnabled: true, catalogueVersion: 2))
        let before = try #require(snapshot.current?.retrieval?.retrieval)
        #expect(before.index.version.description == "e0.c2.g1")
        snapshot.publish(ServedPolicy(policy: policy, version: 5, learningEnabled: true, catalogueVersion: 3))
        let after = try #require(snapshot.current?.retrieval?.retrieval)
        #expect(after.index === before.index && after.index.version.description == "e0.c3.g1")
        // A catalogue the POLICY inlined (the simulator world's) has no registry version: c0, never the policy's.
        let inline = PolicySnapshot(builds: .inline)
        inline.publish(ServedPolicy(policy: policy, version: 9, learningEnabled: true))
        #expect(inline.current?.retrieval?.retrieval.index.version.description == "e0.c0.g1")
    }

    /// Index builds held until the test runs them.
    final class HeldBuilds: Sendable {
        let work = LockedBox<[(UInt64, @Sendable () -> Void)]>([])
        let outcomes = LockedBox<[(UInt64, String?)]>([])

        var builds: IndexBuilds {
            IndexBuilds(
                start: { version, job in self.work.withLock { $0.append((version, job)) } },
                finished: { version, outcome, _ in
                    self.outcomes.withLock { $0.append((version, (try? outcome.get()) ?? "failed")) }
                })
        }

        /// Runs the held builds, as the build thread would.
        func runAll() {
            for (_, job) in work.withLock({ jobs in defer { jobs = [] }; return jobs }) { job() }
        }
    }

    @Test(
        "the index is built off the publishing thread: every item is scored meanwhile, and the finished index follows the newest catalogue"
    )
    func indexBuildsElsewhere() throws {
        let policy = try Self.policy(items: 3_000)
        let held = HeldBuilds()
        let snapshot = PolicySnapshot(builds: held.builds)
        #expect(snapshot.publish(ServedPolicy(policy: policy, version: 1, learningEnabled: true)) == nil)
        // Published at once, without retrieval: exhaustive scoring, so the impression is exact (retrieval null).
        #expect(snapshot.current?.version == 1 && snapshot.current?.retrieval == nil)
        #expect(snapshot.buildingIndex == 1)
        #expect(held.work.withLock { $0.map(\.0) } == [1])
        var sampler = PolicySampler(seed: 9, prefix: 1)
        let user = onlineUser(0, spec: policy.spec)
        let query = WireMessage(
            header: Header(command: .recommend, requestId: 1),
            payload: [WireJSON.encode(RecommendQuery(userFeatures: user, top: 3))])
        let exhaustive = PolicyRecommendHandler.answer(
            query, served: try #require(snapshot.current), sampler: &sampler, nowEpochMillis: 1)
        #expect(exhaustive.header.status == .ok)
        #expect(try WireJSON.decode(ImpressionRecord.self, from: exhaustive.payload[1]).retrieval == nil)

        // While the build runs, the catalogue retires the policy's best item for this user: a second publish
        // serves the new catalogue at once and starts no second build.
        let z = try policy.userVector(user)
        let best = CandidateRanking.top(
            1, rows: policy.catalogue.activeIndices,
            scores: policy.scores(z: z, items: policy.catalogue.activeIndices).map(Float.init))[0]
        var catalogue = policy.catalogue
        try catalogue.retire(id: catalogue.ids[best])
        let next = try policy.with(catalogue: catalogue)
        #expect(
            snapshot.publish(ServedPolicy(policy: next, version: 2, learningEnabled: true, catalogueVersion: 4)) == nil)
        #expect(snapshot.current?.version == 2 && snapshot.current?.retrieval == nil)
        #expect(held.work.withLock { $0.count } == 1)

        held.runAll()
        #expect(snapshot.buildingIndex == nil)
        let served = try #require(snapshot.current)
        let retrieval = try #require(served.retrieval?.retrieval)
        // Built from the first catalogue, then brought up to catalogue version 4: the retired item left the index.
        #expect(served.version == 2 && retrieval.index.version.catalogue == 4)
        #expect(!retrieval.index.contains(row: best))
        #expect(held.outcomes.withLock { $0.map(\.0) } == [1])
        #expect(held.outcomes.withLock { $0.first?.1 } == retrieval.index.version.description)
        let reply = PolicyRecommendHandler.answer(query, served: served, sampler: &sampler, nowEpochMillis: 2)
        let record = try WireJSON.decode(ImpressionRecord.self, from: reply.payload[1])
        #expect(record.retrieval == retrieval.index.version.description)
        #expect(!record.slate.contains(best))

        // Later publishes reuse the index and start no build.
        #expect(snapshot.publish(ServedPolicy(policy: next, version: 3, learningEnabled: true)) == nil)
        #expect(snapshot.current?.retrieval?.retrieval.index === retrieval.index)
        #expect(held.work.withLock { $0.isEmpty } && snapshot.buildingIndex == nil)
    }
}
