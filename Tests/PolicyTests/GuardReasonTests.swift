import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// The guard's rejection names the policy whose estimate is undefined, never the candidate for the current
/// version's.
@Suite("Online guard: which policy an undefined estimate belongs to")
struct GuardReasonTests {
    /// Impressions logged by `policy` in the simulator world, every shown item with feedback.
    static func logged(by policy: OnlinePolicy, world: SimulatorWorld, count: Int) throws -> [GuardImpression] {
        var environment = SimulatorEnvironment(world: world, seed: 3)
        var rng = Xoshiro256(seed: 4)
        var rows: [GuardImpression] = []
        for _ in 0..<count {
            let observation = environment.reset()
            let slate = try policy.recommend(userFeatures: observation.userFeatures, rng: &rng)
            let step = try environment.step(slate.map(\.item))
            var clicks: [Int: Int] = [:]
            for s in slate { clicks[s.item] = step.clicked == s.item ? 1 : 0 }
            rows.append(
                GuardImpression(
                    userFeatures: observation.userFeatures, slate: slate.map(\.item),
                    propensities: slate.map(\.propensity), clicks: clicks))
        }
        return rows
    }

    /// A policy over the same items that knows no user feature, so it cannot score the logged contexts.
    static func blind(_ spec: OnlinePolicySpec) throws -> OnlinePolicy {
        var blind = spec
        blind.userFeatures = []
        return try OnlinePolicy.initial(spec: blind)
    }

    @Test("only the current version's estimate undefined: the reason names the current version, not the candidate")
    func currentUndefined() throws {
        let (world, spec) = smallSpec()
        let candidate = try OnlinePolicy.initial(spec: spec)
        let impressions = try Self.logged(by: candidate, world: world, count: 60)
        let decision = PolicyGuard.decide(
            candidate: candidate, current: try Self.blind(spec), on: impressions, margin: 0.01, minimumRows: 10,
            nowMs: 0)
        #expect(!decision.accepted)
        #expect(decision.candidateValue != nil && decision.currentValue == nil)
        #expect(decision.reason.contains("no logged row has weight under the current version"), "\(decision.reason)")
        #expect(decision.reason.contains("could not score 60 of 60 impressions"), "\(decision.reason)")
        #expect(!decision.reason.contains("under the candidate"), "\(decision.reason)")
    }

    @Test("only the candidate's estimate undefined: the reason names the candidate")
    func candidateUndefined() throws {
        let (world, spec) = smallSpec()
        let current = try OnlinePolicy.initial(spec: spec)
        let impressions = try Self.logged(by: current, world: world, count: 60)
        // The candidate cannot score any context, so it has no rows: with no minimum it is compared, and refused.
        let decision = PolicyGuard.decide(
            candidate: try Self.blind(spec), current: current, on: impressions, margin: 0.01, minimumRows: 0, nowMs: 0)
        #expect(!decision.accepted)
        #expect(decision.candidateValue == nil && decision.currentValue != nil)
        #expect(decision.reason.contains("no logged row has weight under the candidate"), "\(decision.reason)")
        #expect(!decision.reason.contains("current version"), "\(decision.reason)")
    }

    /// With `--online-guard-min-rows 0` and every impression with feedback evicted, the rejection blamed both
    /// policies ("no logged row has weight under the candidate; … under the current version"): the log held nothing.
    @Test("no impression with feedback at all: the reason says the log holds none, blaming neither policy")
    func noImpressions() throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        let decision = PolicyGuard.decide(candidate: policy, current: policy, on: [], margin: 0.01, minimumRows: 0, nowMs: 0)
        #expect(!decision.accepted && decision.rows == 0)
        #expect(
            decision.reason == "rejected: no comparison is possible: the log holds no impression with feedback to compare "
                + "on (with --online-guard-min-rows 0 a comparison is required)")
        let retrieval = PolicyGuard.decide(
            candidate: policy, current: policy, on: [], margin: 0.01, minimumRows: 0, leftOut: 7, nowMs: 0)
        #expect(retrieval.reason.contains("every impression with feedback (7) was left out: served from a subset of the items"))
        // With a minimum above 0 the same empty log is accepted without comparison, as before, and says why.
        let short = PolicyGuard.decide(candidate: policy, current: policy, on: [], margin: 0.01, minimumRows: 1, nowMs: 0)
        #expect(short.accepted)
        #expect(
            short.reason == "accepted without comparison: 0 logged rows with exact propensities, fewer than 1 (the log "
                + "holds no impression with feedback to compare on)")
    }

    /// A helper's case: every logged slate showed an item since retired, so no row had weight under the candidate, and
    /// the reason said only "0 logged rows with exact propensities, fewer than 1".
    @Test("accepted below the minimum rows: a policy under which no logged row has weight is named, with why")
    func shortAndUndefined() throws {
        let (world, spec) = smallSpec()
        let current = try OnlinePolicy.initial(spec: spec)
        let impressions = try Self.logged(by: current, world: world, count: 30)
        let decision = PolicyGuard.decide(
            candidate: try Self.blind(spec), current: current, on: impressions, margin: 0.01, minimumRows: 1_000,
            nowMs: 0)
        #expect(decision.accepted && decision.candidateValue == nil)
        #expect(decision.reason.hasPrefix("accepted without comparison: 0 logged rows"), "\(decision.reason)")
        #expect(decision.reason.contains("no logged row has weight under the candidate (it could not score 30 of 30"),
            "\(decision.reason)")
        #expect(!decision.reason.contains("under the current version"), "\(decision.reason)")
    }

    /// A helper's case: a candidate whose catalogue retired an item a logged slate showed said "unknown item 40",
    /// though item 40 is in its catalogue, retired (ONLINE.md names this case).
    @Test("an impression showing an item the candidate's catalogue retired is unscored as retired, not unknown")
    func retiredItemNamed() throws {
        let (world, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        let impressions = try Self.logged(by: policy, world: world, count: 20)
        let shown = try #require(impressions.first?.slate.first)
        var retired = spec
        retired.itemActive[shown] = false
        let estimate = PolicyGuard.estimate(try OnlinePolicy.initial(spec: retired), on: impressions)
        #expect(estimate.unscored > 0)
        #expect(
            estimate.firstProblem == "item \(shown) was retired from the candidate's catalogue after the impression showed it",
            "\(estimate.firstProblem ?? "")")
    }

    @Test("the estimate counts the impressions a policy could not score and keeps the first reason")
    func unscoredCounted() throws {
        let (world, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        let impressions = try Self.logged(by: policy, world: world, count: 20)
        let estimate = PolicyGuard.estimate(try Self.blind(spec), on: impressions)
        #expect(estimate.value == nil && estimate.rows == 0 && estimate.unscored == 20)
        #expect(estimate.firstProblem?.isEmpty == false)
        let scored = PolicyGuard.estimate(policy, on: impressions)
        #expect(scored.unscored == 0 && scored.rows > 0 && scored.value != nil)
    }

    @Test("a logged propensity outside (0, 1] or missing is left out and counted, never weighted as infinity or NaN")
    func badLoggedPropensities() throws {
        let (world, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        let good = try Self.logged(by: policy, world: world, count: 10)
        for bad in [0, -0.5, .nan, 1.5] {
            var damaged = good
            damaged[0].propensities[0] = bad
            let estimate = PolicyGuard.estimate(policy, on: damaged)
            #expect(estimate.unscored == 1, "propensity \(bad)")
            #expect(estimate.firstProblem?.contains("not in (0, 1]") == true, "\(estimate.firstProblem ?? "")")
            #expect(estimate.value?.isFinite == true, "propensity \(bad) gave \(String(describing: estimate.value))")
        }
        var short = good
        short[0].propensities.removeLast()
        let estimate = PolicyGuard.estimate(policy, on: short)
        #expect(estimate.unscored == 1 && estimate.firstProblem?.contains("propensities for") == true)
    }

    /// With a large catalogue every slate comes through retrieval and is left out of the guard's evidence; the
    /// decision said "0 logged rows" after 900 feedback events. It now says how many were left out, and why.
    @Test("a guard short of rows because retrieval slates were left out says so, with their count")
    func leftOutRetrievalSlates() throws {
        let (world, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        let impressions = try Self.logged(by: policy, world: world, count: 5)
        let decision = PolicyGuard.decide(
            candidate: policy, current: policy, on: impressions, margin: 0.01, minimumRows: 200, leftOut: 900, nowMs: 0)
        #expect(decision.accepted)
        #expect(decision.reason.contains("logged rows with exact propensities, fewer than 200"), "\(decision.reason)")
        #expect(decision.reason.contains("900 impressions with feedback left out: served from a subset of the items"))
        let plain = PolicyGuard.decide(
            candidate: policy, current: policy, on: impressions, margin: 0.01, minimumRows: 200, nowMs: 0)
        #expect(!plain.reason.contains("left out"), "\(plain.reason)")
    }
}
