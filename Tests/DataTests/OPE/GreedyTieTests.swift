import Testing

@testable import RecData

/// A greedy policy spreads its probability over the items tied for the best score (docs/DATA.md, "Ties"): a model
/// that scores every item alike is worth the uniform choice, whatever order the catalogue lists its rows in.
@Suite("Greedy policies and tied scores")
struct GreedyTieTests {
    /// A log over 3 items; `order[k]` is the row the catalogue lists item `k` at (the same log, rows reordered).
    static func log(order: [Int]) -> BanditDataset {
        let items = [0, 1, 2, 0, 0, 1, 2, 2, 1, 0, 2, 1]
        let clicks: [Double] = [1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0]
        let pscores = [0.5, 0.25, 0.25, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.5, 0.25, 0.25]
        let rows = items.count
        var affinity = SparseRows()
        for _ in 0..<rows { affinity.append([(Int, Float)]()) }
        return BanditDataset(
            name: "ties", nActions: 3, nPositions: 1, action: items.map { order[$0] },
            position: [Int](repeating: 0, count: rows), reward: clicks, pscore: pscores,
            userFeatures: CategoricalColumns(names: ["country"], rows: (0..<rows).map { [["de", "fr"][$0 % 2]] }),
            context: FeatureMatrix(rows: rows, columnNames: [], values: []),
            actionContext: FeatureMatrix(rows: 3, columnNames: [], values: []), affinity: affinity,
            itemNumericColumns: 0)
    }

    /// A row whose first score was NaN became uniform (Swift's max() of it is NaN), ignoring its finite scores.
    @Test("a NaN score is skipped: the best finite score is chosen; a row of NaN only is uniform")
    func nanScoresSkipped() {
        let greedy = ActionDistribution.greedy(scores: [.nan, 0.2, 0.7, .nan, .nan, .nan], nActions: 3)
        let third: Double = 1.0 / 3
        let expected: [Double] = [0, 0, 1, third, third, third]
        #expect(greedy.probabilities == expected)
    }

    @Test("the greedy policy puts 1/m on each of m tied best items, and ε-greedy (1 − ε)/m + ε/n")
    func greedySharesTies() {
        let greedy = ActionDistribution.greedy(scores: [0.1, 0.3, 0.3, 0.2, 0.5, 0.5, 0.5, 0.5], nActions: 4)
        #expect(greedy.probabilities == [0, 0.5, 0.5, 0, 0.25, 0.25, 0.25, 0.25])
        let egreedy = ActionDistribution.epsilonGreedy(scores: [0.3, 0.3, 0.1, 0.2], nActions: 4, epsilon: 0.2)
        #expect(egreedy.probabilities == [0.4 + 0.05, 0.4 + 0.05, 0.05, 0.05])
    }

    @Test("a model scoring every item alike has the same OPE figures under two catalogue orders, the uniform value")
    func tiedModelIgnoresCatalogueOrder() throws {
        var reports: [EvaluationReport] = []
        for order in [[0, 1, 2], [2, 0, 1]] {
            let data = Self.log(order: order)
            let spec = try FeatureSpec.fit(on: data)
            reports.append(
                try ModelEvaluation.evaluate(
                    data: data, spec: spec, modelName: "tied",
                    scorer: { rows, width in [Float](repeating: 0.3, count: rows.count / width) }, resamples: 20))
        }
        let data = Self.log(order: [0, 1, 2])
        // By hand: π = 1/3 on every item, so IPW = mean(r / (3 p)) and SNIPW = Σ r w / Σ w with w = 1 / (3 p).
        let weights = data.pscore.map { 1 / (3 * $0) }
        let ipw = zip(data.reward, weights).reduce(0.0) { $0 + $1.0 * $1.1 } / Double(data.rows)
        let snipw = zip(data.reward, weights).reduce(0.0) { $0 + $1.0 * $1.1 } / weights.reduce(0, +)
        func value(_ report: EvaluationReport, _ estimator: OffPolicyEstimator) -> Double? {
            report.offPolicy.segments.first { $0.segment == .all }?.estimates.first { $0.estimator == estimator }?.value
        }
        for report in reports {
            #expect(abs(try #require(value(report, .ipw)) - ipw) < 1e-12)
            #expect(abs(try #require(value(report, .snipw)) - snipw) < 1e-12)
        }
        for estimator in OffPolicyEstimator.allCases {
            let (a, b) = (value(reports[0], estimator), value(reports[1], estimator))
            #expect((a == nil) == (b == nil), "\(estimator)")
            if let a, let b { #expect(abs(a - b) < 1e-9, "\(estimator): \(a) and \(b)") }
        }
    }
}
