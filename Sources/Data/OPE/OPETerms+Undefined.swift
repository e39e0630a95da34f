/// The logged CTR of a segment, and why a figure of ``OPETerms`` is undefined: each reason names what actually
/// happened (no rows, zero weight, or which input's sum overflows), never a guess.
extension OPETerms {
    /// Mean logged reward (the behaviour policy's value on these rows), or nil when it is undefined: no rows, or the
    /// rewards' sum is not finite (``meanRewardUndefinedReason`` says which).
    public var meanReward: Double? {
        guard rows > 0 else { return nil }
        let mean = reward.reduce(0, +) / Double(rows)
        return mean.isFinite ? mean : nil
    }

    /// Why ``meanReward`` is undefined, or nil when it is defined.
    public var meanRewardUndefinedReason: String? {
        guard meanReward == nil else { return nil }
        return rows == 0 ? "no rows" : "not finite (\(rewardCause))"
    }

    /// Why ``estimate(_:)`` is undefined, or nil when it is defined.
    public func undefinedReason(_ estimator: OffPolicyEstimator) -> String? {
        guard rows > 0 else { return "no rows" }
        guard hasRewardModel || !estimator.needsRewardModel else { return noRewardModelReason }
        let s = sums()
        if estimator == .snipw && !(s.w > 0) {
            return "the policy gives every logged action zero weight (sum of weights is 0)"
        }
        return Self.value(estimator, s) == nil ? "not finite (\(nonFiniteCause(estimator)))" : nil
    }

    /// Why ``effectiveSampleSize`` is undefined, or nil when it is defined. It depends on the weights alone:
    /// `(Σw)²/Σw²` is 0/0 when every weight is 0, and not finite when a weight is (the weights are scaled by the
    /// largest before they are summed, so no sum of finite weights overflows).
    public var effectiveSampleSizeUndefinedReason: String? {
        guard effectiveSampleSize == nil else { return nil }
        if rows == 0 { return "no rows" }
        if weight.allSatisfy({ $0 == 0 }) { return "every importance weight is 0 (0/0)" }
        return "not finite (\(weightCause))"
    }

    /// What made `estimator`'s value not finite: the inputs it is a sum of whose sum (of magnitudes) overflows;
    /// when none does, their products do.
    func nonFiniteCause(_ estimator: OffPolicyEstimator) -> String {
        let weighted = estimator != .dm
        var causes: [String] = []
        if weighted && Self.overflows(weight) { causes.append(weightCause) }
        if weighted && Self.overflows(reward) { causes.append(rewardCause) }
        if estimator.needsRewardModel
            && (Self.overflows(modelValue) || (estimator == .dr && Self.overflows(modelReward)))
        {
            causes.append("the reward model's estimates overflow")
        }
        if causes.isEmpty {
            return weighted
                ? "the importance-weighted rewards overflow, though the weights and rewards are each finite"
                : "the reward model's estimates overflow"
        }
        return causes.joined(separator: " and ")
    }

    /// What overflows among the importance weights.
    var weightCause: String { Self.overflowCause(weight, one: "an importance weight", all: "importance weights") }

    /// What overflows among the logged rewards.
    var rewardCause: String { Self.overflowCause(reward, one: "a logged reward", all: "logged rewards") }

    /// Whether a value is not finite or the sum of their magnitudes overflows.
    static func overflows(_ values: [Double]) -> Bool {
        !values.reduce(0.0, { $0 + abs($1) }).isFinite
    }

    /// "ONE is VALUE" when a value is not finite, else "the sum of the ALL overflows".
    static func overflowCause(_ values: [Double], one: String, all: String) -> String {
        if let bad = values.first(where: { !$0.isFinite }) { return "\(one) is \(bad)" }
        return "the sum of the \(all) overflows"
    }
}
