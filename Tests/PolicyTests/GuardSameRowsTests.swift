import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// The guard compares the candidate and the current version on one set of logged rows: an impression only one of
/// them can score counts in neither estimate.
@Suite("Online guard: both estimates on the same rows")
struct GuardSameRowsTests {
    @Test("a candidate that retired a logged item is compared with the current version on the impressions both score")
    func retiredItemLeavesBothEstimates() throws {
        let (world, spec) = smallSpec()
        let current = try OnlinePolicy.initial(spec: spec)
        let impressions = try GuardReasonTests.logged(by: current, world: world, count: 200)
        // Retire the item shown in nearest half the impressions: the candidate cannot score the ones that show it.
        var shown: [Int: Int] = [:]
        for impression in impressions { for item in impression.slate { shown[item, default: 0] += 1 } }
        let half = impressions.count / 2
        let retired = try #require(shown.min { abs($0.value - half) < abs($1.value - half) }?.key)
        var retiredSpec = spec
        retiredSpec.itemActive[retired] = false
        let candidate = try OnlinePolicy.initial(spec: retiredSpec)
        let both = impressions.filter { !$0.slate.contains(retired) }
        #expect(both.count > 0 && both.count < impressions.count)

        let decision = PolicyGuard.decide(
            candidate: candidate, current: current, on: impressions, margin: 0.01, minimumRows: 10, nowMs: 0)
        // Both values are each policy's SNIPW on exactly the impressions without the retired item.
        let currentOnBoth = PolicyGuard.estimate(current, on: both)
        let candidateOnBoth = PolicyGuard.estimate(candidate, on: both)
        #expect(decision.currentValue == currentOnBoth.value)
        #expect(decision.candidateValue == candidateOnBoth.value)
        #expect(decision.rows == currentOnBoth.rows && decision.rows == candidateOnBoth.rows)
        // The current version alone, on every impression, would have used more rows.
        #expect(PolicyGuard.estimate(current, on: impressions).rows > decision.rows)
        let skipped = impressions.count - both.count
        #expect(
            decision.reason.contains(
                "both on the \(both.count) of \(impressions.count) impressions both can score "
                    + "(the candidate could not score \(skipped))"), "\(decision.reason)")

        // Below the minimum rows the candidate is accepted without comparison, and the reason still names the
        // impressions left out (it said only "N rows, fewer than M", hiding that the exclusion left it short).
        let short = PolicyGuard.decide(
            candidate: candidate, current: current, on: impressions, margin: 0.01, minimumRows: 1_000_000, nowMs: 0)
        #expect(short.accepted && short.reason.hasPrefix("accepted without comparison"), "\(short.reason)")
        #expect(
            short.reason.contains(
                "both compared on the \(both.count) of \(impressions.count) impressions both can score: "
                    + "the candidate could not score \(skipped)"), "\(short.reason)")

        let (x, y) = PolicyGuard.pairedEstimates(candidate: candidate, current: current, on: impressions)
        #expect(x.compared == both.count && y.compared == both.count)
        #expect(x.unscored == skipped && y.unscored == 0)
        #expect(x.firstProblem?.isEmpty == false && y.firstProblem == nil)
    }

    @Test("when both policies score every impression, the paired estimates are the single ones and the reason is unchanged")
    func allScoredUnchanged() throws {
        let (world, spec) = smallSpec()
        let current = try OnlinePolicy.initial(spec: spec)
        let impressions = try GuardReasonTests.logged(by: current, world: world, count: 80)
        let (x, y) = PolicyGuard.pairedEstimates(candidate: current, current: current, on: impressions)
        let single = PolicyGuard.estimate(current, on: impressions)
        #expect(x.value == single.value && y.value == single.value && x.rows == single.rows)
        let decision = PolicyGuard.decide(
            candidate: current, current: current, on: impressions, margin: 0.01, minimumRows: 10, nowMs: 0)
        #expect(decision.accepted && !decision.reason.contains("both can score"), "\(decision.reason)")
    }
}
