import Foundation

/// Top-K ranking quality with one relevant item per query (a logged click):
/// `HitRate@K = mean[rank < K]` and `NDCG@K = mean[rank < K] / log2(rank + 2)` (Järvelin & Kekäläinen, 2002;
/// the ideal DCG is 1). Ties are broken at random, in expectation (McSherry & Najork, "Computing information retrieval
/// performance measures efficiently in the presence of tied scores", ECIR 2008): with `h` items scored strictly
/// higher than the relevant one and `t` others scored the same, its rank is `h + U`, `U` uniform on `0…t`, and each
/// query adds `E[[h + U < K]]` and `E[[h + U < K] / log2(h + U + 2)]`. A model that scores every item alike then gets
/// the hit rate of a random ranking, whatever the catalogue's order (a stable sort gave the catalogue's first items
/// every hit: HitRate@1 0.32 on one order of a catalogue, 0 on the reverse).
public struct RankingMetrics: Sendable, Codable, Equatable {
    /// The cutoff K.
    public var k: Int
    /// Number of queries.
    public var queries: Int
    /// Hit rate at K (0 with no queries, where it is undefined: see ``isDefined``).
    public var hitRate: Double
    /// Normalised discounted cumulative gain at K (0 with no queries, where it is undefined).
    public var ndcg: Double

    /// Whether the metrics are defined: with no query (no click in the rows) both are 0/0. JSON then holds `null`
    /// for both, and text says `undefined`.
    public var isDefined: Bool { queries > 0 }

    /// Why both figures are undefined (no click among the rows, so nothing to rank); nil when they are defined.
    public var undefined: String? { isDefined ? nil : Self.noClick }

    /// The reason HitRate@K and NDCG@K are undefined.
    public static let noClick = "no click among the rows to rank"

    private enum CodingKeys: String, CodingKey { case k, queries, hitRate, ndcg, undefined }

    /// Encodes every key; `hitRate` and `ndcg` are `null` when undefined, with the reason in `undefined` (computed,
    /// so written but not read back).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(k, forKey: .k)
        try c.encode(queries, forKey: .queries)
        try c.encode(isDefined ? hitRate : nil, forKey: .hitRate)
        try c.encode(isDefined ? ndcg : nil, forKey: .ndcg)
        try c.encode(undefined, forKey: .undefined)
    }

    /// Decodes what ``encode(to:)`` writes (a `null` figure reads back as 0 with no queries).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.decode(Int.self, forKey: .k)
        queries = try c.decode(Int.self, forKey: .queries)
        hitRate = try c.decodeIfPresent(Double.self, forKey: .hitRate) ?? 0
        ndcg = try c.decodeIfPresent(Double.self, forKey: .ndcg) ?? 0
    }

    /// Where the relevant item stands among a query's scores: ``higher`` items scored strictly above it and
    /// ``tied`` other items scored the same.
    public struct Rank: Sendable, Equatable {
        /// Items scored strictly higher than the relevant one.
        public var higher: Int
        /// Other items with the relevant one's score.
        public var tied: Int

        /// Creates a rank.
        public init(higher: Int, tied: Int = 0) {
            self.higher = higher
            self.tied = tied
        }

        /// `P(h + U < K)`, `U` uniform on `0…tied`.
        func hit(k: Int) -> Double {
            Double(min(max(k - higher, 0), tied + 1)) / Double(tied + 1)
        }

        /// `E[[h + U < K] / log2(h + U + 2)]`.
        func gain(k: Int) -> Double {
            let last = min(higher + tied, k - 1)
            guard last >= higher else { return 0 }
            return (higher...last).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) } / Double(tied + 1)
        }
    }

    /// Computes the metrics from where each query's relevant item stands, ties broken at random in expectation.
    public init(ranks: [Rank], k: Int) {
        self.k = k
        queries = ranks.count
        hitRate = ranks.isEmpty ? 0 : ranks.reduce(0.0) { $0 + $1.hit(k: k) } / Double(ranks.count)
        ndcg = ranks.isEmpty ? 0 : ranks.reduce(0.0) { $0 + $1.gain(k: k) } / Double(ranks.count)
    }

    /// Where `relevant` (an offset into `scores`) stands among `scores`.
    public static func rank(of relevant: Int, scores: some RandomAccessCollection<Double>) -> Rank {
        let target = scores[scores.index(scores.startIndex, offsetBy: relevant)]
        // A NaN score ranks nothing: the relevant item is last (a NaN compares as neither above nor equal, which
        // left `tied` at −1 and made the hit 0/0).
        guard !target.isNaN else { return Rank(higher: scores.count - 1, tied: 0) }
        var rank = Rank(higher: 0, tied: -1)
        for s in scores {
            if s > target { rank.higher += 1 } else if s == target { rank.tied += 1 }
        }
        return rank
    }
}
