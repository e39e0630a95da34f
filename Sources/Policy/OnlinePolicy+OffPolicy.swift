import RecData
import RecWire

/// An online policy as a candidate for off-policy evaluation on logged rows.
extension OnlinePolicy {
    /// The policy's first-slot exploration distribution over its active items for each logged row's user,
    /// `π(a | x_i)`, used at every logged slot (an OBD row shows one item in one slot, and a slate's first slot is
    /// where the policy chooses among every item). A retired item gets probability 0, as serving never shows it. Logs
    /// of an earlier catalogue version (fewer items: rows never move) are evaluated on their items, and the
    /// probability of an item added since is left out of the row (`rows × data.nActions`; a row then sums to less than 1).
    /// - Throws: `PolicyError` when the data has more items than the catalogue, every item is retired, or a user
    ///   feature is unknown.
    public func actionDistribution(on data: BanditDataset) throws(PolicyError) -> ActionDistribution {
        // Rows never move: logs of an earlier catalogue version are its first rows. A choice of an item added since
        // has no logged support; its probability is left out (the row sums to less than 1, and every estimator counts
        // such a choice as no click: ``OffPolicyEstimator``).
        guard data.nActions <= spec.itemCount else {
            throw .invalidSpec(
                "the logs have \(data.nActions) items, more than the \(spec.itemCount) of the policy's catalogue: they "
                    + "are not of this catalogue or an earlier version of it")
        }
        let pool = activeRows
        guard !pool.isEmpty else { throw .noActiveItem }
        var out = [Double](repeating: 0, count: data.rows * data.nActions)
        for row in 0..<data.rows {
            let z = try userVector(data.userContext(row), viewed: data.viewedItems(row))
            let p = probabilities(scores(z: z, items: pool), items: pool)
            for (index, item) in pool.enumerated() where item < data.nActions { out[row * data.nActions + item] = p[index] }
        }
        return ActionDistribution(nActions: data.nActions, probabilities: out)
    }

    /// The policy a pool serves, rebuilt from its install order and statistics (CONTROL `online_policy`), scoring
    /// with the posterior mean. `catalogue`, when the spec's items were set from it, is shared by the policy
    /// (``initial(spec:catalogue:)``).
    /// - Throws: `PolicyError` when the statistics do not fit the spec.
    public static func served(spec: OnlinePolicySpec, catalogue: ItemCatalogue? = nil, weights pack: ParameterPack)
        throws(PolicyError) -> OnlinePolicy
    {
        // The pack's lengths are checked against the spec's shape before anything is sized from the spec, and the
        // statistics are the pack's: no empty posterior of that shape is built (or solved) first.
        if let problem = spec.problem { throw .invalidSpec(problem) }
        let features = try PolicyFeatures(spec: spec)
        try PolicyFeatures.checkBucketValues(idBuckets: spec.idBuckets, width: features.width)
        let statistics = try PolicyWeights.statistics(pack, width: features.width, buckets: spec.idBuckets)
        return try OnlinePolicy(spec: spec, catalogue: catalogue, features: features, statistics: statistics)
    }
}

extension BanditDataset {
    /// Row `row`'s viewed items as a request's `events` carried them to the online policy (``viewedSeconds``); none for
    /// a log without a `viewed` column. Evaluating or warm-starting a policy without them scored another user than the
    /// one it served (a history of two views moved the served ranking's top item from 9 to 26).
    public func viewedItems(_ row: Int) -> [ViewedItem] {
        viewedSeconds?.entries(row).map { ViewedItem(item: $0.column, seconds: Double($0.value)) } ?? []
    }
}
