import Foundation
import RecModel
import Testing

@testable import RecData

/// A reward log whose rewards are not 0 or 1 (revenue): the reward model, a click and the mean reward.
@Suite("Non-binary rewards")
struct NonBinaryRewardTests {
    /// 120 rows over 3 items and 2 slots, rewards cycling 0, 0.3, 2.5, 7 (mean 2.45, three rows in four a click).
    static func revenueLog() throws -> BanditDataset {
        let rewards = [0, 0.3, 2.5, 7]
        var log = "ts,item,pos,rew,prop,u0\n"
        for i in 0..<120 {
            log += "\(i),\(i % 3),\((i / 3) % 2),\(rewards[i % 4]),0.25,\(i % 5 == 0 ? "a" : "b")\n"
        }
        let schema = try DataSchema.parse(
            """
            [logs]
            timestamp = "ts"
            item = "item"
            position = "pos"
            reward = "rew"
            propensity = "prop"

            [logs.user_features]
            u0 = "categorical"

            [catalogue]
            file = "cat.csv"
            item = "item"

            [catalogue.item_features]
            f0 = "numeric"
            """, path: "rew.toml")
        return try LogLoader.build(
            log: CSVTable.parse(Array(log.utf8), path: "rew.csv"),
            catalogue: CSVTable.parse(Array("item,f0\n0,0.1\n1,0.5\n2,0.9\n".utf8), path: "cat.csv"),
            schema: schema, name: "rew.csv")
    }

    @Test("the logistic reward model fits revenue scaled into [0, 1] and scales back, within the rewards' range")
    func fractionalLogit() throws {
        let data = try Self.revenueLog()
        let fit = RewardModel.crossFitted(data)
        #expect(fit.estimatedRewards.count == data.rows * data.nActions)
        #expect(fit.estimatedRewards.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 7 })
        // Scaled back to reward units: the estimates sit around the mean reward 2.45, not inside [0, 1].
        let mean = fit.estimatedRewards.reduce(0, +) / Double(fit.estimatedRewards.count)
        #expect(abs(mean - 2.45) < 0.5, "mean estimate \(mean)")
    }

    @Test("DM and DR are defined on a revenue log, never undefined as an overflow")
    func directMethodDefined() throws {
        let data = try Self.revenueLog()
        let policy = ActionDistribution.uniform(rows: data.rows, nActions: data.nActions)
        let (report, rewards) = OffPolicyEvaluation.evaluateWithRewards(
            policy: policy, policyName: "uniform", on: data, resamples: 0)
        #expect(rewards?.allSatisfy(\.isFinite) == true)
        let all = try #require(report.segments.first)
        for estimator in [OffPolicyEstimator.dm, .dr] {
            let figure = try #require(all.estimates.first { $0.estimator == estimator })
            #expect(figure.value?.isFinite == true && figure.undefined == nil, "\(estimator): \(figure)")
        }
    }

    @Test("a fold whose rewards are all one value, not 0 or 1, takes that constant and says so")
    func constantFold() throws {
        var data = try Self.revenueLog()
        data.reward = [Double](repeating: 2.5, count: data.rows)
        let fit = RewardModel.crossFitted(data)
        #expect(fit.estimatedRewards.allSatisfy { $0 == 2.5 })
        #expect(fit.notes.first?.contains("training rewards are all 2.5") == true)
    }

    @Test("a click is a reward above 0 everywhere: describe's clicks and CTR count rows, the mean reward is apart")
    func oneDefinitionOfAClick() throws {
        let data = try Self.revenueLog()
        #expect(data.clicks == 90)
        #expect(data.clickLabels.allSatisfy { $0 == 0 || $0 == 1 })
        let description = DatasetDescription(data)
        #expect(description.clicks == 90)
        #expect(abs(description.ctr - 0.75) < 1e-12)
        #expect(abs(description.meanReward - 2.45) < 1e-12)
    }

    @Test("a .npy export holding NaN is refused naming the position, never written")
    func npyRefusesNaN() {
        let array = NumpyArray(shape: [2, 3], values: [0, 1, 2, 3, .nan, 5])
        let error = #expect(throws: NumpyArrayError.self) { try array.encoded(path: "q.npy") }
        guard case .notFinite("q.npy", [1, 1], let value)? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(value.isNaN)
        #expect(throws: NumpyArrayError.notFinite("q.npy", index: [2], value: .infinity)) {
            try NumpyArray(shape: [3], values: [0, 1, .infinity]).encoded(path: "q.npy")
        }
    }
}
