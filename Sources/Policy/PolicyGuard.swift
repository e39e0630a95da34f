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
        let estimate = estimate(policy, on: impressions, clip: clip)
        return (estimate.value, estimate.rows)
    }

    /// The SNIPW estimate of `policy` on `impressions`, with the impressions it could not score (a context its spec
    /// refuses) counted and the first reason kept, so an undefined estimate says why.
    public static func estimate(_ policy: OnlinePolicy, on impressions: [GuardImpression], clip: Double = weightClip)
        -> GuardEstimate
    {
        let pool = policy.activeRows
        return total(impressions.map { terms(policy, pool: pool, on: $0, clip: clip) }, where: { _ in true })
    }

    /// The SNIPW estimates of `candidate` and `current` on the same rows: only the impressions both policies can
    /// score count in either, so the two values compare one set of logged rows (a candidate over a catalogue that
    /// retired a logged item cannot score that impression, and the current version's estimate must not count it
    /// either). When either policy can score no impression at all, each estimate covers what it can score, so an
    /// undefined one still says why. ``GuardEstimate/unscored`` counts each policy's own failures.
    public static func pairedEstimates(
        candidate: OnlinePolicy, current: OnlinePolicy, on impressions: [GuardImpression], clip: Double = weightClip
    ) -> (candidate: GuardEstimate, current: GuardEstimate) {
        let candidatePool = candidate.activeRows
        let currentPool = current.activeRows
        let a = impressions.map { terms(candidate, pool: candidatePool, on: $0, clip: clip) }
        let b = impressions.map { terms(current, pool: currentPool, on: $0, clip: clip) }
        let both = Set(impressions.indices.filter { a[$0].isScored && b[$0].isScored })
        if both.isEmpty { return (total(a, where: { _ in true }), total(b, where: { _ in true })) }
        var (x, y) = (total(a, where: both.contains), total(b, where: both.contains))
        (x.unscored, x.firstProblem) = (a.count - a.filter(\.isScored).count, a.lazy.compactMap(\.problem).first)
        (y.unscored, y.firstProblem) = (b.count - b.filter(\.isScored).count, b.lazy.compactMap(\.problem).first)
        x.compared = both.count
        y.compared = both.count
        return (x, y)
    }

    /// One impression's part of a SNIPW estimate, or why the policy could not score it.
    private enum ImpressionTerms {
        case scored(numerator: Double, denominator: Double, rows: Int)
        case unscored(String)

        var isScored: Bool {
            if case .scored = self { return true }
            return false
        }

        var problem: String? {
            if case .unscored(let text) = self { return text }
            return nil
        }
    }

    /// `policy`'s weighted clicks and weights over the shown items of `impression` that have feedback.
    private static func terms(_ policy: OnlinePolicy, pool: [Int], on impression: GuardImpression, clip: Double)
        -> ImpressionTerms
    {
        // A logged propensity outside (0, 1] (or missing) would give a weight of infinity or NaN: the row is left
        // out and counted, never weighted.
        if let problem = loggedProblem(impression) { return .unscored(problem) }
        let p: [Double]
        do {
            let z = try policy.userVector(impression.userFeatures, viewed: impression.viewed)
            p = try policy.slotProbabilities(q: policy.scores(z: z, items: pool), pool: pool, slate: impression.slate)
        } catch {
            // An item the impression showed and the candidate's catalogue has since retired is no unknown item: said
            // as ONLINE.md describes it (the guard's reason read "unknown item 40" for a retired item 40).
            if case .unknownItem(let item) = error, item >= 0, item < policy.spec.itemCount,
                !policy.spec.itemActive[item]
            {
                return .unscored("item \(item) was retired from the candidate's catalogue after the impression showed it")
            }
            return .unscored("\(error)")
        }
        var (numerator, denominator, rows) = (0.0, 0.0, 0)
        for (slot, item) in impression.slate.enumerated() {
            guard let click = impression.clicks[item] else { continue }
            let w = min(p[slot] / impression.propensities[slot], clip)
            numerator += w * Double(click)
            denominator += w
            rows += 1
        }
        return .scored(numerator: numerator, denominator: denominator, rows: rows)
    }

    /// The estimate over the impressions whose index `included` accepts, with every unscored one counted.
    private static func total(_ parts: [ImpressionTerms], where included: (Int) -> Bool) -> GuardEstimate {
        var numerator = 0.0
        var denominator = 0.0
        var estimate = GuardEstimate()
        for (index, part) in parts.enumerated() {
            switch part {
            case .unscored(let problem):
                estimate.unscored += 1
                if estimate.firstProblem == nil { estimate.firstProblem = problem }
            case .scored(let n, let d, let rows) where included(index):
                numerator += n
                denominator += d
                estimate.rows += rows
            case .scored:
                break
            }
        }
        estimate.value = denominator > 0 ? numerator / denominator : nil
        return estimate
    }

    /// Decides whether `candidate` may replace `current`.
    /// - Parameters:
    ///   - margin: how far below the current estimate the candidate may fall (absolute, in clicks per shown item).
    ///   - minimumRows: with fewer logged rows the candidate is accepted without a comparison (and the reason says so).
    ///   - leftOut: impressions with feedback the caller left out of `impressions` because their propensities are
    ///     served from a subset of the items, retrieval's or the request's own candidates (the candidate's probability of
    ///     such a slate depends on those candidates, which are not logged); the reason names them when they leave the
    ///     guard short of rows.
    public static func decide(
        candidate: OnlinePolicy, current: OnlinePolicy, on impressions: [GuardImpression], margin: Double,
        minimumRows: Int, leftOut: Int = 0, nowMs: UInt64
    ) -> GuardDecision {
        let (candidateEstimate, currentEstimate) = pairedEstimates(
            candidate: candidate, current: current, on: impressions)
        let (candidateValue, currentValue, rows) = (candidateEstimate.value, currentEstimate.value, candidateEstimate.rows)
        guard rows >= minimumRows else {
            // The logged propensity of a retrieval slate is exact; what cannot be computed is the candidate's
            // probability of it, which depends on the candidates the candidate would retrieve (not logged).
            var omitted = [
                leftOut > 0
                    ? "\(leftOut) impressions with feedback left out: served from a subset of the items (retrieval's or "
                        + "the request's candidates), so the candidate's probability of their slates cannot be computed"
                    : nil
            ]
            // Impressions one policy could not score are left out of both estimates; they may be what left it short.
            if let compared = candidateEstimate.compared, compared < impressions.count {
                let skipped = [
                    candidateEstimate.unscored > 0 ? "the candidate could not score \(candidateEstimate.unscored)" : nil,
                    currentEstimate.unscored > 0
                        ? "the current version could not score \(currentEstimate.unscored)" : nil,
                ].compactMap { $0 }
                omitted.append(
                    "both compared on the \(compared) of \(impressions.count) impressions both can score"
                        + (skipped.isEmpty ? "" : ": " + skipped.joined(separator: ", ")))
            }
            // Why so few: a policy under which no logged row has weight (every logged slate shows an item it no longer
            // serves) is named, as when a comparison is required; so is a log with nothing to weigh.
            if impressions.isEmpty, leftOut == 0 {
                omitted.append("the log holds no impression with feedback to compare on")
            } else if !impressions.isEmpty {
                if candidateValue == nil {
                    omitted.append(undefinedText("the candidate", candidateEstimate, of: impressions.count))
                }
                if currentValue == nil {
                    omitted.append(undefinedText("the current version", currentEstimate, of: impressions.count))
                }
            }
            let kept = omitted.compactMap { $0 }
            let approximate = kept.isEmpty ? "" : " (" + kept.joined(separator: "; ") + ")"
            return GuardDecision(
                accepted: true,
                reason: "accepted without comparison: \(rows) logged rows with exact propensities, fewer than "
                    + "\(minimumRows)\(approximate)",
                candidateValue: candidateValue, currentValue: currentValue, margin: margin, rows: rows, atMs: nowMs)
        }
        if impressions.isEmpty {
            // Nothing to weigh: neither policy is to blame (it said "no logged row has weight under the candidate; …
            // under the current version").
            let held =
                leftOut > 0
                ? "every impression with feedback (\(leftOut)) was left out: served from a subset of the items "
                    + "(retrieval's or the request's candidates), so the candidate's probability of their slates cannot "
                    + "be computed"
                : "the log holds no impression with feedback to compare on"
            return GuardDecision(
                accepted: false,
                reason: "rejected: no comparison is possible: \(held) (with --online-guard-min-rows \(minimumRows) a "
                    + "comparison is required)",
                candidateValue: nil, currentValue: nil, margin: margin, rows: 0, atMs: nowMs)
        }
        guard let c = candidateValue, let b = currentValue else {
            // Name the policy (or both) whose estimate is undefined: the candidate is not blamed for the current
            // version's.
            let undefined = [
                candidateValue == nil ? undefinedText("the candidate", candidateEstimate, of: impressions.count) : nil,
                currentValue == nil ? undefinedText("the current version", currentEstimate, of: impressions.count) : nil,
            ].compactMap { $0 }
            return GuardDecision(
                accepted: false,
                reason: "rejected: no comparison is possible: " + undefined.joined(separator: "; "),
                candidateValue: candidateValue, currentValue: currentValue, margin: margin, rows: rows, atMs: nowMs)
        }
        var text = "SNIPW \(format(c)) vs current \(format(b)) on \(rows) row\(rows == 1 ? "" : "s") (margin \(format(margin)))"
        if let compared = candidateEstimate.compared, compared < impressions.count {
            // Some impressions only one policy could score: both estimates left them out; say how many and why.
            let skipped = [
                candidateEstimate.unscored > 0 ? "the candidate could not score \(candidateEstimate.unscored)" : nil,
                currentEstimate.unscored > 0 ? "the current version could not score \(currentEstimate.unscored)" : nil,
            ].compactMap { $0 }
            let reason = skipped.isEmpty ? "" : " (" + skipped.joined(separator: ", ") + ")"
            text += ", both on the \(compared) of \(impressions.count) impressions both can score\(reason)"
        }
        if c + margin < b {
            return GuardDecision(
                accepted: false, reason: "rejected: \(text)", candidateValue: c, currentValue: b, margin: margin,
                rows: rows, atMs: nowMs)
        }
        return GuardDecision(
            accepted: true, reason: "accepted: \(text)", candidateValue: c, currentValue: b, margin: margin, rows: rows,
            atMs: nowMs)
    }

    /// Why a logged impression cannot be weighted (its propensities are not one per slot, each in (0, 1]), or nil.
    static func loggedProblem(_ impression: GuardImpression) -> String? {
        guard impression.propensities.count == impression.slate.count else {
            return "a logged impression has \(impression.propensities.count) propensities for \(impression.slate.count) slots"
        }
        if let bad = impression.propensities.firstIndex(where: { !($0 > 0 && $0 <= 1) }) {
            return "a logged propensity is \(impression.propensities[bad]) (slot \(bad)), not in (0, 1]"
        }
        return nil
    }

    /// Why `who`'s estimate is undefined: no logged row has weight under it, and the impressions it could not score.
    private static func undefinedText(_ who: String, _ estimate: GuardEstimate, of impressions: Int) -> String {
        var text = "no logged row has weight under \(who)"
        if estimate.unscored > 0 {
            text += " (it could not score \(estimate.unscored) of \(impressions) impressions: "
                + "\(estimate.firstProblem ?? "no reason given"))"
        }
        return text
    }

    private static func format(_ x: Double) -> String {
        let scaled = (x * 10_000).rounded() / 10_000
        return "\(scaled)"
    }
}

/// One policy's SNIPW estimate on logged impressions (``PolicyGuard/estimate(_:on:clip:)``).
public struct GuardEstimate: Sendable, Equatable {
    /// The estimate, nil when no logged row has weight under the policy.
    public var value: Double?
    /// Logged rows (shown items with feedback) the estimate used.
    public var rows = 0
    /// Impressions the policy could not score (a context its spec refuses, or logged propensities that are not one
    /// per slot in (0, 1]): left out of the estimate.
    public var unscored = 0
    /// Why the first of them could not be scored.
    public var firstProblem: String?
    /// When the estimate was paired with another policy's (``PolicyGuard/pairedEstimates(candidate:current:on:clip:)``):
    /// the impressions both could score, the only ones either estimate used. Nil for a single policy's estimate.
    public var compared: Int?

    /// An empty estimate.
    public init() {}
}
