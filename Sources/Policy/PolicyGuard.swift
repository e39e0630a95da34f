import RecWire

/// One logged impression with its feedback, as the guard reads it.
public struct GuardImpression: Sendable, Equatable {
    /// The raw context.
    public var userFeatures: [String: String]
    /// The items the user had viewed, with dwell.
    public var viewed: [ViewedItem]
    /// The items shown, top slot first.
    public var slate: [Int]
    /// The logging propensity of each slot.
    public var propensities: [Double]
    /// Feedback received: item → click.
    public var clicks: [Int: Int]

    /// Creates a row.
    public init(
        userFeatures: [String: String], viewed: [ViewedItem] = [], slate: [Int], propensities: [Double],
        clicks: [Int: Int]
    ) {
        self.userFeatures = userFeatures
        self.viewed = viewed
        self.slate = slate
        self.propensities = propensities
        self.clicks = clicks
    }
}

/// The off-policy guard: before a candidate version is served, its self-normalised IPW estimate on recent
/// logged impressions must not fall below the current version's by more than a margin.
///
/// Each shown item with feedback is one row; its weight is `π(a_p | s, a_<p) / π₀(a_p | s, a_<p)`, the
/// evaluated policy's probability of placing that item in that slot given the items logged above it over
/// the logged one, clipped at ``weightClip``. SNIPW = Σ w·r / Σ w (Swaminathan & Joachims 2015).
public enum PolicyGuard {
    /// Importance weights are clipped here: a few rows the logging policy explored with a tiny propensity
    /// would otherwise dominate both estimates (clipping trades a little bias for much less variance).
    public static let weightClip = 10.0

    /// The SNIPW value of `policy` on `impressions`, and the rows used. `nil` value when no row has weight.
    public static func snipw(_ policy: OnlinePolicy, on impressions: [GuardImpression], clip: Double = weightClip)
        -> (value: Double?, rows: Int)
    {
        var numerator = 0.0
        var denominator = 0.0
        var rows = 0
        let pool = policy.catalogue.activeIndices
        for impression in impressions {
            guard let z = try? policy.userVector(impression.userFeatures, viewed: impression.viewed),
                let p = try? policy.slotProbabilities(q: policy.scores(z: z, items: pool), pool: pool, slate: impression.slate)
            else { continue }
            for (slot, item) in impression.slate.enumerated() {
                guard let click = impression.clicks[item], slot < impression.propensities.count else { continue }
                let w = min(p[slot] / impression.propensities[slot], clip)
                numerator += w * Double(click)
                denominator += w
                rows += 1
            }
        }
        return (denominator > 0 ? numerator / denominator : nil, rows)
    }

    /// Decides whether `candidate` may replace `current`.
    /// - Parameters:
    ///   - margin: how far below the current estimate the candidate may fall (absolute, in clicks per shown item).
    ///   - minimumRows: with fewer logged rows the candidate is accepted without a comparison (and the reason says so).
    public static func decide(
        candidate: OnlinePolicy, current: OnlinePolicy, on impressions: [GuardImpression], margin: Double,
        minimumRows: Int, nowMs: UInt64
    ) -> GuardDecision {
        let (candidateValue, rows) = snipw(candidate, on: impressions)
        let (currentValue, _) = snipw(current, on: impressions)
        guard rows >= minimumRows else {
            return GuardDecision(
                accepted: true, reason: "accepted without comparison: \(rows) logged rows, fewer than \(minimumRows)",
                candidateValue: candidateValue, currentValue: currentValue, margin: margin, rows: rows, atMs: nowMs)
        }
        guard let c = candidateValue, let b = currentValue else {
            return GuardDecision(
                accepted: false, reason: "rejected: no logged row has weight under the candidate",
                candidateValue: candidateValue, currentValue: currentValue, margin: margin, rows: rows, atMs: nowMs)
        }
        let text = "SNIPW \(format(c)) vs current \(format(b)) on \(rows) rows (margin \(format(margin)))"
        if c + margin < b {
            return GuardDecision(
                accepted: false, reason: "rejected: \(text)", candidateValue: c, currentValue: b, margin: margin,
                rows: rows, atMs: nowMs)
        }
        return GuardDecision(
            accepted: true, reason: "accepted: \(text)", candidateValue: c, currentValue: b, margin: margin, rows: rows,
            atMs: nowMs)
    }

    private static func format(_ x: Double) -> String {
        let scaled = (x * 10_000).rounded() / 10_000
        return "\(scaled)"
    }
}
