import Foundation
import Testing

@testable import RecData

/// The feature-only reference: the ground truth averaged over the users a model of the logged features cannot tell
/// apart, and the reference figures `recpool eval` reports beside a model's.
@Suite("The feature-only click model")
struct FeatureOnlyClickModelTests {
    /// A small world with warm users (12 items, 3,000 users, 15% warm).
    static var world: SimulatorWorld { ModelEvaluationTests.world }

    @Test("a user's probability is the mean of the ground truth over the users with its codes and history flag")
    func groupMean() throws {
        let world = Self.world
        let model = FeatureOnlyClickModel(world: world)
        let features = world.config.userFeatureCardinalities.count
        let key = { (u: Int) in Array(world.featureCodes[(u * features)..<((u + 1) * features)]) + [world.warm[u] ? 1 : 0] }
        for user in [0, 1, 17, 999, 2_999] {
            let group = (0..<world.config.users).filter { key($0) == key(user) }
            #expect(model.groupSize(user: user) == group.count)
            for (item, position) in [(0, 0), (3, 1), (11, 2)] {
                let expected = group.reduce(0.0) {
                    $0 + world.clickProbability(user: $1, item: item, position: position)
                } / Double(group.count)
                #expect(abs(model.probability(user: user, item: item, position: position) - expected) < 1e-12)
                // Every user of one group gets the same figure.
                #expect(model.probability(user: group.last!, item: item, position: position)
                    == model.probability(user: group.first!, item: item, position: position))
            }
        }
        // The history flag is seen: no group mixes warm and cold users.
        for user in 0..<world.config.users where world.warm[user] {
            #expect(model.groupSize(user: user) == (0..<world.config.users).filter { key($0) == key(user) }.count)
            break
        }
    }

    @Test("on issue 18's synthetic test split the true click model reaches AUC 0.776 and the feature-only model 0.735")
    func issueFigures() throws {
        // The dataset `recpool fit --dataset synthetic:users=20000,rows=100000,seed=7` fits and evaluates on.
        let data = try DatasetSpecifier(parsing: "synthetic:users=20000,rows=100000,seed=7").load(obdDirectory: "")
        let test = SplitDataset(data).test
        let report = try ModelEvaluation.evaluate(
            data: test, spec: try FeatureSpec.fit(on: SplitDataset(data).train, featureSet: .basic), modelName: "constant",
            scorer: { rows, width in [Float](repeating: 0.03, count: rows.count / width) }, rewardModel: nil, resamples: 0)
        let references = try #require(report.segments[0].references)
        #expect(references.map(\.name) == ["true_click_model", "feature_only"])
        let truth = references[0], seen = references[1]
        #expect(abs(try #require(truth.rocAUC) - 0.7760) < 0.0005)
        #expect(abs(try #require(seen.rocAUC) - 0.7351) < 0.0005)
        #expect(abs(truth.logLoss - 0.11320) < 0.0001)
        #expect(abs(seen.logLoss - 0.11784) < 0.0001)
        // Each segment has both.
        for segment in report.segments where segment.rows > 0 {
            let r = try #require(segment.references)
            #expect(r.count == 2 && r.allSatisfy { $0.logLoss.isFinite })
        }
        // The JSON carries them; a log without ground truth has `null`.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        #expect(json.contains("\"references\":[{\"logLoss\":"))
        #expect(json.contains("\"name\":\"feature_only\""))
        #expect(report.html().contains("Reference click models"))
    }
}
