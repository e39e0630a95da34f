import Foundation
import Testing

@testable import RecData

/// Inputs and golden figures written by `scripts/reference/ope_reference.py` (plain numpy).
struct Reference: Decodable {
    struct OPECase: Decodable {
        let n_actions: Int
        let reward: [Double]
        let action: [Int]
        let pscore: [Double]
        let policy: [Double]
        let estimated_rewards: [Double]
        let expected: [String: Double]
    }
    struct ClassificationCase: Decodable {
        let labels: [Double]
        let scores: [Double]
        let expected: [String: Double]
    }
    struct RankingCase: Decodable {
        let n_items: Int
        let scores: [Double]
        let relevant: [Int]
        let expected: [String: Double]
    }
    struct PercentileCase: Decodable {
        let values: [Double]
        let q: [Double]
        let expected: [Double]
    }
    let ope: [OPECase]
    let classification: ClassificationCase
    let ranking: RankingCase
    let percentile: PercentileCase

    static let shared: Reference = {
        let url = URL(fileURLWithPath: Paths.fixtures + "/reference/reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()
}

@Suite("Estimators and metrics against the numpy reference")
struct ReferenceTests {
    @Test("DM, IPW, SNIPW, DR and ESS match numpy to 1e-9", arguments: [0, 1])
    func estimators(_ index: Int) {
        let c = Reference.shared.ope[index]
        let terms = OPETerms(
            reward: c.reward, action: c.action, pscore: c.pscore,
            policy: ActionDistribution(nActions: c.n_actions, probabilities: c.policy),
            estimatedRewards: c.estimated_rewards)
        for e in OffPolicyEstimator.allCases {
            let value = try! #require(terms.estimate(e))
            #expect(abs(value - c.expected[e.rawValue]!) < 1e-9, "\(e)")
        }
        #expect(abs(try! #require(terms.effectiveSampleSize) - c.expected["ess"]!) < 1e-9)
    }

    @Test("classification metrics and ECE match numpy to 1e-9")
    func classification() {
        let c = Reference.shared.classification
        let m = ClassificationMetrics(labels: c.labels, scores: c.scores, threshold: 0.5)
        let got: [String: Double] = [
            "accuracy": m.accuracy, "precision": m.precision ?? .nan, "recall": m.recall ?? .nan, "f1": m.f1 ?? .nan,
            "roc_auc": m.rocAUC ?? .nan, "log_loss": m.logLoss,
            "ece": Calibration(labels: c.labels, scores: c.scores).ece,
        ]
        for (key, value) in c.expected { #expect(abs(got[key]! - value) < 1e-9, "\(key)") }
    }

    @Test("HitRate@K and NDCG@K match numpy to 1e-9")
    func ranking() {
        let c = Reference.shared.ranking
        let ranks = c.relevant.enumerated().map { q, item in
            RankingMetrics.rank(of: item, scores: c.scores[(q * c.n_items)..<((q + 1) * c.n_items)])
        }
        for k in [1, 3, 5] {
            let m = RankingMetrics(ranks: ranks, k: k)
            #expect(abs(m.hitRate - c.expected["hit_rate@\(k)"]!) < 1e-9)
            #expect(abs(m.ndcg - c.expected["ndcg@\(k)"]!) < 1e-9)
        }
    }

    @Test("bootstrap percentiles interpolate like numpy.percentile")
    func percentile() {
        let c = Reference.shared.percentile
        let sorted = c.values.sorted()
        for (q, expected) in zip(c.q, c.expected) {
            #expect(abs(Bootstrap.percentile(sorted: sorted, q) - expected) < 1e-12)
        }
    }

    @Test("AUC is undefined with one class and the ROC curve runs from (0,0) to (1,1)")
    func degenerate() {
        #expect(ClassificationMetrics.rocAUC(labels: [0, 0, 0], scores: [0.1, 0.2, 0.3]) == nil)
        let curve = ClassificationMetrics.rocCurve(labels: [0, 1, 0, 1], scores: [0.1, 0.9, 0.4, 0.3])
        #expect(curve.first! == (0, 0) && curve.last! == (1, 1))
    }
}
