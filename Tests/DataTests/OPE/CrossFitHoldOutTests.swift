import Foundation
import RecModel
import Testing

@testable import RecData

/// Cross-fitting never predicts a row with a reward model that saw it: a position holding one row is predicted from
/// the other rows, and a one-row log has no reward model at all (DM and DR undefined, naming why).
@Suite("Cross-fitting holds every row out")
struct CrossFitHoldOutTests {
    /// `clicks` gives each row's reward; row `i` is in slot `slots[i]`, item `i % 2`, propensity 0.5.
    static func log(clicks: [Int], slots: [Int]) throws -> BanditDataset {
        var text = "ts,item,pos,reward,prop,u0\n"
        for i in clicks.indices { text += "\(i),\(i % 2),\(slots[i]),\(clicks[i]),0.5,a\n" }
        return try SmallLog.build(text, outcome: "reward", userFeatures: ["u0": "categorical"], items: 2, name: "hold.csv")
    }

    @Test("a slot's only row is predicted from the other rows, never from itself", arguments: [RewardModelKind.logistic(), .itemMean()])
    func aloneInItsSlot(kind: RewardModelKind) throws {
        // Slot 1 holds one row, a click; every row of slot 0 is no click. Fitted on itself, q̂ would be 1.
        let data = try Self.log(clicks: [0, 0, 0, 0, 0, 0, 1], slots: [0, 0, 0, 0, 0, 0, 1])
        let fit = RewardModel.crossFitted(data, kind: kind, folds: 3)
        #expect(fit.unavailable == nil)
        let row = 6
        for a in 0..<data.nActions { #expect(fit.estimatedRewards[row * data.nActions + a] == 0) }
        #expect(fit.notes.contains { $0.contains("slot 1 has one row") })
    }

    @Test("a one-row log has no cross-fitted reward model: DM and DR are undefined and say why")
    func oneRow() throws {
        let data = try Self.log(clicks: [1], slots: [0])
        let fit = RewardModel.crossFitted(data, folds: 3)
        #expect(fit.unavailable?.contains("one row") == true)
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: 1, nActions: data.nActions), policyName: "uniform", on: data, resamples: 0)
        let all = try #require(report.segments.first)
        for estimator in [OffPolicyEstimator.dm, .dr] {
            let figures = try #require(all.estimates.first { $0.estimator == estimator })
            #expect(figures.value == nil)
            #expect(figures.undefined?.contains("one row") == true)
        }
        // IPW needs no reward model: 1 · (1/2) / 0.5.
        #expect(all.estimates.first { $0.estimator == .ipw }?.value == 1)
    }

    @Test("with one fold the fit is in-sample by the caller's choice, and every row is predicted")
    func oneFold() throws {
        let data = try Self.log(clicks: [1], slots: [0])
        let fit = RewardModel.crossFitted(data, folds: 1)
        #expect(fit.unavailable == nil && fit.estimatedRewards == [1, 1])
    }

    @Test("many positions of one row each share one model fitted on the other positions' rows")
    func longTailOfSlots() throws {
        // Slot 0 holds 12 rows, none a click; slots 1…10 hold one row each, a click. Fitted on itself, q̂ would be 1.
        var clicks = [Int](repeating: 0, count: 12)
        var slots = [Int](repeating: 0, count: 12)
        for slot in 1...10 {
            clicks.append(1)
            slots.append(slot)
        }
        let data = try Self.log(clicks: clicks, slots: slots)
        let fit = RewardModel.crossFitted(data, kind: .itemMean(), folds: 3)
        #expect(fit.unavailable == nil)
        for row in 12..<22 { #expect(fit.estimatedRewards[row * data.nActions] == 0) }
        #expect(fit.notes.contains { $0.contains("10 positions have one row each") })
    }
}
