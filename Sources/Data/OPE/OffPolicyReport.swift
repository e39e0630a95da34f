/// One estimator's figures.
public struct EstimateFigures: Sendable, Codable, Equatable {
    /// The estimator.
    public var estimator: OffPolicyEstimator
    /// Point estimate.
    public var value: Double
    /// Bootstrap percentile interval.
    public var interval: ConfidenceInterval?
}

/// Off-policy estimates of one policy on one segment of the logs.
public struct SegmentEstimates: Sendable, Codable, Equatable {
    /// The segment.
    public var segment: Segment
    /// Rows in the segment.
    public var rows: Int
    /// Mean logged reward (the behaviour policy's on-policy value on these rows).
    public var behaviourValue: Double
    /// Kish effective sample size `(Σw)²/Σw²` of the importance weights.
    public var effectiveSampleSize: Double
    /// DM, IPW, SNIPW and DR (DM and DR only with a reward model).
    public var estimates: [EstimateFigures]

    /// The figures of one estimator.
    public func figures(_ estimator: OffPolicyEstimator) -> EstimateFigures? {
        estimates.first { $0.estimator == estimator }
    }
}

/// Off-policy evaluation of a policy on logged data, split into all rows, cold-start users and warm users.
public struct OffPolicyReport: Sendable, Codable, Equatable {
    /// Dataset label.
    public var dataset: String
    /// Policy label.
    public var policy: String
    /// Figures per segment, in the order all, cold start, warm.
    public var segments: [SegmentEstimates]
    /// Reward-model fallbacks and other caveats.
    public var notes: [String]

    /// The figures of one segment.
    public func segment(_ segment: Segment) -> SegmentEstimates? { segments.first { $0.segment == segment } }
}

/// Runs off-policy evaluation end to end.
public enum OffPolicyEvaluation {
    /// Estimates the value of `policy` (π at each row's logged position) on `data`, with a cross-fitted reward model
    /// for DM and DR (pass nil to skip them) and bootstrap intervals, for all rows and the cold and warm segments.
    public static func evaluate(
        policy: ActionDistribution, policyName: String, on data: BanditDataset,
        rewardModel: RewardModelKind? = .logistic(), folds: Int = 3, resamples: Int = 1_000, level: Double = 0.95,
        seed: UInt64 = 12_345
    ) -> OffPolicyReport {
        precondition(policy.rows == data.rows && policy.nActions == data.nActions, "policy shape must match the data")
        let fit = rewardModel.map { RewardModel.crossFitted(data, kind: $0, folds: folds, seed: seed) }
        let terms = OPETerms(
            reward: data.reward, action: data.action, pscore: data.pscore, policy: policy,
            estimatedRewards: fit?.estimatedRewards)
        var segments: [SegmentEstimates] = []
        var notes = fit?.notes ?? []
        for segment in Segment.allCases {
            let rows = data.rows(in: segment)
            let part = terms.gather(rows)
            guard !rows.isEmpty else {
                notes.append("segment \(segment.rawValue) has no rows")
                continue
            }
            let intervals =
                resamples > 0 ? Bootstrap.intervals(part, level: level, resamples: resamples, seed: seed) : [:]
            let estimates = OffPolicyEstimator.allCases.compactMap { e in
                part.estimate(e).map { EstimateFigures(estimator: e, value: $0, interval: intervals[e]) }
            }
            segments.append(
                SegmentEstimates(
                    segment: segment, rows: rows.count,
                    behaviourValue: part.reward.reduce(0, +) / Double(rows.count),
                    effectiveSampleSize: part.effectiveSampleSize, estimates: estimates))
        }
        return OffPolicyReport(dataset: data.name, policy: policyName, segments: segments, notes: notes)
    }
}
