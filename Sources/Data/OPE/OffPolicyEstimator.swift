/// An off-policy estimator of a policy's value `V(π) = E[Σ_a π(a|x) r(x, a)]` from logs of a behaviour policy b.
///
/// With importance weight `w_i = π(a_i | x_i) / b(a_i | x_i)` and reward model `q̂(x, a)`:
/// - DM (direct method): `1/n Σ_i Σ_a π(a|x_i) q̂(x_i, a)`;
/// - IPW (Horvitz–Thompson, 1952; Precup et al., 2000): `1/n Σ_i w_i r_i`;
/// - SNIPW (self-normalised, Swaminathan & Joachims, 2015): `Σ_i w_i r_i / Σ_i w_i`, times the policy's mean mass on
///   the logs' actions `1/n Σ_i Σ_a π(a|x_i)` when that is below 1 (a policy that may choose actions the logs never
///   held, such as items added to the catalogue since): `Σ w_i / n` estimates that mass, not 1, so unscaled SNIPW
///   would value the policy as if it never chose them, where IPW, DM and DR count such a choice as no reward;
/// - DR (doubly robust, Dudík, Langford & Li, 2011): `1/n Σ_i [Σ_a π(a|x_i) q̂(x_i, a) + w_i (r_i − q̂(x_i, a_i))]`.
public enum OffPolicyEstimator: String, Sendable, Codable, CaseIterable {
    /// Direct method.
    case dm
    /// Inverse propensity weighting.
    case ipw
    /// Self-normalised inverse propensity weighting.
    case snipw
    /// Doubly robust.
    case dr

    /// Upper-case label for reports.
    public var label: String { rawValue.uppercased() }

    /// Whether the estimator needs a reward model.
    public var needsRewardModel: Bool { self == .dm || self == .dr }
}

/// Per-row quantities every estimator is a function of, so that estimates and bootstrap resamples are cheap.
public struct OPETerms: Sendable, Equatable {
    /// Logged reward `r_i`.
    public var reward: [Double]
    /// Importance weight `w_i = π(a_i|x_i) / pscore_i`.
    public var weight: [Double]
    /// `Σ_a π(a|x_i) q̂(x_i, a)`; zero without a reward model.
    public var modelValue: [Double]
    /// `q̂(x_i, a_i)`; zero without a reward model.
    public var modelReward: [Double]
    /// Whether `modelValue` and `modelReward` come from a reward model.
    public var hasRewardModel: Bool
    /// Why there is no reward model, when there is none: DM and DR give it as their reason.
    public var noRewardModelReason = "needs a reward model"
    /// `Σ_a π(a|x_i)` over the logs' actions: 1 for a policy over exactly those actions (within
    /// ``ActionDistribution/sumTolerance`` of 1, or above, taken as 1),
    /// less when it leaves mass on actions the logs never held. SNIPW is scaled by its mean (see the type).
    public var supportedMass: [Double]

    /// Computes the terms.
    /// - Parameters:
    ///   - estimatedRewards: `q̂(x_i, a, position_i)`, `rows × nActions` row-major, or nil (DM and DR then unavailable).
    public init(
        reward: [Double], action: [Int], pscore: [Double], policy: ActionDistribution, estimatedRewards: [Double]?
    ) {
        let n = reward.count
        precondition(action.count == n && pscore.count == n && policy.rows == n, "OPETerms: lengths disagree")
        self.reward = reward
        weight = (0..<n).map { policy[$0, action[$0]] / pscore[$0] }
        supportedMass = (0..<n).map { i in
            let mass = (0..<policy.nActions).reduce(0.0) { $0 + policy[i, $1] }
            // Within an action-distribution file's tolerance of 1 (and never above it) is a whole policy.
            return mass >= 1 - ActionDistribution.sumTolerance ? 1 : mass
        }
        if let q = estimatedRewards {
            let k = policy.nActions
            precondition(q.count == n * k, "OPETerms: estimated rewards must be rows × nActions")
            modelValue = (0..<n).map { i in (0..<k).reduce(0.0) { $0 + policy[i, $1] * q[i * k + $1] } }
            modelReward = (0..<n).map { q[$0 * k + action[$0]] }
            hasRewardModel = true
        } else {
            modelValue = [Double](repeating: 0, count: n)
            modelReward = [Double](repeating: 0, count: n)
            hasRewardModel = false
        }
    }

    init(
        reward: [Double], weight: [Double], modelValue: [Double], modelReward: [Double], hasRewardModel: Bool,
        noRewardModelReason: String = "needs a reward model", supportedMass: [Double]? = nil
    ) {
        self.reward = reward
        self.supportedMass = supportedMass ?? [Double](repeating: 1, count: reward.count)
        self.weight = weight
        self.modelValue = modelValue
        self.modelReward = modelReward
        self.hasRewardModel = hasRewardModel
        self.noRewardModelReason = noRewardModelReason
    }

    /// Number of rows.
    public var rows: Int { reward.count }

    /// The rows at `indices`.
    public func gather(_ indices: [Int]) -> OPETerms {
        OPETerms(
            reward: indices.map { reward[$0] }, weight: indices.map { weight[$0] },
            modelValue: indices.map { modelValue[$0] }, modelReward: indices.map { modelReward[$0] },
            hasRewardModel: hasRewardModel, noRewardModelReason: noRewardModelReason,
            supportedMass: indices.map { supportedMass[$0] })
    }

    /// Sums from which every estimator follows; `count(i)` says how often row `i` is drawn (1 for the plain estimate).
    struct Sums {
        var n = 0.0, w = 0.0, wr = 0.0, dm = 0.0, dr = 0.0, mass = 0.0
    }

    func sums() -> Sums {
        var s = Sums()
        for i in 0..<rows { accumulate(&s, i, 1) }
        return s
    }

    @inline(__always) func accumulate(_ s: inout Sums, _ i: Int, _ times: Double) {
        s.n += times
        s.w += times * weight[i]
        s.wr += times * weight[i] * reward[i]
        s.dm += times * modelValue[i]
        s.dr += times * (modelValue[i] + weight[i] * (reward[i] - modelReward[i]))
        s.mass += times * supportedMass[i]
    }

    /// The estimator's value from the sums, or nil when it is undefined (no rows, or SNIPW with `Σw = 0`) or not
    /// finite.
    static func value(_ estimator: OffPolicyEstimator, _ s: Sums) -> Double? {
        guard s.n > 0 else { return nil }
        let v: Double
        switch estimator {
        case .dm: v = s.dm / s.n
        case .ipw: v = s.wr / s.n
        case .snipw:
            guard s.w > 0 else { return nil }
            // Exactly 1 (no scaling, no rounding) when every row's mass is 1.
            let mass = s.mass == s.n ? 1 : s.mass / s.n
            v = s.wr / s.w * mass
        case .dr: v = s.dr / s.n
        }
        return v.isFinite ? v : nil
    }

    /// The point estimate of an estimator, or nil when it is undefined (``undefinedReason(_:)`` says why).
    public func estimate(_ estimator: OffPolicyEstimator) -> Double? {
        guard rows > 0, hasRewardModel || !estimator.needsRewardModel else { return nil }
        return Self.value(estimator, sums())
    }

    /// Why the importance weights cannot come from correct logging propensities, or nil: their mean is below ½ or
    /// above 2 and more than three standard errors from 1. With propensities that are the logging policy's, the mean
    /// weight of any target policy whose actions the logger could take is 1 in expectation (`E_{a∼π_b}[π_e/π_b] = 1`,
    /// the identity SNIPW's denominator rests on; Swaminathan & Joachims 2015). A log whose propensities say 1 for a
    /// catalogue of five items gave a uniform policy's mean weight 0.2, and one with 1e-12 gave 2e11, with a full
    /// effective sample size and no warning beside IPW, SNIPW and DR five-fold apart. Nil under 20 rows or under 10
    /// rows of positive weight.
    public var implausibleWeightsReason: String? {
        let n = Double(weight.count)
        // Ten weighted rows at least: a deterministic target's weights are mostly 0, so with few matches their
        // spread (and the standard error) is badly underestimated, and with none it is 0 and any log was "wrong"
        // (a reviewer's simulation: 78% false warnings on 20 correct rows of 80 items).
        guard weight.count >= 20, weight.lazy.filter({ $0 > 0 }).count >= 10 else { return nil }
        let mean = weight.reduce(0, +) / n
        guard mean.isFinite else { return nil }
        guard mean < 0.5 || mean > 2 else { return nil }
        let variance = weight.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
        let standardError = (variance / n).squareRoot()
        guard !(abs(mean - 1) <= 3 * standardError) else { return nil }
        let shown = mean >= 0.01 && mean < 1_000 ? String(format: "%.3g", mean) : String(format: "%.3e", mean)
        return "the mean importance weight is \(shown), where the logging policy's own propensities make it about 1: "
            + (mean < 1
                ? "the target policy favours actions the logs show rarely or never (or the logged propensities are too "
                    + "high, such as 1 for a choice among several items)"
                : "the logged propensities are too low for the actions they were logged with")
            + "; IPW, SNIPW and DR may be far off"
    }

    /// Kish's effective sample size of the importance weights, `(Σ w)² / Σ w²` (Kish, *Survey Sampling*, 1965);
    /// nil when it is undefined (no rows, or every weight is 0, so 0/0) or not finite.
    ///
    /// The weights are divided by the largest first, which leaves the ratio unchanged: n equal weights then give
    /// exactly n (0.2 a hundred times would otherwise sum to 99.99999999999955), and huge weights cannot overflow
    /// `Σ w²`. The result is at most n, as Cauchy–Schwarz bounds it.
    public var effectiveSampleSize: Double? {
        guard let largest = weight.max(), largest > 0, largest.isFinite else { return nil }
        let (s, s2) = weight.reduce((0.0, 0.0)) { sums, w in
            let scaled = w / largest
            return (sums.0 + scaled, sums.1 + scaled * scaled)
        }
        guard s2 > 0 else { return nil }
        let ess = min(s * s / s2, Double(weight.count))
        return ess.isFinite ? ess : nil
    }
}
