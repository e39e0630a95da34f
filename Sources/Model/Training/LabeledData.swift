/// Rows of features with their targets: the unit the trainer consumes.
public struct LabeledData: Sendable, Equatable {
    /// Features, one row per example.
    public var inputs: Matrix
    /// Targets, `inputs.rows × k` row-major (k = 1 for the interest model: 0/1 labels).
    public var targets: [Float]

    /// Creates labelled data.
    /// - Precondition: `targets.count` is a multiple of `inputs.rows` (or both are empty).
    public init(inputs: Matrix, targets: [Float]) {
        precondition(
            inputs.rows == 0 ? targets.isEmpty : targets.count % inputs.rows == 0,
            "LabeledData: \(targets.count) targets for \(inputs.rows) rows")
        self.inputs = inputs
        self.targets = targets
    }

    /// Number of examples.
    public var count: Int { inputs.rows }

    /// Targets per row.
    public var targetWidth: Int { inputs.rows == 0 ? 1 : targets.count / inputs.rows }

    /// The examples at `indices`, in that order.
    public func subset<C: Collection>(_ indices: C) -> LabeledData where C.Element == Int {
        let k = targetWidth
        var t = [Float]()
        t.reserveCapacity(indices.count * k)
        for i in indices { t.append(contentsOf: targets[(i * k)..<((i + 1) * k)]) }
        return LabeledData(inputs: inputs.gatherRows(indices), targets: t)
    }

    /// Splits off a validation set after a seeded shuffle: the last `⌊fraction·n⌋` shuffled
    /// rows validate, the rest train. (Keras takes the last rows unshuffled; shuffling first
    /// keeps a file sorted by label from putting one class in validation.)
    public func split(validationFraction fraction: Double, rng: inout Xoshiro256) -> (train: LabeledData, validation: LabeledData) {
        precondition(fraction >= 0 && fraction < 1, "LabeledData.split: fraction must be in [0, 1)")
        let order = rng.permutation(count)
        let nv = Int((fraction * Double(count)).rounded(.down))
        return (subset(order[0..<(count - nv)]), subset(order[(count - nv)...]))
    }
}
