import Testing

@testable import RecData

/// Propensities a logging policy cannot have had (1 for a choice among five items, 1e-12 everywhere) gave IPW, SNIPW
/// and DR five-fold apart with a full effective sample size and no warning.
@Suite("Importance weights that correct propensities could not give")
struct ImplausibleWeightsTests {
    /// A uniform policy over `items` items evaluated on `rows` rows logged with propensity `pscore`, item `i % items`.
    static func terms(rows: Int, items: Int, pscore: Double) -> OPETerms {
        let policy = ActionDistribution(
            nActions: items, probabilities: [Double](repeating: 1 / Double(items), count: rows * items))
        return OPETerms(
            reward: (0..<rows).map { Double($0 % 2) }, action: (0..<rows).map { $0 % items },
            pscore: [Double](repeating: pscore, count: rows), policy: policy, estimatedRewards: nil)
    }

    @Test("a mean weight of 0.2 or 2e11 is named, with the segment's warnings; correct propensities give none")
    func named() {
        let tooHigh = Self.terms(rows: 200, items: 5, pscore: 1)
        #expect(tooHigh.implausibleWeightsReason?.hasPrefix("the mean importance weight is 0.2,") == true)
        let tooLow = Self.terms(rows: 200, items: 5, pscore: 1e-12)
        #expect(tooLow.implausibleWeightsReason?.contains("2.000e+11") == true)
        #expect(tooLow.implausibleWeightsReason?.contains("too low") == true)
        #expect(Self.terms(rows: 200, items: 5, pscore: 0.2).implausibleWeightsReason == nil)
        // Too few rows to tell.
        #expect(Self.terms(rows: 10, items: 5, pscore: 1).implausibleWeightsReason == nil)
        let segment = SegmentEstimates(
            segment: .all, rows: 200, behaviourValue: 0.5, effectiveSampleSize: 200, estimates: [],
            implausibleWeights: tooHigh.implausibleWeightsReason)
        #expect(segment.warnings.count == 1 && segment.warnings[0].contains("mean importance weight"))
    }

    /// A deterministic target policy's weights are 0 or 1/π_b: their mean is 1 only on average, so a mean of 0.4 over
    /// few rows is within its noise and no warning.
    @Test("a mean weight far from 1 but within three standard errors of it is not named")
    func withinNoise() {
        // Greedy on item 0 of 40, logged uniformly (pscore 1/40): weights 40 or 0; 30 rows, two matches: mean 2.67,
        // three standard errors about 5.6.
        let policy = ActionDistribution(
            nActions: 40, probabilities: (0..<30).flatMap { _ in [1.0] + [Double](repeating: 0, count: 39) })
        let terms = OPETerms(
            reward: [Double](repeating: 0, count: 30), action: (0..<30).map { $0 < 2 ? 0 : 1 + $0 % 39 },
            pscore: [Double](repeating: 1.0 / 40, count: 30), policy: policy, estimatedRewards: nil)
        #expect(terms.implausibleWeightsReason == nil)
        // No match at all: every weight 0, so the spread is 0 and the mean 0 "three standard errors" from 1 (a
        // reviewer's simulation: 78% false warnings on 20 correct rows of 80 items). Ten weighted rows are needed.
        var none = terms
        none.weight = [Double](repeating: 0, count: 30)
        #expect(none.implausibleWeightsReason == nil)
    }
}
