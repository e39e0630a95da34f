/// One estimator's figures. Every key is always encoded; an undefined estimate has `value` null and `undefined` naming
/// the reason (text output prints `undefined (REASON)`), never 0 or NaN. A defined estimate without an interval has
/// `interval` null and `intervalUndefined` naming the reason (too few rows, no resamples).
public struct EstimateFigures: Sendable, Codable, Equatable {
    /// The estimator.
    public var estimator: OffPolicyEstimator
    /// Point estimate, or nil when it is undefined.
    public var value: Double?
    /// Why the estimate is undefined (no rows, no reward model, no weight, overflow); nil when it is defined.
    public var undefined: String?
    /// Bootstrap percentile interval.
    public var interval: ConfidenceInterval?
    /// Why a defined estimate has no interval (``Bootstrap/undefinedReason(rows:resamples:)``, or undefined on
    /// every resample); nil when it has one or when the estimate itself is undefined (``undefined`` says why).
    public var intervalUndefined: String?

    /// Creates the figures.
    public init(
        estimator: OffPolicyEstimator, value: Double?, undefined: String? = nil, interval: ConfidenceInterval?,
        intervalUndefined: String? = nil
    ) {
        self.estimator = estimator
        self.value = value
        self.undefined = undefined
        self.interval = interval
        self.intervalUndefined = intervalUndefined
    }

    private enum CodingKeys: String, CodingKey { case estimator, value, undefined, interval, intervalUndefined }

    /// Encodes every key, writing `null` for a missing value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(estimator, forKey: .estimator)
        try c.encode(value, forKey: .value)
        try c.encode(undefined, forKey: .undefined)
        try c.encode(interval, forKey: .interval)
        try c.encode(intervalUndefined, forKey: .intervalUndefined)
    }
}

/// Off-policy estimates of one policy on one segment of the logs.
public struct SegmentEstimates: Sendable, Codable, Equatable {
    /// The segment.
    public var segment: Segment
    /// Rows in the segment.
    public var rows: Int
    /// Mean logged reward (the behaviour policy's on-policy value on these rows), or nil when it is undefined.
    public var behaviourValue: Double?
    /// Why ``behaviourValue`` is undefined (no rows, or the rewards' sum overflows); nil when it is defined.
    public var behaviourValueUndefined: String?
    /// Kish effective sample size `(Σw)²/Σw²` of the importance weights, or nil when undefined.
    public var effectiveSampleSize: Double?
    /// Why ``effectiveSampleSize`` is undefined; nil when it is defined.
    public var effectiveSampleSizeUndefined: String?
    /// DM, IPW, SNIPW and DR, always all four (an undefined one says why).
    public var estimates: [EstimateFigures]
    /// Plain warnings: an effective sample size below `OffPolicyEvaluation.minimumEffectiveSampleSize`, or undefined;
    /// importance weights whose mean correct propensities could not give (``OPETerms/implausibleWeightsReason``).
    public var warnings: [String]

    /// Creates the figures of a segment; the ESS warning is derived from `effectiveSampleSize`.
    /// `implausibleWeights` (``OPETerms/implausibleWeightsReason``) is added to the warnings.
    public init(
        segment: Segment, rows: Int, behaviourValue: Double?, behaviourValueUndefined: String? = nil,
        effectiveSampleSize: Double?, effectiveSampleSizeUndefined: String? = nil, estimates: [EstimateFigures],
        implausibleWeights: String? = nil
    ) {
        let floor = OffPolicyEvaluation.minimumEffectiveSampleSize
        if let ess = effectiveSampleSize, ess < floor {
            warnings = [
                String(
                    format: "effective sample size %.1f is below %.0f: IPW, SNIPW and DR rest on a handful of rows",
                    ess, floor)
            ]
        } else if effectiveSampleSize == nil && rows > 0 {
            warnings = ["effective sample size undefined: the importance-weighted estimates rest on no row"]
        } else {
            warnings = []
        }
        if let implausibleWeights { warnings.append(implausibleWeights) }
        self.segment = segment
        self.rows = rows
        self.behaviourValue = behaviourValue
        self.behaviourValueUndefined = behaviourValueUndefined
        self.effectiveSampleSize = effectiveSampleSize
        self.effectiveSampleSizeUndefined = effectiveSampleSizeUndefined
        self.estimates = estimates
    }

    private enum CodingKeys: String, CodingKey {
        case segment, rows, behaviourValue, behaviourValueUndefined, effectiveSampleSize, effectiveSampleSizeUndefined
        case estimates, warnings
    }

    /// Encodes every key, writing `null` for a missing value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(segment, forKey: .segment)
        try c.encode(rows, forKey: .rows)
        try c.encode(behaviourValue, forKey: .behaviourValue)
        try c.encode(behaviourValueUndefined, forKey: .behaviourValueUndefined)
        try c.encode(effectiveSampleSize, forKey: .effectiveSampleSize)
        try c.encode(effectiveSampleSizeUndefined, forKey: .effectiveSampleSizeUndefined)
        try c.encode(estimates, forKey: .estimates)
        try c.encode(warnings, forKey: .warnings)
    }

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
    /// Figures per segment, always all three, in the order all, cold start, warm (an empty one has undefined figures).
    public var segments: [SegmentEstimates]
    /// Reward-model fallbacks and other caveats.
    public var notes: [String]

    /// The figures of one segment.
    public func segment(_ segment: Segment) -> SegmentEstimates? { segments.first { $0.segment == segment } }
}

/// Runs off-policy evaluation end to end.
public enum OffPolicyEvaluation {
    /// Below this Kish effective sample size a segment's IPW, SNIPW and DR figures get a warning (100 rows: with
    /// fewer, one or two heavy rows decide the estimate, as on OBD's bts/women where the ESS is 2).
    public static let minimumEffectiveSampleSize = 100.0

    /// Estimates the value of `policy` (π at each row's logged position) on `data`, with a cross-fitted reward model
    /// for DM and DR (pass nil to skip them) and bootstrap intervals, for all rows and the cold and warm segments.
    public static func evaluate(
        policy: ActionDistribution, policyName: String, on data: BanditDataset,
        rewardModel: RewardModelKind? = .logistic(), folds: Int = 3, resamples: Int = 1_000, level: Double = 0.95,
        seed: UInt64 = 12_345
    ) -> OffPolicyReport {
        evaluateWithRewards(
            policy: policy, policyName: policyName, on: data, rewardModel: rewardModel, folds: folds,
            resamples: resamples, level: level, seed: seed
        ).report
    }

    /// ``evaluate(policy:policyName:on:rewardModel:folds:resamples:level:seed:)``, also returning the reward model's
    /// `q̂(x_i, a, position_i)` (`rows × nActions` row-major, nil without a reward model), so that a reference
    /// implementation can recompute DM and DR from the same `q̂`.
    public static func evaluateWithRewards(
        policy: ActionDistribution, policyName: String, on data: BanditDataset,
        rewardModel: RewardModelKind? = .logistic(), folds: Int = 3, resamples: Int = 1_000, level: Double = 0.95,
        seed: UInt64 = 12_345
    ) -> (report: OffPolicyReport, estimatedRewards: [Double]?) {
        precondition(policy.rows == data.rows && policy.nActions == data.nActions, "policy shape must match the data")
        // Rows drawn from a candidate set carry propensities conditional on it: evaluated on the others only (the
        // estimated rewards are then those rows'; `data ope` leaves them out first, so its are every row's).
        if data.conditionalRows > 0 {
            let kept = (0..<data.rows).filter { !data.conditional[$0] }
            return evaluateWithRewards(
                policy: policy.gather(kept), policyName: policyName, on: data.withoutConditionalRows(),
                rewardModel: rewardModel, folds: folds, resamples: resamples, level: level, seed: seed)
        }
        let fit = rewardModel.map { RewardModel.crossFitted(data, kind: $0, folds: folds, seed: seed) }
        let usableFit = fit?.unavailable == nil ? fit : nil
        var terms = OPETerms(
            reward: data.reward, action: data.action, pscore: data.pscore, policy: policy,
            estimatedRewards: usableFit?.estimatedRewards)
        if let why = fit?.unavailable { terms.noRewardModelReason = why }
        var segments: [SegmentEstimates] = []
        var notes = fit?.notes ?? []
        if data.conditionalRowsLeftOut > 0 {
            notes.append(
                "\(data.conditionalRowsLeftOut) rows were left out: their slates were drawn from a candidate set (the log's "
                    + "`retrieval` column), so their propensities are conditional on a set the log does not hold")
        }
        if let note = data.repeatedRowsNote { notes.append(note) }
        for segment in Segment.allCases {
            let rows = data.rows(in: segment)
            let part = terms.gather(rows)
            if rows.isEmpty { notes.append("segment \(segment.rawValue) has no rows: its estimates are undefined") }
            let intervals =
                resamples > 0 && !rows.isEmpty
                ? Bootstrap.intervalsWithReasons(part, level: level, resamples: resamples, seed: seed)
                : (intervals: [:], undefined: [:])
            let noInterval = Bootstrap.undefinedReason(rows: rows.count, resamples: resamples)
            let estimates = OffPolicyEstimator.allCases.map { e in
                let value = part.estimate(e)
                let interval = value == nil ? nil : intervals.intervals[e]
                return EstimateFigures(
                    estimator: e, value: value, undefined: value == nil ? part.undefinedReason(e) : nil,
                    interval: interval,
                    intervalUndefined: value == nil || interval != nil
                        ? nil : noInterval ?? intervals.undefined[e] ?? "undefined on every bootstrap resample")
            }
            segments.append(
                SegmentEstimates(
                    segment: segment, rows: rows.count, behaviourValue: part.meanReward,
                    behaviourValueUndefined: part.meanRewardUndefinedReason,
                    effectiveSampleSize: part.effectiveSampleSize,
                    effectiveSampleSizeUndefined: part.effectiveSampleSizeUndefinedReason, estimates: estimates,
                    implausibleWeights: part.implausibleWeightsReason))
        }
        return (
            OffPolicyReport(dataset: data.name, policy: policyName, segments: segments, notes: notes),
            usableFit?.estimatedRewards
        )
    }
}
