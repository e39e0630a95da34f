import Foundation

/// Top-K ranking quality with one relevant item per query (a logged click):
/// `HitRate@K = mean[rank < K]` and `NDCG@K = mean[rank < K] / log2(rank + 2)` (Järvelin & Kekäläinen, 2002;
/// the ideal DCG is 1). The rank of the relevant item counts items scored strictly higher, plus tied items with a
/// lower index (a stable descending sort).
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

    /// Computes the metrics from 0-based ranks of the relevant item.
    public init(ranks: [Int], k: Int) {
        self.k = k
        queries = ranks.count
        let hits = ranks.filter { $0 < k }
        hitRate = ranks.isEmpty ? 0 : Double(hits.count) / Double(ranks.count)
        ndcg = ranks.isEmpty ? 0 : hits.reduce(0.0) { $0 + 1 / log2(Double($1) + 2) } / Double(ranks.count)
    }

    /// The 0-based rank of `relevant` among `scores` (stable descending order).
    public static func rank(of relevant: Int, scores: some RandomAccessCollection<Double>) -> Int {
        let base = scores.startIndex
        let target = scores[scores.index(base, offsetBy: relevant)]
        var rank = 0
        for (i, s) in scores.enumerated() where s > target || (s == target && i < relevant) { rank += 1 }
        return rank
    }
}
