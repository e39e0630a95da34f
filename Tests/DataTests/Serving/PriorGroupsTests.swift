import Foundation
import RecModel
import Testing

@testable import RecData

/// Retrieval for a ranker whose score is a bilinear term plus a prior per group of items (an online policy's bias per
/// id bucket): the index ranks by the bilinear term only, so a row of a high-prior group just outside the nearest
/// rows was lost; the completion (``PriorGroups``) adds every row that could still enter the top.
@Suite("Retrieval completed by grouped priors")
struct PriorGroupsTests {
    /// `n` items of two features drawn uniformly from [−1, 1]², ids `sku-<row>`, in `groups` groups (row mod
    /// groups), each group's prior drawn from ±`spread`.
    static func world(_ n: Int, groups: Int, spread: Float, seed: UInt64) throws -> (ItemCatalogue, [Int], [Float]) {
        var rng = Xoshiro256(seed: seed)
        let catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["x", "y"]), ids: (0..<n).map { "sku-\($0)" },
            features: (0..<(2 * n)).map { _ in Float(rng.nextDouble() * 2 - 1) })
        let prior = (0..<groups).map { _ in Float(rng.nextDouble() * 2 - 1) * spread }
        return (catalogue, (0..<n).map { $0 % groups }, prior)
    }

    /// The exhaustive top `k` of `q · e + prior` (ties by smaller row).
    static func exhaustiveTop(_ k: Int, state: [Float], catalogue: ItemCatalogue, group: [Int], prior: [Float]) -> [Int] {
        let scores = (0..<catalogue.count).map { row in
            zip(state, catalogue.row(row)).reduce(Float(0)) { $0 + $1.0 * $1.1 } + prior[group[row]]
        }
        return CandidateRanking.top(k, rows: Array(0..<catalogue.count), scores: scores)
    }

    static func retrievedTop(
        _ k: Int, state: [Float], catalogue: ItemCatalogue, retrieval: CatalogueRetrieval, group: [Int], prior: [Float]
    ) throws -> [Int] {
        let rows = try retrieval.candidates(state: state, catalogue: catalogue).rows
        let scores = rows.map { row in
            zip(state, catalogue.row(row)).reduce(Float(0)) { $0 + $1.0 * $1.1 } + prior[group[row]]
        }
        return CandidateRanking.top(k, rows: rows, scores: scores)
    }

    /// An index of `catalogue` under the identity model that gives `nearest` rows and nothing else (no popular, no
    /// newest rows: the bilinear term alone decides what the index gives), in the policy's index settings (these
    /// tests are of the completion, not of the index).
    static func index(_ catalogue: ItemCatalogue, nearest: Int) throws -> CatalogueRetrieval {
        try CatalogueRetrieval.build(
            catalogue: catalogue, model: CatalogueRetrievalTests.identity, embeddings: 1, catalogueVersion: 1,
            settings: RetrievalSettings(exhaustiveBelow: 1_000, nearest: nearest, popular: 0, newest: 0),
            parameters: CatalogueRetrieval.indexParameters)
    }

    /// `base` completed by `groups` (no per-row priors).
    static func completed(_ base: CatalogueRetrieval, _ catalogue: ItemCatalogue, _ groups: PriorGroups) throws
        -> CatalogueRetrieval
    {
        try base.with(
            model: CatalogueRetrievalTests.identity, priors: [Float](repeating: 0, count: catalogue.count),
            catalogue: catalogue, groups: groups)
    }

    @Test("with the grouped priors the top 10 is the exhaustive top 10 for every state; without them it is not")
    func completionRecoversTheExhaustiveTop() throws {
        let (catalogue, group, prior) = try Self.world(6_000, groups: 64, spread: 0.6, seed: 3)
        let plain = try Self.index(catalogue, nearest: 40)
        let grouped = try Self.completed(
            plain, catalogue, PriorGroups(group: group, prior: prior, features: catalogue.features))
        var plainKept = 0
        var groupedKept = 0
        var states = 0
        for angle in stride(from: 0.0, to: 2 * Double.pi, by: Double.pi / 12) {
            let state = [Float(cos(angle)), Float(sin(angle))]
            let want = Self.exhaustiveTop(10, state: state, catalogue: catalogue, group: group, prior: prior)
            let withGroups = try Self.retrievedTop(
                10, state: state, catalogue: catalogue, retrieval: grouped, group: group, prior: prior)
            let without = try Self.retrievedTop(
                10, state: state, catalogue: catalogue, retrieval: plain, group: group, prior: prior)
            #expect(withGroups == want, "angle \(angle)")
            groupedKept += Set(withGroups).intersection(want).count
            plainKept += Set(without).intersection(want).count
            states += 1
        }
        #expect(groupedKept == states * 10)
        // The example of the fault: rows of high-prior groups outside the 40 nearest were lost.
        #expect(plainKept < states * 10)
    }

    @Test("a retired or excluded row is never added by the completion")
    func completionKeepsTheGuards() throws {
        var (catalogue, group, prior) = try Self.world(3_000, groups: 16, spread: 5, seed: 4)
        let retrieval = try Self.completed(
            try Self.index(catalogue, nearest: 10), catalogue,
            PriorGroups(group: group, prior: prior, features: catalogue.features))
        let state: [Float] = [1, 0]
        let best = Self.exhaustiveTop(3, state: state, catalogue: catalogue, group: group, prior: prior)
        try catalogue.retire(id: "sku-\(best[0])")
        let found = try retrieval.candidates(state: state, catalogue: catalogue, excluding: [best[1]]).rows
        #expect(!found.contains(best[0]) && !found.contains(best[1]))
        #expect(found.contains(best[2]))
    }

    /// The index is asked for more rows than `nearest` when rows are excluded; those extra hits are no candidates, and
    /// counting them raised the threshold past a row that belonged in the top.
    @Test("hits searched for beyond `nearest` (room for excluded rows) neither raise the threshold nor lower the floor")
    func extraHitsAreNotCandidates() throws {
        let n = 2_000
        let catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["x", "y"]), ids: (0..<n).map { "sku-\($0)" },
            features: (0..<n).flatMap { [1 - 0.0005 * Float($0), 0] })
        let group = (0..<n).map { $0 == 2 ? 1 : 0 }
        let prior: [Float] = [0, 0.5]
        let retrieval = try Self.completed(
            try Self.index(catalogue, nearest: 2), catalogue,
            PriorGroups(group: group, prior: prior, features: catalogue.features, certifiedTop: 1))
        // Row 1,999 excluded: the index is asked for 3 rows (0, 1, 2) and only 0 and 1 are taken as nearest.
        let found = try retrieval.candidates(state: [1, 0], catalogue: catalogue, excluding: [n - 1])
        #expect(found.rows.contains(2), "\(found.rows)")
        #expect(!found.truncated)
    }

    @Test("a completion that reaches its scan limit with a group left says so")
    func truncationIsReported() throws {
        let (catalogue, group, prior) = try Self.world(6_000, groups: 4, spread: 50, seed: 5)
        let base = try Self.index(catalogue, nearest: 20)
        func candidates(limit: Int) throws -> RetrievedCandidates {
            try Self.completed(
                base, catalogue, PriorGroups(group: group, prior: prior, features: catalogue.features, scanLimit: limit)
            ).candidates(state: [1, 0], catalogue: catalogue)
        }
        // Priors far apart: every group with a larger prior than the hits' best must be scanned whole.
        #expect(try candidates(limit: 100).truncated)
        #expect(!(try candidates(limit: 16_384).truncated))
    }

    @Test("popular rows taken from the groups are the rows of largest prior, retired ones left out, without a pass over the rows")
    func popularRowsFromGroups() throws {
        var (catalogue, group, prior) = try Self.world(3_000, groups: 32, spread: 1, seed: 8)
        let base = try CatalogueRetrieval.build(
            catalogue: catalogue, model: CatalogueRetrievalTests.identity, embeddings: 1, catalogueVersion: 1,
            settings: RetrievalSettings(exhaustiveBelow: 1_000, nearest: 20, popular: 30, newest: 0))
        let groups = try PriorGroups(group: group, prior: prior, features: catalogue.features)
        let perRow = group.map { prior[$0] }
        try catalogue.retire(id: "sku-\(groups.rowsByGroup[Int(groups.order[0])][1])")
        let fromRows = try base.with(
            model: CatalogueRetrievalTests.identity, priors: perRow, catalogue: catalogue, groups: groups)
        let fromGroups = try base.with(model: CatalogueRetrievalTests.identity, catalogue: catalogue, groups: groups)
        #expect(fromGroups.popularRows.count == 120)
        #expect(fromGroups.popularRows == fromRows.popularRows)
        #expect(!fromGroups.popularRows.contains(Int(groups.rowsByGroup[Int(groups.order[0])][1])))
    }

    @Test("new priors keep the grouping and reorder the groups")
    func newPriors() throws {
        let groups = try PriorGroups(group: [0, 1, 2, 1], prior: [0.1, 0.5, -1], features: [Float](repeating: 0, count: 8))
        #expect(groups.order == [1, 0, 2])
        #expect(groups.rowsByGroup == [[0], [1, 3], [2]])
        let next = try groups.with(prior: [2, -3, 0])
        #expect(next.order == [0, 2, 1])
        #expect(next.rowsByGroup == groups.rowsByGroup && next.groupOfRow == groups.groupOfRow)
        #expect(next.prior(ofRow: 3) == -3)
        #expect(throws: RetrievalError.self) { try groups.with(prior: [1, 2]) }
        #expect(throws: RetrievalError.self) { try groups.with(prior: [1, .infinity, 2]) }
    }

    @Test("bad groups are typed errors naming the problem")
    func badGroups() throws {
        let features: [Float] = [0, 0, 1, 1]
        #expect(throws: RetrievalError.shape("row 1 is in group 3, outside the 2 groups")) {
            try PriorGroups(group: [0, 3], prior: [0, 1], features: features)
        }
        #expect(throws: RetrievalError.self) { try PriorGroups(group: [0, 1], prior: [0, .nan], features: features) }
        #expect(throws: RetrievalError.self) { try PriorGroups(group: [0, 1], prior: [0, 1], features: features, certifiedTop: 0) }
        let catalogue = try CatalogueRetrievalTests.ring(2_000)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: CatalogueRetrievalTests.identity, embeddings: 1, catalogueVersion: 1)
        // Groups of another catalogue are refused.
        #expect(throws: RetrievalError.self) {
            try retrieval.with(
                model: CatalogueRetrievalTests.identity, priors: [Float](repeating: 0, count: 2_000), catalogue: catalogue,
                groups: PriorGroups(group: [0, 1], prior: [0, 1], features: features))
        }
    }
}
