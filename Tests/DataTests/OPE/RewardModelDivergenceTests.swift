import Foundation
import RecModel
import Testing

@testable import RecData

/// The logistic reward model's descent at a fixed step diverged on a large input (a user's history counted from a
/// `user` column: one visitor's engagements per item grow with the log), and DM came out a third of the logged mean
/// with an interval that excluded it. A fit worse than the intercept alone on its own rows is run again at a smaller
/// step, so DM of the logging policy lands near the logged mean.
@Suite("The reward model does not diverge on large inputs")
struct RewardModelDivergenceTests {
    @Test("one visitor's long history: DM of the uniform logging policy is near the logged mean")
    func oneVisitorHistory() throws {
        // 300 rows of one user, 6 items logged uniformly, a deterministic ~1 in 4 of them clicked.
        var text = "ts,item,pos,click,prop,visitor,u0\n"
        var state: UInt64 = 12_345
        for i in 0..<300 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let item = Int((state >> 33) % 6)
            let click = (state >> 20) % 100 < 24 ? 1 : 0
            text += "\(i),\(item),0,\(click),0.1666667,u1,a\n"
        }
        let data = try SmallLog.build(
            text, roles: ["user": "visitor"], userFeatures: ["u0": "categorical"], items: 6, name: "one-visitor.csv")
        let largest = (0..<data.rows).flatMap { data.affinity.entries($0).map(\.value) }.max() ?? 0
        #expect(largest >= 5, "the history must be long enough to have made the descent diverge, got \(largest)")
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: data.rows, nActions: data.nActions), policyName: "uniform", on: data, resamples: 0)
        let all = try #require(report.segments.first)
        let logged = data.reward.reduce(0, +) / Double(data.rows)
        let dm = try #require(all.estimates.first { $0.estimator == .dm }?.value)
        #expect(abs(dm - logged) < 0.06, "DM \(dm) against the logged mean \(logged)")
        let q = RewardModel.crossFitted(data).estimatedRewards
        #expect(q.allSatisfy { $0 > 0.01 && $0 < 0.99 }, "a saturated reward model: \(q.min() ?? 0)…\(q.max() ?? 0)")
    }
}
