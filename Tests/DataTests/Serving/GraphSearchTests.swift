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

    /// The 20,000-item ranked world, its input index (built before any retirement), and its catalogue with every
    /// `every`-th row from `from` retired.
    static func retiredWorld(from: Int, every: Int) throws
        -> (RankedSimulatorWorld, ItemCatalogue, ItemIndex, Set<Int>)
    {
        let ranked = RankedSimulatorWorld(items: 20_000, users: 300, seed: 11, samples: 6_000, epochs: 2)
        var catalogue = ranked.catalogue
        let index = try inputIndex(catalogue)
        let retired = Set(stride(from: from, to: 20_000, by: every))
        for row in retired.sorted() { try catalogue.retire(id: catalogue.ids[row]) }
        return (ranked, catalogue, index, retired)
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
        let (ranked, catalogue, index, retired) = try Self.retiredWorld(from: 7, every: 97)
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

    /// Seeds from one corner of the graph (a random row and its graph neighbourhood): the main walk climbs only the
    /// peak near them. Restarts from the best 16 of a fixed sample of 1,000 rows spread over the catalogue climb the
    /// others. Every row is scored once, a restart that is also a seed is returned once, and each walk keeps its budget.
    @Test func restartsFromASpreadSampleClimbPeaksTheMainWalkNeverReaches() throws {
        let (ranked, catalogue, index, retired) = try Self.retiredWorld(from: 5, every: 101)
        let all = catalogue.activeIndices
        let sample = stride(from: 0, to: all.count, by: all.count / 1_000).map { all[$0] }
        var rng = Xoshiro256(seed: 4)
        var (plainKept, restartKept) = (0, 0)
        let users = Array(200..<230)
        for user in users {
            let state = RetrievalWorld.state(world: ranked.world, user: user)
            let scores = CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: catalogue, rows: all)
            let exhaustive = Set(CandidateRanking.top(10, rows: all, scores: scores))
            // A corner: a random active row and the rows within two links of it.
            let start = all[rng.nextInt(below: all.count)]
            var corner = [start]
            for row in [start] + (try index.neighbours(of: start)) {
                corner += try index.neighbours(of: row)
            }
            corner = Array(Set(corner)).sorted().filter { catalogue.active[$0] }
            let seeds = Array(zip(corner, CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: catalogue, rows: corner)))
            let sq = CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: catalogue, rows: sample)
            var restarts = TopK.largestPairs(Array(zip(sample, sq)), count: 16)
            restarts.append(seeds[0])
            let plain = GraphSearch.refine(
                10, ranker: ranked.ranker, state: state, catalogue: catalogue, index: index, scored: seeds, budget: 300)
            let found = GraphSearch.refine(
                10, ranker: ranked.ranker, state: state, catalogue: catalogue, index: index, scored: seeds, budget: 300,
                restarts: restarts, restartBudget: 400)
            #expect(Set(found.rows).count == 10 && retired.isDisjoint(with: found.rows))
            // Everything scored, each row once: the seed among the restarts too.
            let everything = GraphSearch.refine(
                100_000, ranker: ranked.ranker, state: state, catalogue: catalogue, index: index, scored: seeds,
                budget: 300, restarts: restarts, restartBudget: 400)
            #expect(Set(everything.rows).count == everything.rows.count)
            #expect(everything.rows.count == Set(seeds.map(\.0)).union(restarts.map(\.0)).count + everything.scored)
            // Scored once: the walks' rows are distinct and none was a seed or a restart.
            let given = Set(seeds.map(\.0)).union(restarts.map(\.0))
            #expect(Set(found.walked).count == found.walked.count && given.isDisjoint(with: found.walked))
            #expect(found.scored <= 300 + 17 * 400 && retired.isDisjoint(with: found.walked))
            let truth = Dictionary(uniqueKeysWithValues: zip(all, scores))
            for (row, score) in zip(found.rows, found.scores) {
                let expected = try #require(truth[row], "row \(row) is not active")
                #expect(abs(score - expected) <= 1e-5)
            }
            plainKept += exhaustive.intersection(plain.rows).count
            restartKept += exhaustive.intersection(found.rows).count
        }
        let (plain, restarted) = (Double(plainKept) / Double(users.count * 10), Double(restartKept) / Double(users.count * 10))
        // Measured 0.98 with restarts and 0.35 from the corner alone (main walk's budget 300).
        #expect(restarted >= 0.9 && restarted >= plain + 0.3, "with restarts \(restarted), from the corner alone \(plain)")
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
        // Each walk keeps its own budget: a restart's walk scores at most its 5 rows, the main walk none.
        let restart = (1_000, CandidateRanking.scores(ranker: ranked.ranker, state: state, catalogue: ranked.catalogue, rows: [1_000])[0])
        let restarted = GraphSearch.refine(
            10, ranker: ranked.ranker, state: state, catalogue: ranked.catalogue, index: index,
            scored: Array(zip(seeds, q)), budget: 0, restarts: [restart], restartBudget: 5)
        #expect(restarted.scored >= 1 && restarted.scored <= 5, "\(restarted.scored)")
    }
}
