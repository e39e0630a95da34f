import Foundation
@testable import RecData
import RecModel
import Testing

@Suite struct ItemClustersTests {
    /// A catalogue of `n` items with two numeric features on a 2-d grid of spacing 1, in four well-separated blocks.
    static func blocks(_ n: Int) throws -> ItemCatalogue {
        var features: [Float] = []
        for i in 0..<n {
            let block = i % 4
            let (bx, by) = (Float(block % 2) * 100, Float(block / 2) * 100)
            features += [bx + Float((i / 4) % 10), by + Float((i / 40) % 10)]
        }
        return try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["x", "y"]), ids: (0..<n).map { "sku-\($0)" },
            features: features)
    }

    @Test func everyActiveRowIsInExactlyOneClusterWithItsRepresentativeAMemberAndTheSeedFixesThePartition() throws {
        var catalogue = try Self.blocks(400)
        try catalogue.retire(id: "sku-7")
        let clusters = try ItemClusters.build(catalogue: catalogue, clusters: 4, seed: 3)
        #expect(clusters.count == 4)
        let held = clusters.members.flatMap { $0 }
        #expect(held.sorted() == catalogue.activeIndices)
        #expect(clusters.clusterOfRow[7] == -1)
        for c in 0..<clusters.count {
            let rep = try #require(clusters.representatives[c])
            #expect(clusters.members[c].contains(rep))
            // Four separated blocks of 100 (one retired): k-means puts each block in one cluster.
            let blocks = Set(clusters.members[c].map { $0 % 4 })
            #expect(blocks.count == 1)
        }
        #expect(clusters.members.map(\.count).sorted() == [99, 100, 100, 100])
        #expect(try ItemClusters.build(catalogue: catalogue, clusters: 4, seed: 3) == clusters)
        // More clusters than items: one per item at most.
        let small = try Self.blocks(3)
        #expect(try ItemClusters.build(catalogue: small, clusters: 10).count == 3)
        #expect(throws: RetrievalError.self) { try ItemClusters.build(catalogue: small, clusters: 0) }
    }

    @Test func theBestClustersAreTakenWholeUntilTheBudgetAndRetiredOrExcludedRowsAreLeftOut() throws {
        let catalogue = try Self.blocks(400)
        let clusters = try ItemClusters.build(catalogue: catalogue, clusters: 4, seed: 3)
        // Score each cluster by its centroid's x + y: the block at (100, 100) is best, then the two at 100 + 0.
        let scores = (0..<4).map { clusters.centroids[2 * $0] + clusters.centroids[2 * $0 + 1] }
        let best = try #require(scores.indices.max { scores[$0] < scores[$1] })
        var active = catalogue.active
        active[3] = false  // row 3 is in the block at (100, 100)
        let rows = clusters.rows(bestOf: scores, budget: 50, active: active, excluding: [7])
        #expect(Set(rows) == Set(clusters.members[best]).subtracting([3, 7]))
        #expect(rows.allSatisfy { $0 % 4 == 3 })
        // A budget past one cluster takes the next best whole.
        #expect(clusters.rows(bestOf: scores, budget: 101, active: catalogue.active).count == 200)
    }

    @Test func anAddedItemJoinsItsNearestCentroidAndARetiredOneLeavesItsClusterAndIsNeverTaken() throws {
        var catalogue = try Self.blocks(400)
        var clusters = try ItemClusters.build(catalogue: catalogue, clusters: 4, seed: 3)
        let row = try catalogue.add(id: "sku-new", fields: ["x": "104.5", "y": "3"])
        let change = try clusters.follow(catalogue)
        #expect(change.added == 1 && change.removed == 0)
        let joined = Int(clusters.clusterOfRow[row])
        #expect(clusters.members[joined].contains(row))
        #expect(clusters.members[joined].filter { $0 != row }.allSatisfy { $0 % 4 == 1 })  // the block at (100, 0)
        #expect(clusters.members[joined] == clusters.members[joined].sorted())

        // Retire the representative of that cluster: it leaves, and the cluster gets another representative.
        let rep = try #require(clusters.representatives[joined])
        try catalogue.retire(id: catalogue.ids[rep])
        let second = try clusters.follow(catalogue)
        #expect(second.added == 0 && second.removed == 1)
        #expect(!clusters.members[joined].contains(rep))
        #expect(clusters.clusterOfRow[rep] == -1)
        let next = try #require(clusters.representatives[joined])
        #expect(next != rep && clusters.members[joined].contains(next))
        var scores = [Float](repeating: 0, count: 4)
        scores[joined] = 1
        #expect(!clusters.rows(bestOf: scores, budget: 1_000, active: catalogue.active).contains(rep))
        // Following again changes nothing; a catalogue of another width is refused.
        let third = try clusters.follow(catalogue)
        #expect(third.added == 0 && third.removed == 0)
        let narrow = try ItemCatalogue(encoding: ItemEncoding(categorical: [], numeric: ["x"]), ids: ["a"], features: [1])
        #expect(throws: RetrievalError.self) { try clusters.follow(narrow) }
    }

    @Test func clusterRetrievalFindsTheExhaustiveTopTenOfAnMLPRankerOnASimulatorCatalogue() throws {
        let ranked = RankedSimulatorWorld(items: 20_000, users: 300, seed: 11, samples: 6_000, epochs: 2)
        let (world, catalogue, ranker) = (ranked.world, ranked.catalogue, ranked.ranker)
        let clusters = try ItemClusters.build(catalogue: catalogue, clusters: 566)
        let all = catalogue.activeIndices
        #expect(clusters.representatives.allSatisfy { $0 != nil })
        var kept = 0
        var largest = 0
        let users = Array(200..<240)
        for user in users {
            let state = RetrievalWorld.state(world: world, user: user)
            let exhaustive = CandidateRanking.top(
                10, rows: all, scores: CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: all))
            let found = ClusterSearch.byRepresentatives(
                10, ranker: ranker, state: state, catalogue: catalogue, clusters: clusters, budget: 1_000)
            largest = max(largest, found.scored)
            #expect(found.rows.count == 10)
            kept += Set(exhaustive).intersection(found.rows).count
        }
        let recall = Double(kept) / Double(users.count * 10)
        #expect(recall >= 0.95, "recall \(recall)")
        #expect(largest < 5_000)
    }

    @Test func theBoundSearchBoundsEveryMemberAndWithoutABudgetReturnsTheExhaustiveTopTen() throws {
        let ranked = RankedSimulatorWorld(items: 3_000, users: 50, seed: 5, samples: 2_000, epochs: 1)
        let (world, catalogue, ranker) = (ranked.world, ranked.catalogue, ranked.ranker)
        let clusters = try ItemClusters.build(catalogue: catalogue, clusters: 60)
        let all = catalogue.activeIndices
        for user in 0..<5 {
            let state = RetrievalWorld.state(world: world, user: user)
            let scores = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: all)
            let bounds = ClusterSearch.upperBounds(ranker: ranker, state: state, clusters: clusters)
            for row in all { #expect(scores[row] <= bounds[Int(clusters.clusterOfRow[row])] + 1e-4) }
            let found = ClusterSearch.top(
                10, ranker: ranker, state: state, catalogue: catalogue, clusters: clusters, budget: .max)
            #expect(found.exact)
            #expect(found.rows == CandidateRanking.top(10, rows: all, scores: scores))
        }
    }
}
