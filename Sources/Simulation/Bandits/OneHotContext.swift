import RecData

/// The context the reference bandits see: a bias and one one-hot block per observable categorical user feature,
/// as the sorted positions of its ones (every value is 1). A value outside a feature's vocabulary, or a missing
/// feature, leaves its block zero. Width `1 + Σ values`; it does not depend on the number of items.
public struct OneHotContext: Sendable, Equatable {
    /// The features and their values, in block order.
    public let vocabulary: [ItemEncoding.Vocabulary]
    private let offsets: [Int]
    private let lookup: [[String: Int]]

    /// Creates an encoder.
    public init(vocabulary: [ItemEncoding.Vocabulary]) {
        self.vocabulary = vocabulary
        var offsets = [1]
        for feature in vocabulary { offsets.append(offsets.last! + feature.values.count) }
        self.offsets = offsets
        lookup = vocabulary.map { Dictionary($0.values.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }) }
    }

    /// Columns: the bias, then every value of every feature.
    public var width: Int { offsets.last ?? 1 }

    /// The positions of the ones: 0 (the bias), then one per known feature value.
    public func encode(_ features: [String: String]) -> [Int] {
        [0]
            + vocabulary.indices.compactMap { f in
                features[vocabulary[f].name].flatMap { lookup[f][$0] }.map { offsets[f] + $0 }
            }
    }
}
