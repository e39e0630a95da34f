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
        /// The best `k` rows of the seeds and the walk, best first, and their scores.
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
    /// - Parameters:
    ///   - k: how many rows to return.
    ///   - index: the retrieval index whose base-level links are walked (its rows are the scorer's rows); a row the
    ///     index no longer holds live (a retired item) is never scored: ``ItemIndex/neighbours(of:)`` leaves it out.
    ///   - scored: the first retrieval's candidates and their scores.
    ///   - beam: how many of the best rows scored must be expanded before the search stops (at least `k`).
    ///   - expand: rows expanded a round (their neighbours are scored in one batch).
    ///   - budget: the most rows scored in the walk.
    ///   - admits: whether a row may be scored at all (besides being live in the index).
    ///   - score: the ranker's scores of a batch of rows, in order.
    /// - Returns: the best `k` of everything scored, and what the walk scored.
    /// - Throws: what `score` throws.
    public static func refine<E: Error>(
        _ k: Int, index: ItemIndex, scored: [(Int, Float)], beam: Int = 40, expand: Int = 8, budget: Int = 4_000,
        admits: (Int) -> Bool = { _ in true }, score: ([Int]) throws(E) -> [Float]
    ) throws(E) -> Found {
        var seen = Set(scored.map(\.0))
        var all = scored
        var walked: [Int] = []
        var walkedScores: [Float] = []
        var expanded = Set<Int>()
        var rounds = 0
        let width = max(beam, k)
        // Every expansion reads a row's links under the index's lock: a walk expands at most `budget + width` rows,
        // even where the neighbours are all seen already and nothing is scored.
        while walked.count < budget && expanded.count < budget + width {
            let best = TopK.largestPairs(all, count: width)
            let next = best.lazy.map(\.0).filter { !expanded.contains($0) }.prefix(expand)
            if next.isEmpty { break }
            var batch: [Int] = []
            for row in next {
                expanded.insert(row)
                // A row the index cannot read (it never held it; hnswlib failed) is not expanded: the walk only adds
                // rows to the candidates, which stand whatever it finds.
                guard let links = try? index.neighbours(of: row) else { continue }
                for n in links where seen.insert(n).inserted && admits(n) { batch.append(n) }
            }
            rounds += 1
            if batch.isEmpty { continue }
            if walked.count + batch.count > budget { batch = Array(batch.prefix(budget - walked.count)) }
            let q = try score(batch)
            all += zip(batch, q)
            walked += batch
            walkedScores += q
        }
        let top = TopK.largestPairs(all, count: k)
        return Found(rows: top.map(\.0), scores: top.map(\.1), walked: walked, walkedScores: walkedScores, rounds: rounds)
    }

    /// ``refine(_:index:scored:beam:expand:budget:admits:score:)`` with a ``QNetwork`` ranker over `catalogue`'s item
    /// inputs; a row not active in `catalogue` is never scored.
    public static func refine(
        _ k: Int, ranker: QNetwork, state: [Float], catalogue: ItemCatalogue, index: ItemIndex,
        scored: [(Int, Float)], beam: Int = 40, expand: Int = 8, budget: Int = 4_000
    ) -> Found {
        let active = catalogue.active
        return refine(
            k, index: index, scored: scored, beam: beam, expand: expand, budget: budget,
            admits: { $0 < active.count && active[$0] }
        ) { (rows: [Int]) -> [Float] in
            CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: rows)
        }
    }
}
