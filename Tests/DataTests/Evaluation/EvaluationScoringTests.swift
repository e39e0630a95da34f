import Foundation
import Testing

@testable import RecData

/// Which rows `eval` scores, and with which features: identical impressions alike, and the training part as `fit`
/// trained on it.
@Suite("Evaluation scores: equal contexts alike, training rows out-of-fold")
struct EvaluationScoringTests {
    static let data: (train: BanditDataset, all: BanditDataset) = {
        var config = SimulatorConfig()
        config.users = 400
        config.items = 10
        config.warmFraction = 0.1
        let logged = SimulatorWorld(config: config).loggedData(rows: 3_000, policy: .uniform, seed: 9)
        let parts = SplitDataset(logged)
        return (parts.train, parts.all)
    }()

    /// A linear score whose last bits depend on where a row sits in the batch, as a matrix product's do.
    static func positionalScorer(_ rows: [Float], _ width: Int) -> [Float] {
        (0..<(rows.count / width)).map { i in
            let sum = (0..<width).reduce(Float(0)) { $0 + rows[i * width + $1] * Float(($1 % 5) + 1) * 0.01 }
            return 1 / (1 + exp(-sum + 2)) + Float(i % 3) * 1e-6
        }
    }

    @Test("rows of one context (user features, affinities, slot) get the same score for every item")
    func equalContextsScoreAlike() throws {
        let data = Self.data.all
        let spec = try FeatureSpec.fit(on: Self.data.train)
        let k = data.nActions
        let all = try ModelEvaluation.scoreEveryItem(data: data, spec: spec, scorer: Self.positionalScorer)
        var first: [String: Int] = [:]
        var repeats = 0
        for row in 0..<data.rows {
            let key = "\(data.userContext(row).sorted { $0.key < $1.key })|\(data.affinity.entries(row).map { "\($0.column):\($0.value)" })|\(data.position[row])"
            guard let earlier = first[key] else {
                first[key] = row
                continue
            }
            repeats += 1
            #expect(Array(all[(row * k)..<((row + 1) * k)]) == Array(all[(earlier * k)..<((earlier + 1) * k)]), "rows \(earlier) and \(row)")
        }
        #expect(repeats > 50, "the log repeats contexts (\(repeats))")
    }

    @Test("the training rows' logged items are scored with the out-of-fold rates fit trained on, with a note")
    func trainingRowsAsFitSawThem() throws {
        let train = Self.data.train
        let spec = try FeatureSpec.fit(on: train)
        try #require(spec.hasCrossRates)
        let fitted = spec.trainingMatrix(train)
        #expect(fitted.values != spec.matrix(train).values, "out-of-fold rates differ from the served ones")
        let expected = Self.positionalScorer(fitted.values, spec.width).map(Double.init)
        let report = try ModelEvaluation.evaluate(
            data: train, spec: spec, modelName: "m", scorer: Self.positionalScorer, rewardModel: nil, resamples: 0,
            trainingRows: train.rows)
        let logLoss = try #require(report.segments.first?.classification?.logLoss)
        let reference = ClassificationMetrics(labels: train.clickLabels, scores: expected).logLoss
        #expect(abs(logLoss - reference) < 1e-12, "\(logLoss) vs \(reference)")
        #expect(report.notes.contains { $0.contains("out-of-fold item × user rates") })
        // Without the training part named, the served rates: another figure, and no note.
        let served = try ModelEvaluation.evaluate(
            data: train, spec: spec, modelName: "m", scorer: Self.positionalScorer, rewardModel: nil, resamples: 0)
        #expect(served.segments.first?.classification?.logLoss != logLoss)
        #expect(!served.notes.contains { $0.contains("out-of-fold") })
        // Rows a specification was not fitted on (another log's training part) keep the served rates: no note.
        let other = try FeatureSpec.fit(on: Self.data.all)
        let elsewhere = try ModelEvaluation.evaluate(
            data: train, spec: other, modelName: "m", scorer: Self.positionalScorer, rewardModel: nil, resamples: 0,
            trainingRows: train.rows)
        #expect(!elsewhere.notes.contains { $0.contains("out-of-fold") })
    }
}
