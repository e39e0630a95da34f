import RecData
import Testing

@testable import Worker

/// A NaN with its sign bit set printed as `-nan` in the refusal, which the docs and every other message call `nan`.
@Suite("Non-finite scores are named one way")
struct NonFiniteMessageTests {
    @Test("every NaN is named nan, whatever its sign bit; an infinity keeps its sign")
    func nanHasOneName() {
        for nan in [Float.nan, -Float.nan] {
            let message = ScoringBatch.nonFiniteMessage(row: 0, score: nan, version: 1)
            #expect(message.contains("computes a score of nan (") && !message.contains("-nan"), "\(message)")
            let recommend = RecommendError.nonFiniteScore(item: 3, score: Double(nan)).description
            #expect(recommend.hasSuffix("computes a score of nan"), "\(recommend)")
        }
        #expect(ScoringBatch.nonFiniteMessage(row: 2, score: -.infinity, version: 1).contains("score of -inf ("))
    }
}
