import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

@testable import Worker

/// A worker's retrieval index is kept for a new policy only when it was built from the same items: same rows, same
/// ids, same features. Same row count and active flags are not enough (an index built for other item features
/// would retrieve by stale vectors).
@Suite("RECOMMEND over a large catalogue: the index follows the items it was built from")
struct PolicyIndexIdentityTests {
    /// `catalogue` with row `row`'s features replaced by row `from`'s: same ids, count and active flags.
    static func redescribed(_ catalogue: ItemCatalogue, row: Int, from: Int) throws -> ItemCatalogue {
        var features = catalogue.features
        let w = catalogue.width
        for c in 0..<w { features[row * w + c] = catalogue.features[from * w + c] }
        return try ItemCatalogue(encoding: catalogue.encoding, ids: catalogue.ids, features: features, active: catalogue.active)
    }

    /// `catalogue` with one item appended (id `appended-item`, row 0's features, active).
    static func appended(_ c: ItemCatalogue) throws -> ItemCatalogue {
        try ItemCatalogue(
            encoding: c.encoding, ids: c.ids + ["appended-item"], features: c.features + c.features[0..<c.width],
            active: c.active + [true])
    }

    @Test("an item re-described with new features (same rows, same active flags) gets a new index that retrieves it by them")
    func redescribedItemRebuildsIndex() throws {
        let policy = try PolicyRetrievalTests.policy(items: 3_000)
        let snapshot = PolicySnapshot(builds: .inline)
        #expect(snapshot.publish(ServedPolicy(policy: policy, version: 5, learningEnabled: true, catalogueVersion: 1)) == nil)
        let before = try #require(snapshot.current?.retrieval?.retrieval)
        let user = onlineUser(0, spec: policy.spec)
        let z = try policy.userVector(user)
        let all = policy.catalogue.activeIndices
        let scores = policy.scores(z: z, items: all)
        let best = all[scores.indices.max { scores[$0] < scores[$1] }!]
        let worst = all[scores.indices.min { scores[$0] < scores[$1] }!]
        #expect(!(try before.candidates(state: z.map(Float.init), catalogue: policy.catalogue).rows.contains(worst)))

        // Catalogue version 2 describes the worst item as the best one: same count, same active flags.
        let catalogue = try Self.redescribed(policy.catalogue, row: worst, from: best)
        #expect(catalogue.count == policy.catalogue.count && catalogue.active == policy.catalogue.active)
        let next = try policy.with(catalogue: catalogue)
        #expect(snapshot.publish(ServedPolicy(policy: next, version: 5, learningEnabled: true, catalogueVersion: 2)) == nil)
        let after = try #require(snapshot.current?.retrieval?.retrieval)
        #expect(after.index !== before.index)
        #expect(after.index.version.description == "e0.c2.g1")
        #expect(try after.candidates(state: z.map(Float.init), catalogue: next.catalogue).rows.contains(worst))
    }

    @Test("an unchanged catalogue keeps the index, and an appended item is followed, not rebuilt")
    func unchangedAndAppendedKeepIndex() throws {
        let policy = try PolicyRetrievalTests.policy(items: 3_000)
        let snapshot = PolicySnapshot(builds: .inline)
        snapshot.publish(ServedPolicy(policy: policy, version: 1, learningEnabled: true, catalogueVersion: 1))
        let before = try #require(snapshot.current?.retrieval?.retrieval)
        snapshot.publish(ServedPolicy(policy: policy, version: 2, learningEnabled: true, catalogueVersion: 1))
        #expect(snapshot.current?.retrieval?.retrieval.index === before.index)
        let c = policy.catalogue
        let grown = try Self.appended(c)
        let next = try policy.with(catalogue: grown)
        snapshot.publish(ServedPolicy(policy: next, version: 2, learningEnabled: true, catalogueVersion: 2))
        let after = try #require(snapshot.current?.retrieval?.retrieval)
        #expect(after.index === before.index)
        #expect(after.index.contains(row: c.count))
        #expect(after.index.version.description == "e0.c2.g2")
    }

    @Test("the bucket biases that complete retrieval follow each published policy; an appended item joins its bucket")
    func priorGroupsFollowThePolicy() throws {
        let policy = try PolicyRetrievalTests.policy(items: 3_000)
        let snapshot = PolicySnapshot(builds: .inline)
        snapshot.publish(ServedPolicy(policy: policy, version: 1, learningEnabled: true, catalogueVersion: 1))
        let first = try #require(snapshot.current?.retrieval?.retrieval.groups)
        #expect(first.prior == policy.coefficients.bias.map(Float.init))
        #expect(first.groupOfRow.count == policy.catalogue.count)
        var rng = Xoshiro256(seed: 9)
        let sampled = try policy.sampled(rng: &rng)
        snapshot.publish(ServedPolicy(policy: sampled, version: 2, learningEnabled: true, catalogueVersion: 1))
        let second = try #require(snapshot.current?.retrieval?.retrieval.groups)
        #expect(second.prior == sampled.coefficients.bias.map(Float.init))
        #expect(second.prior != first.prior)
        #expect(second.rowsByGroup == first.rowsByGroup && second.groupOfRow == first.groupOfRow)
        let c = sampled.catalogue
        let grown = try Self.appended(c)
        let next = try sampled.with(catalogue: grown)
        snapshot.publish(ServedPolicy(policy: next, version: 2, learningEnabled: true, catalogueVersion: 2))
        let third = try #require(snapshot.current?.retrieval?.retrieval.groups)
        #expect(third.groupOfRow.count == c.count + 1)
        #expect(third.groupOfRow.last == Int32(next.bucket(of: c.count)))
        #expect(third.rowsByGroup[next.bucket(of: c.count)].contains(Int32(c.count)))
    }
}
