import Testing

@testable import RecData

@Suite("Off-policy evaluation on the Open Bandit Dataset")
struct OBDOffPolicyTests {
    @Test(
        "the uniform policy on the BTS logs has ESS near 340, 656 and 2 of 10,000",
        .enabled(if: Paths.hasOBD, Paths.obdMissing),
        arguments: [("bts/all", 340.0), ("bts/men", 656.0), ("bts/women", 2.0)])
    func ess(_ source: String, _ expected: Double) throws {
        let data = try OBDCache.load(source)
        let terms = OPETerms(
            reward: data.reward, action: data.action, pscore: data.pscore,
            policy: .uniform(rows: data.rows, nActions: data.nActions), estimatedRewards: nil)
        let ess = try #require(terms.effectiveSampleSize)
        #expect(abs(ess - expected) <= max(1, 0.01 * expected), "ESS \(ess)")
    }

    @Test(
        "a full report on bts/men splits cold and warm and notes reward-model fallbacks",
        .enabled(if: Paths.hasOBD, Paths.obdMissing))
    func report() throws {
        let data = try OBDCache.load("bts/men")
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: data.rows, nActions: data.nActions), policyName: "uniform", on: data,
            rewardModel: .logistic(iterations: 100), resamples: 200)
        #expect(report.segments.map(\.segment) == [.all, .coldStart, .warm])
        let all = try #require(report.segment(.all))
        #expect(all.rows == 10_000)
        #expect(report.segment(.coldStart)!.rows + report.segment(.warm)!.rows == 10_000)
        for e in OffPolicyEstimator.allCases {
            let f = try #require(all.figures(e))
            let value = try #require(f.value)
            #expect(value > 0 && value < 0.05)
            #expect(f.interval!.lower <= value && value <= f.interval!.upper)
        }
    }

    @Test("a training fold with a single class falls back to a constant and says so")
    func singleClassFallback() throws {
        var data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        data.reward = data.reward.map { _ in 0 }
        let fit = RewardModel.crossFitted(data, kind: .logistic(iterations: 10), folds: 3)
        #expect(fit.estimatedRewards.allSatisfy { $0 == 0 })
        #expect(fit.notes.count == 9)
        #expect(fit.notes[0].contains("all 0"))
    }
}
