import RecIndex
import RecModel

/// Best-first search by the ranker itself over the retrieval index's proximity graph: from another retrieval's
/// best candidates, the ranker scores the graph neighbours of the best rows it has not expanded yet, a round at a
/// time, until the best `beam` rows scored are all expanded or `budget` rows are scored.
///
/// The index's base level links each item to its nearest items in the index's space (HNSW, Malkov & Yashunin 2018),
/// so the graph is a proximity graph over the items that a scorer other than the index's inner product can walk:
/// Tan et al., "Fast Item Ranking under Neural Network based Measures" (WSDM 2020) search such a graph with the
/// neural measure directly. Here it corrects the candidates of a retrieval model that only approximates the ranker
/// (``BilinearRetrieval``): an item the ranker scores above them but the model placed further away lies near them
/// in the graph.
public enum GraphSearch {
    /// What the search found.
    public struct Found: Sendable, Equatable {
        /// The best `k` rows of the seeds, the restarts and the walks, best first, each once, and their scores.
        public var rows: [Int]
        public var scores: [Float]
        /// The rows the walk scored (beyond the seeds), in the order scored, and their scores.
        public var walked: [Int]
        public var walkedScores: [Float]
        /// Rounds of expansion.
        public var rounds: Int

        /// Rows the walk scored.
        public var scored: Int { walked.count }
    }

    /// Refines `scored` (rows with the ranker's scores) by walking `index`'s graph.
    ///
    /// **Restarts.** One walk is a local search: it climbs to the best rows near where it starts, and where the
    /// ranker has another peak far from the first retrieval's candidates (a catalogue of a million items has
    /// several), no walk from them reaches it. Each of `restarts` (rows already scored, say the best of a fixed
    /// sample spread over the catalogue) starts a walk of its own after the main one, with its own beam, so a peak
    /// none of the candidates is near is still climbed. The walks share what is scored and expanded: a walk that
    /// reaches ground another has covered stops there, and no row is scored twice.
    /// - Parameters:
    ///   - k: how many rows to return.
    ///   - index: the retrieval index whose base-level links are walked (its rows are the scorer's rows); a row the
    ///     index no longer holds live (a retired item) is never scored: ``ItemIndex/neighbours(of:)`` leaves it out.
    ///   - scored: the first retrieval's candidates and their scores.
    ///   - beam: how many of the best rows scored must be expanded before the main walk stops (at least `k`).
    ///   - expand: rows expanded a round (their neighbours are scored in one batch).
    ///   - budget: the most rows scored in the main walk.
    ///   - restarts: more scored rows, each the start of a walk of its own (they are among the rows returned).
    ///   - restartBeam: each restart's beam.
    ///   - restartExpand: rows a restart's walk expands a round.
    ///   - restartBudget: the most rows scored in each restart's walk.
    ///   - admits: whether a row may be scored at all (besides being live in the index).
    ///   - score: the ranker's scores of a batch of rows, in order.
    /// - Returns: the best `k` of everything scored, and what the walks scored.
    /// - Throws: what `score` throws.
    public static func refine<E: Error>(
        _ k: Int, index: ItemIndex, scored: [(Int, Float)], beam: Int = 40, expand: Int = 8, budget: Int = 4_000,
        restarts: [(Int, Float)] = [], restartBeam: Int = 10, restartExpand: Int = 2, restartBudget: Int = 400,
        admits: (Int) -> Bool = { _ in true }, score: ([Int]) throws(E) -> [Float]
    ) throws(E) -> Found {
        var state = Walks()
        for (row, value) in scored where state.known[row] == nil { state.known[row] = value }
        // Every restart is walked from; one that is also a seed (or repeated) keeps its first score and is returned once.
        var fresh: [(Int, Float)] = []
        for (row, value) in restarts where state.known[row] == nil {
            state.known[row] = value
            fresh.append((row, value))
        }
        try state.walk(
            from: scored, width: max(beam, k), expand: expand, budget: budget, index: index, admits: admits, score: score)
        for start in restarts {
            try state.walk(
                from: [start], width: restartBeam, expand: restartExpand, budget: restartBudget, index: index,
                admits: admits, score: score)
        }
        let top = TopK.largestPairs(scored + fresh + zip(state.walked, state.walkedScores), count: k)
        return Found(
            rows: top.map(\.0), scores: top.map(\.1), walked: state.walked, walkedScores: state.walkedScores,
            rounds: state.rounds)
    }

    /// What the walks of one search share: every row scored (the seeds' and the walks') with its score, the rows
    /// refused by `admits`, and the rows expanded.
    struct Walks {
        var known: [Int: Float] = [:]
        var refused = Set<Int>()
        var expanded = Set<Int>()
        var walked: [Int] = []
        var walkedScores: [Float] = []
        var rounds = 0

        /// One walk from `start`: expands the best `width` rows it has reached, `expand` a round, until they are all
        /// expanded or it has scored `budget` rows. A row another walk expanded is not expanded again, so a walk
        /// that runs into covered ground stops.
        mutating func walk<E: Error>(
            from start: [(Int, Float)], width: Int, expand: Int, budget: Int, index: ItemIndex,
            admits: (Int) -> Bool, score: ([Int]) throws(E) -> [Float]
        ) throws(E) {
            var reached = start
            var inWalk = Set(start.map(\.0))
            var scoredHere = 0
            var expandedHere = 0
            // Every expansion reads a row's links under the index's lock: a walk expands at most `budget + width`
            // rows, even where the neighbours are all seen already and nothing is scored.
            while scoredHere < budget && expandedHere < budget + width {
                let best = TopK.largestPairs(reached, count: width)
                let next = Array(best.map(\.0).filter { !expanded.contains($0) }.prefix(expand))
                if next.isEmpty { break }
                var batch: [Int] = []
                for row in next {
                    expanded.insert(row)
                    expandedHere += 1
                    // A row the index cannot read (it never held it; hnswlib failed) is not expanded: the walk only
                    // adds rows to the candidates, which stand whatever it finds.
                    guard let links = try? index.neighbours(of: row) else { continue }
                    for n in links where inWalk.insert(n).inserted {
                        // A row another walk (or the seeds) scored joins this walk's reach without a second score.
                        if let value = known[n] {
                            reached.append((n, value))
                        } else if !refused.contains(n) {
                            if admits(n) { batch.append(n) } else { refused.insert(n) }
                        }
                    }
                }
                rounds += 1
                if batch.isEmpty { continue }
                if scoredHere + batch.count > budget { batch = Array(batch.prefix(budget - scoredHere)) }
                let q = try score(batch)
                for (row, value) in zip(batch, q) { known[row] = value }
                reached += zip(batch, q)
                walked += batch
                walkedScores += q
                scoredHere += batch.count
            }
        }
    }

    /// ``refine(_:index:scored:beam:expand:budget:restarts:restartBeam:restartExpand:restartBudget:admits:score:)`` with a ``QNetwork`` ranker over `catalogue`'s item
    /// inputs; a row not active in `catalogue` is never scored.
    public static func refine(
        _ k: Int, ranker: QNetwork, state: [Float], catalogue: ItemCatalogue, index: ItemIndex,
        scored: [(Int, Float)], beam: Int = 40, expand: Int = 8, budget: Int = 4_000, restarts: [(Int, Float)] = [],
        restartBeam: Int = 10, restartExpand: Int = 2, restartBudget: Int = 400
    ) -> Found {
        let active = catalogue.active
        return refine(
            k, index: index, scored: scored, beam: beam, expand: expand, budget: budget, restarts: restarts,
            restartBeam: restartBeam, restartExpand: restartExpand, restartBudget: restartBudget,
            admits: { $0 < active.count && active[$0] }
        ) { (rows: [Int]) -> [Float] in
            CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: rows)
        }
    }
}
