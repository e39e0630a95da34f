/// A ranker's item-only term when it takes one value per group of items, such as an online policy's bias per hashed
/// id bucket (`Q(z, a) = zᵀ Θ y_a + β_{b(a)}`): what lets ``CatalogueRetrieval`` complete the index's nearest rows
/// with every row that could still enter the top `certifiedTop` once its group's prior is added.
///
/// The index ranks rows by the bilinear term `q · e_a` alone. Let `s_K` be the smallest of the `K` nearest rows'
/// inner products and `S` the `certifiedTop`-th largest `q · e_a + prior(a)` among them. A row the index did not
/// return has `q · e_a ≤ s_K` (up to the index's own approximation), so it can reach the top only if its group's
/// prior exceeds `S − s_K`: only those groups are scanned, best prior first, and a row of theirs is a candidate when
/// `q · e_a + prior > S`. This is the threshold idea of Fagin, Lotem and Naor, "Optimal aggregation algorithms for
/// middleware" (PODS 2001), for a sum of two scores, one of them constant over a group.
public struct PriorGroups: Sendable {
    /// The catalogue rows of each group (group = index into this array).
    public let rowsByGroup: [[Int32]]
    /// The group of each catalogue row.
    public let groupOfRow: [Int32]
    /// The prior of each group (one value per group).
    public let prior: [Float]
    /// Groups in order of decreasing prior (ties by smaller group).
    public let order: [Int32]
    /// The item features the index embedded (the model's `itemWidth` per row), for the rows a scan scores.
    public let features: [Float]
    /// How many of the best rows the completion keeps exact (the slate, or the top 10 a benchmark compares).
    public let certifiedTop: Int
    /// The most rows one request may scan (a bound on the cost when the priors spread far more than the inner
    /// products; past it the completion stops and the candidates are those found so far).
    public let scanLimit: Int

    /// Groups rows by `group` (one group number per catalogue row, each in `0..<prior.count`).
    /// - Parameters:
    ///   - group: the group of each catalogue row (a policy's id bucket).
    ///   - prior: the item-only term of each group.
    ///   - features: the index's item features, `group.count × itemWidth` values.
    ///   - certifiedTop: the top rows to keep exact, at least 1.
    ///   - scanLimit: the most rows scanned per request.
    /// - Throws: ``RetrievalError/shape(_:)`` for a group number outside `prior`, a prior that is not finite, or
    ///   `certifiedTop` below 1.
    public init(group: [Int], prior: [Float], features: [Float], certifiedTop: Int = 10, scanLimit: Int = 16_384)
        throws(RetrievalError)
    {
        guard certifiedTop >= 1 else { throw .shape("certifiedTop must be at least 1, got \(certifiedTop)") }
        if let bad = prior.firstIndex(where: { !$0.isFinite }) {
            throw .shape("the prior of group \(bad) is \(prior[bad]), not a finite number")
        }
        var rows = [[Int32]](repeating: [], count: prior.count)
        for (row, g) in group.enumerated() {
            guard g >= 0 && g < prior.count else {
                throw .shape("row \(row) is in group \(g), outside the \(prior.count) groups")
            }
            rows[g].append(Int32(truncatingIfNeeded: row))
        }
        self.init(
            rowsByGroup: rows, groupOfRow: group.map { Int32(truncatingIfNeeded: $0) }, prior: prior, features: features,
            certifiedTop: certifiedTop, scanLimit: max(0, scanLimit))
    }

    /// The same groups and features with new priors (one per group): what a policy update changes, at the cost of
    /// sorting the groups, not of regrouping the catalogue.
    /// - Throws: ``RetrievalError/shape(_:)`` for another number of groups or a prior that is not finite.
    public func with(prior next: [Float]) throws(RetrievalError) -> PriorGroups {
        guard next.count == prior.count else {
            throw .shape("\(prior.count) groups need \(prior.count) priors, got \(next.count)")
        }
        if let bad = next.firstIndex(where: { !$0.isFinite }) {
            throw .shape("the prior of group \(bad) is \(next[bad]), not a finite number")
        }
        return PriorGroups(
            rowsByGroup: rowsByGroup, groupOfRow: groupOfRow, prior: next, features: features,
            certifiedTop: certifiedTop, scanLimit: scanLimit)
    }

    private init(
        rowsByGroup: [[Int32]], groupOfRow: [Int32], prior: [Float], features: [Float], certifiedTop: Int, scanLimit: Int
    ) {
        self.rowsByGroup = rowsByGroup
        self.groupOfRow = groupOfRow
        self.prior = prior
        order = prior.indices.sorted { prior[$0] != prior[$1] ? prior[$0] > prior[$1] : $0 < $1 }.map { Int32($0) }
        self.features = features
        self.certifiedTop = certifiedTop
        self.scanLimit = scanLimit
    }

    /// The prior of `row`'s group (0 for a row past the grouped ones: an item added since).
    func prior(ofRow row: Int) -> Float { row < groupOfRow.count ? prior[Int(groupOfRow[row])] : 0 }
}
