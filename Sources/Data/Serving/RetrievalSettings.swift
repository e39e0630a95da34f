/// How ``CatalogueRetrieval`` picks the candidates a ranker scores.
///
/// A catalogue of fewer than `exhaustiveBelow` rows is scored exhaustively (every active item is a candidate);
/// a larger one gets the union of `nearest` items from the index (largest `q(s) · [x; 1]`), the `popular` items of
/// largest item prior, and the `newest` active items (rows are appended, so the highest rows are the newest:
/// item cold start gets exposure whatever its embedding says). At most `nearest + popular + newest` candidates,
/// whatever the catalogue's size.
public struct RetrievalSettings: Sendable, Equatable, Codable {
    /// Catalogues with fewer rows than this are scored exhaustively. The default, 2,000, lies between the
    /// benchmark's 1,000 items (exhaustive MLP scoring p50 0.1 ms) and 10,000 (exhaustive 4.7 ms, retrieval 0.8 ms;
    /// docs/BENCHMARKS.md, "Catalogue scale"), where retrieval's fixed cost (about 1,100 candidates) starts to pay.
    public var exhaustiveBelow: Int
    /// Candidates from the index.
    public var nearest: Int
    /// Candidates of largest item prior.
    public var popular: Int
    /// Newest active items.
    public var newest: Int

    /// Creates settings.
    public init(exhaustiveBelow: Int = 2_000, nearest: Int = 1_000, popular: Int = 50, newest: Int = 50) {
        self.exhaustiveBelow = exhaustiveBelow
        self.nearest = nearest
        self.popular = popular
        self.newest = newest
    }

    /// JSON keys.
    enum CodingKeys: String, CodingKey {
        case exhaustiveBelow = "exhaustive_below", nearest, popular, newest
    }
}
