import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

@Suite("Undefined and degenerate off-policy estimates")
struct UndefinedEstimateTests {
    @Test(
        "a propensity so small that its weight overflows is refused where the log is read, naming line and column",
        arguments: ["1e-160", "1e-320"])
    func tinyPropensity(_ propensity: String) throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let files = try MalformedCSVTests.corruptedFixture(line: 4, in: temporary) { line in
            var fields = line.components(separatedBy: ",")
            fields[5] = propensity
            return fields.joined(separator: ",")
        }
        let error = #expect(throws: DataError.self) { try MalformedCSVTests.load(files) }
        guard case .file(.invalidValue(files.data, 4, 6, "propensity_score", propensity, let reason))? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(reason.contains("smallest usable propensity"))
        // The smallest accepted propensity keeps every sum the estimators need finite.
        let w = 1 / BanditDataset.minimumPropensity
        #expect((w * w * 1e6).isFinite && (w * 1e6 * w * 1e6).isFinite)
    }

    @Test("SNIPW and the effective sample size with every weight 0 are undefined with a reason, never 0 or NaN")
    func zeroWeights() {
        // The policy always picks action 1; every logged action is 0, so every weight is 0.
        let policy = ActionDistribution(nActions: 2, probabilities: [0, 1, 0, 1, 0, 1])
        let terms = OPETerms(
            reward: [1, 0, 1], action: [0, 0, 0], pscore: [0.5, 0.5, 0.5], policy: policy, estimatedRewards: nil)
        #expect(terms.estimate(.ipw) == 0)
        #expect(terms.estimate(.snipw) == nil)
        #expect(terms.undefinedReason(.snipw)?.contains("zero weight") == true)
        #expect(terms.effectiveSampleSize == nil)
        #expect(terms.effectiveSampleSizeUndefinedReason == "every importance weight is 0 (0/0)")
        #expect(terms.estimate(.dm) == nil && terms.undefinedReason(.dm) == "needs a reward model")
    }

    @Test("SNIPW undefined on more than 5% of the resamples has no interval and says why, never a zero-width one")
    func snipwDroppedResamples() {
        // One row of 20 has a weight (the policy picks action 1, logged once): ESS 1, and about a third of the
        // resamples draw no weighted row, where SNIPW is 0/0.
        let n = 20
        let policy = ActionDistribution(nActions: 2, probabilities: (0..<n).flatMap { _ in [0.0, 1.0] })
        let terms = OPETerms(
            reward: (0..<n).map { $0 == 3 ? 1 : 0 }, action: (0..<n).map { $0 == 3 ? 1 : 0 },
            pscore: [Double](repeating: 0.5, count: n), policy: policy, estimatedRewards: nil)
        let result = Bootstrap.intervalsWithReasons(terms, resamples: 200)
        #expect(result.intervals[.snipw] == nil)
        let reason = result.undefined[.snipw] ?? ""
        #expect(reason.contains("of 200 bootstrap resamples") && reason.contains("5%"), "\(reason)")
        #expect(result.intervals[.ipw] != nil && result.undefined[.ipw] == nil)
    }

    @Test("weights that overflow give an undefined estimate, not infinity")
    func overflow() {
        let policy = ActionDistribution(nActions: 1, probabilities: [1, 1])
        let terms = OPETerms(
            reward: [1, 1], action: [0, 0], pscore: [1e-320, 1e-320], policy: policy, estimatedRewards: nil)
        #expect(terms.estimate(.ipw) == nil)
        #expect(terms.undefinedReason(.ipw) == "not finite (an importance weight is inf)")
        #expect(terms.effectiveSampleSize == nil)
        #expect(terms.effectiveSampleSizeUndefinedReason == "not finite (an importance weight is inf)")
    }

    @Test("a non-finite figure says what overflowed: the rewards when the weights are small, the weights when they are")
    func overflowReasons() {
        // Weights 1 (π = b = 0.5) and rewards whose sum overflows.
        let even = ActionDistribution(nActions: 2, probabilities: [0.5, 0.5, 0.5, 0.5])
        let rewards = OPETerms(
            reward: [1e308, 1e308], action: [0, 0], pscore: [0.5, 0.5], policy: even, estimatedRewards: nil)
        #expect(rewards.estimate(.ipw) == nil && rewards.estimate(.snipw) == nil)
        #expect(rewards.undefinedReason(.ipw) == "not finite (the sum of the logged rewards overflows)")
        #expect(rewards.undefinedReason(.snipw) == "not finite (the sum of the logged rewards overflows)")
        #expect(rewards.effectiveSampleSize == 2 && rewards.effectiveSampleSizeUndefinedReason == nil)
        #expect(rewards.meanReward == nil)
        #expect(rewards.meanRewardUndefinedReason == "not finite (the sum of the logged rewards overflows)")
        // Finite weights and rewards whose products overflow.
        let products = OPETerms(
            reward: [1e300], action: [0], pscore: [1e-10], policy: ActionDistribution(nActions: 1, probabilities: [1]),
            estimatedRewards: nil)
        #expect(products.undefinedReason(.ipw)?.contains("importance-weighted rewards overflow") == true)
        #expect(products.meanReward == 1e300)
        // Weights whose squares would overflow: scaled by the largest first, their ESS is defined (two equal
        // weights: 2).
        let heavy = OPETerms(
            reward: [0, 0], action: [0, 0], pscore: [1e-160, 1e-160],
            policy: ActionDistribution(nActions: 1, probabilities: [1, 1]), estimatedRewards: nil)
        #expect(heavy.estimate(.ipw) == 0)
        #expect(heavy.effectiveSampleSize == 2 && heavy.effectiveSampleSizeUndefinedReason == nil)
    }

    @Test(
        "n equal importance weights have an ESS of exactly n, so no 'ESS 100.0 is below 100' warning",
        arguments: [1.0, 1e-100, 0.3])
    func equalWeightsGiveN(pscore: Double) throws {
        // A deterministic (or any constant-propensity) logger against the uniform policy over five items: every
        // weight is 0.2 / pscore, which is not a binary fraction, so a plain (Σw)²/Σw² gave 99.99999999999955.
        let n = 100
        let uniform = ActionDistribution(nActions: 5, probabilities: [Double](repeating: 0.2, count: n * 5))
        let terms = OPETerms(
            reward: [Double](repeating: 0, count: n), action: (0..<n).map { $0 % 5 },
            pscore: [Double](repeating: pscore, count: n), policy: uniform, estimatedRewards: nil)
        #expect(terms.effectiveSampleSize == Double(n))
        let unequal = OPETerms(
            reward: [0, 0, 0], action: [0, 1, 2], pscore: [0.1, 0.2, 0.7],
            policy: ActionDistribution(nActions: 3, probabilities: [Double](repeating: 1.0 / 3, count: 9)),
            estimatedRewards: nil)
        // w = (1/3)/p: 3.33, 1.67, 0.476; (Σw)²/Σw² ≈ 2.1245, below n.
        let ess = try #require(unequal.effectiveSampleSize)
        #expect(abs(ess - 2.124498) < 1e-6)
    }

    @Test("the logged CTR of rows whose rewards overflow is undefined with that reason, not 'no rows'")
    func loggedCTROverflow() throws {
        var data = try Self.men().subset(Array(0..<20), name: "overflow")
        data.reward[0] = 1e308
        data.reward[1] = 1e308
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: data.rows, nActions: data.nActions), policyName: "uniform", on: data,
            rewardModel: nil, resamples: 20)
        let all = try #require(report.segment(.all))
        #expect(all.rows == 20 && all.behaviourValue == nil)
        #expect(all.behaviourValueUndefined == "not finite (the sum of the logged rewards overflows)")
        let ipw = try #require(all.figures(.ipw))
        #expect(ipw.value == nil && ipw.undefined?.contains("logged rewards") == true)
        #expect(ipw.undefined?.contains("importance weights") == false)
    }

    @Test("an estimate from fewer than Bootstrap.minimumRows rows has no interval: null with the reason")
    func intervalFromTooFewRows() throws {
        let one = try Self.men().subset([0], name: "one row")
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: 1, nActions: one.nActions), policyName: "uniform", on: one, rewardModel: nil,
            resamples: 100)
        let all = try #require(report.segment(.all))
        for estimator in [OffPolicyEstimator.ipw, .snipw] {
            let figures = try #require(all.figures(estimator))
            #expect(figures.value != nil && figures.interval == nil, "\(estimator)")
            #expect(figures.intervalUndefined == "1 row, fewer than the 10 a bootstrap interval needs")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(try #require(all.figures(.ipw))), as: UTF8.self)
        #expect(json.contains(#""interval":null,"intervalUndefined":"1 row, fewer than the 10"#), "\(json)")
        // From the minimum on, the interval is there.
        let ten = try Self.men().subset(Array(0..<Bootstrap.minimumRows), name: "ten rows")
        let terms = OPETerms(
            reward: ten.reward, action: ten.action, pscore: ten.pscore,
            policy: .uniform(rows: ten.rows, nActions: ten.nActions), estimatedRewards: nil)
        #expect(Bootstrap.intervals(terms, resamples: 50)[.ipw] != nil)
        #expect(Bootstrap.intervals(terms.gather(Array(0..<(Bootstrap.minimumRows - 1))), resamples: 50).isEmpty)
    }

    static func men() throws -> BanditDataset {
        try OBDLoader.load(
            dataFile: Paths.fixtures + "/obd/random/men/men.csv",
            itemContextFile: Paths.fixtures + "/obd/random/men/item_context.csv", name: "men")
    }

    @Test("a segment with no rows is reported with undefined figures, and JSON holds null with the reason")
    func emptySegment() throws {
        let data = try OBDLoader.load(
            dataFile: Paths.fixtures + "/obd/random/men/men.csv",
            itemContextFile: Paths.fixtures + "/obd/random/men/item_context.csv", name: "men")
        let cold = data.subset(data.rows(in: .coldStart), name: "cold only")
        let report = OffPolicyEvaluation.evaluate(
            policy: .uniform(rows: cold.rows, nActions: cold.nActions), policyName: "uniform", on: cold,
            rewardModel: nil, resamples: 20)
        let warm = try #require(report.segment(.warm))
        #expect(warm.rows == 0)
        #expect(warm.behaviourValue == nil && warm.effectiveSampleSize == nil)
        #expect(warm.effectiveSampleSizeUndefined == "no rows")
        #expect(warm.estimates.map(\.estimator) == OffPolicyEstimator.allCases)
        #expect(warm.estimates.allSatisfy { $0.value == nil && $0.undefined == "no rows" && $0.interval == nil })
        #expect(report.notes.contains { $0.contains("warm has no rows") })

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(warm), as: UTF8.self)
        #expect(json.contains(#""behaviourValue":null"#))
        #expect(json.contains(#""effectiveSampleSize":null"#))
        #expect(
            json.contains(
                #"{"estimator":"ipw","interval":null,"intervalUndefined":null,"undefined":"no rows","value":null}"#))
        #expect(!json.lowercased().contains("nan"))
    }

    /// A checkpoint that kept the constant's weights scores every item alike: a stable sort gave every hit to the
    /// catalogue's first items (HitRate@1 0.32 on one order of a catalogue, 0 on the reverse, both with AUC 0.5).
    @Test("tied scores rank at random in expectation: all alike gives K / items whatever the order; partial ties by hand")
    func tiesAtRandom() {
        let flat = [Double](repeating: 0.4, count: 5)
        for k in [1, 3, 5] {
            for relevant in 0..<5 {
                let m = RankingMetrics(ranks: [RankingMetrics.rank(of: relevant, scores: flat)], k: k)
                #expect(abs(m.hitRate - Double(k) / 5) < 1e-15)
                let ndcg = (0..<k).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) } / 5
                #expect(abs(m.ndcg - ndcg) < 1e-15)
            }
        }
        // Item 2 (0.5) has one item above it (0.9) and two alike (items 0 and 4): rank 1, 2 or 3, a third each.
        let scores = [0.5, 0.9, 0.5, 0.1, 0.5]
        let rank = RankingMetrics.rank(of: 2, scores: scores)
        #expect(rank == .init(higher: 1, tied: 2))
        let at1 = RankingMetrics(ranks: [rank], k: 1)
        #expect(at1.hitRate == 0 && at1.ndcg == 0)
        let at3 = RankingMetrics(ranks: [rank], k: 3)
        #expect(abs(at3.hitRate - 2.0 / 3) < 1e-15)
        #expect(abs(at3.ndcg - (1 / log2(3.0) + 1 / log2(4.0)) / 3) < 1e-15)
        #expect(RankingMetrics.rank(of: 1, scores: [0.5, .nan, 0.2]) == .init(higher: 2, tied: 0))
        #expect(RankingMetrics(ranks: [RankingMetrics.rank(of: 1, scores: [0.5, .nan, 0.2])], k: 1).hitRate == 0)
        let at5 = RankingMetrics(ranks: [rank, .init(higher: 0)], k: 5)
        #expect(abs(at5.hitRate - 1) < 1e-15)
        #expect(abs(at5.ndcg - ((1 / log2(3.0) + 1 / log2(4.0) + 1 / log2(5.0)) / 3 + 1) / 2) < 1e-15)
    }

    @Test("HitRate and NDCG with no click among the rows are null in JSON, not 0")
    func rankingWithoutQueries() throws {
        let none = RankingMetrics(ranks: [], k: 5)
        #expect(!none.isDefined)
        let json = String(decoding: try JSONEncoder().encode(none), as: UTF8.self)
        #expect(json.contains(#""hitRate":null"#) && json.contains(#""ndcg":null"#), "\(json)")
        let some = RankingMetrics(ranks: [.init(higher: 0), .init(higher: 9)], k: 5)
        #expect(some.isDefined && some.hitRate == 0.5)
        #expect(try JSONDecoder().decode(RankingMetrics.self, from: try JSONEncoder().encode(some)) == some)
    }

    @Test("data describe: the CTR of a segment with no rows is null, not 0")
    func describeEmptySegment() throws {
        let data = try OBDLoader.load(
            dataFile: Paths.fixtures + "/obd/random/men/men.csv",
            itemContextFile: Paths.fixtures + "/obd/random/men/item_context.csv", name: "men")
        let cold = DatasetDescription(data.subset(data.rows(in: .coldStart), name: "cold only"))
        #expect(cold.warmRows == 0 && cold.warmCTR == nil && cold.coldStartCTR != nil)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = String(decoding: try encoder.encode(cold), as: UTF8.self)
        #expect(json.contains(#""warm_ctr":null"#), "\(json)")
    }

    @Test("data describe: with no training rows the feature widths are null with the reason, not 0")
    func describeWithoutTrainingRows() throws {
        let tiny = try DatasetSpecifier(parsing: "synthetic:users=1,rows=1,seed=1").load(obdDirectory: "/nonexistent")
        let d = DatasetDescription(tiny)
        #expect(d.rows == 1 && d.trainRows == 0)
        #expect(d.basicFeatureWidth == nil && d.extendedFeatureWidth == nil)
        #expect(d.featureWidthsUndefined == "the training split has no rows")
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = String(decoding: try encoder.encode(d), as: UTF8.self)
        #expect(json.contains(#""basic_feature_width":null"#), "\(json)")
        #expect(json.contains(#""extended_feature_width":null"#), "\(json)")
        #expect(json.contains(#""feature_widths_undefined":"the training split has no rows""#), "\(json)")
        let men = DatasetDescription(try Self.men())
        #expect((men.basicFeatureWidth ?? 0) > 0 && (men.extendedFeatureWidth ?? 0) > 0)
        #expect(men.featureWidthsUndefined == nil)
    }
}
