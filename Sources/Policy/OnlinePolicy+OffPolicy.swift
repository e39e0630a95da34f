import RecData
import RecWire

/// An online policy as a candidate for off-policy evaluation on logged rows.
extension OnlinePolicy {
    /// The policy's first-slot exploration distribution over the whole catalogue for each logged row's user,
    /// `π(a | x_i) = SlateExploration.probabilities(Q(x_i, ·))`, used at every logged slot (an OBD row shows one item
    /// in one slot, and a slate's first slot is where the policy chooses among every item).
    /// - Throws: `PolicyError` when the catalogue's size is not the data's item count or a user feature is unknown.
    public func actionDistribution(on data: BanditDataset) throws(PolicyError) -> ActionDistribution {
        guard spec.itemCount == data.nActions else {
            throw .invalidSpec("the policy's catalogue has \(spec.itemCount) items, the logs \(data.nActions)")
        }
        var states: [[Float]] = []
        states.reserveCapacity(data.rows)
        for row in 0..<data.rows { states.append(try state(data.userFeatures.dictionary(row))) }
        var probabilities: [Double] = []
        probabilities.reserveCapacity(data.rows * data.nActions)
        for q in qValues(states: states) {
            probabilities += SlateExploration.probabilities(q, exploration: spec.exploration)
        }
        return ActionDistribution(nActions: data.nActions, probabilities: probabilities)
    }

    /// The policy a pool serves, rebuilt from its install order and weights (CONTROL `online_policy`).
    /// - Throws: `PolicyError` when the weights do not fit the spec.
    public static func served(spec: OnlinePolicySpec, weights pack: ParameterPack) throws(PolicyError)
        -> OnlinePolicy
    {
        let initial = try OnlinePolicy.initial(spec: spec)
        let parameters = try PolicyWeights.parameters(pack, expected: initial.network.network.parameterCount)
        return try initial.with(parameters: parameters)
    }
}
