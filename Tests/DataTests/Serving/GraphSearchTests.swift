import Foundation
@testable import RecData
import RecIndex
import RecModel
import Testing

/// The ranker's own walk of a retrieval index's proximity graph (``GraphSearch``), and the graph's links it reads
/// (``ItemIndex/neighbours(of:)``).
@Suite struct GraphSearchTests {
    /// An index in the Euclidean reduction over the catalogue's item inputs (one row a vector, rows as labels), so
    /// its base level links each item to items with similar inputs.
    static func inputIndex(_ catalogue: ItemCatalogue) throws -> ItemIndex {
        let index = try ItemIndex(
            dimension: catalogue.width, version: IndexVersion(embeddings: 1, catalogue: 1),
            parameters: IndexParameters(euclideanReduction: true), capacity: catalogue.count)
        try index.add(rows: Array(0..<catalogue.count), vectors: catalogue.features)
        return index
    }

    @Test func aRowsNeighboursAreOtherRowsOfTheIndexAndAnUnknownRowIsNamed() throws {
        let ranked = RankedSimulatorWorld(items: 500, users: 20, seed: 3, samples: 500, epochs: 1)
        let index = try Self.inputIndex(ranked.catalogue)
        for row in [0, 17, 499] {
            let links = try index.neighbours(of: row)
            #expect(!links.isEmpty && links.count <= 2 * index.parameters.m)
            #expect(links.allSatisfy { $0 >= 0 && $0 < 500 && $0 != row })
        }
        #expect(throws: IndexError.unknownRow(500)) { try index.neighbours(of: 500) }
        #expect(throws: IndexError.negativeRow(-1)) { try index.neighbours(of: -1) }
    }

    /// Seeds that miss most of the exhaustive top 10 (200 rows taken at random); the walk finds most of them, scoring
    /// at most 5,000 of the 20,000 items, and never scores or returns a retired item.
    @Test func theWalkFromPoorSeedsFindsMostOfTheExhaustiveTopTenAndNeverARetiredRow() throws {
        let ranked = RankedSimulatorWorld(items: 20_000, users: 300, seed: 11, samples: 6_000, epochs: 2)
        var catalogue = ranked.catalogue
        let index = try Self.inputIndex(catalogue)
        var retired = Set<Int>()
        for row in stride(from: 7, to: 20_000, by: 97) {
            try catalogue.retire(id: catalogue.ids[row])
            retired.insert(row)
        }
        let all = catalogue.activeIndices
        var rng = Xoshiro256(seed: 9)
        var (seedKept, kept, largest) = (0, 0, 0)
        let users = Array(200..<230)
        for user in users {
            let state = RetrievalWorld.state(world: ranked.world, user: user)
            let scores = CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: catalogue, rows: all)
            let exhaustive = CandidateRanking.top(10, rows: all, scores: scores)
            let seeds = (0..<200).map { _ in all[rng.nextInt(below: all.count)] }
            let seedScores = CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: catalogue, rows: seeds)
            seedKept += Set(exhaustive).intersection(CandidateRanking.top(10, rows: seeds, scores: seedScores)).count
            let found = GraphSearch.refine(
                10, ranker: ranked.ranker, state: state, catalogue: catalogue, index: index,
                scored: Array(zip(seeds, seedScores)), beam: 40, expand: 8, budget: 5_000)
            #expect(found.rows.count == 10 && found.scored <= 5_000)
            #expect(retired.isDisjoint(with: found.rows))
            // Each score is the ranker's own (to rounding: a batch's GEMM may sum in another order).
            for (row, score) in zip(found.rows, found.scores) {
                #expect(abs(score - scores[all.firstIndex(of: row)!]) <= 1e-5)
            }
            largest = max(largest, found.scored)
            kept += Set(exhaustive).intersection(found.rows).count
        }
        let (seedRecall, recall) = (Double(seedKept) / Double(users.count * 10), Double(kept) / Double(users.count * 10))
        // Measured 0.90 after the walk (from seeds that keep under 0.3): a walk is a local search, and a few of the
        // best items lie past a worse region of the graph.
        #expect(seedRecall < 0.3, "the seeds alone: \(seedRecall)")
        #expect(recall >= 0.85 && recall >= seedRecall + 0.5, "after the walk: \(recall) (seeds \(seedRecall), scored at most \(largest))")
    }

    @Test func aBudgetOfNothingReturnsTheSeedsBest() throws {
        let ranked = RankedSimulatorWorld(items: 2_000, users: 20, seed: 2, samples: 500, epochs: 1)
        let index = try Self.inputIndex(ranked.catalogue)
        let state = RetrievalWorld.state(world: ranked.world, user: 3)
        let seeds = Array(0..<50)
        let q = CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: ranked.catalogue, rows: seeds)
        let found = GraphSearch.refine(
            10, ranker: ranked.ranker, state: state, catalogue: ranked.catalogue, index: index,
            scored: Array(zip(seeds, q)), budget: 0)
        #expect(found.scored == 0 && found.rows == CandidateRanking.top(10, rows: seeds, scores: q))
    }
}
