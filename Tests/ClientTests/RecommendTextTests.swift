import RecClient
import RecWire
import Testing

/// `recpool recommend` printed items with `String(format: "%d")`, which keeps an item's low 32 bits only.
@Suite("Recommend replies as text")
struct RecommendTextTests {
    @Test("a model's ranking prints an item row beyond 2^32 whole", arguments: [9_007_199_254_740_993, 1 << 32, 4_294_967_297])
    func rankedLine(item: Int) {
        #expect(RecommendText.rankedLine(rank: 1, item: item, score: 0.81234) == " 1. item \(item)  0.8123")
    }

    @Test("a policy slate prints item rows beyond 2^32 whole, with their scores and propensities")
    func slate() {
        let reply = PolicyRecommendation(
            impressionId: "imp-1",
            items: [
                SlateItem(item: 9_007_199_254_740_993, position: 0, score: 0.5, propensity: 0.25),
                SlateItem(item: 1 << 32, position: 1, score: 0.125, propensity: 1),
            ],
            modelVersion: 7, exploration: ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.1))
        #expect(
            RecommendText.slate(reply).split(separator: "\n").map(String.init) == [
                "impression imp-1",
                "policy version 7, source policy, exploration epsilon_greedy ε=0.1",
                " 1. item 9007199254740993  score 0.5000  propensity 0.2500",
                " 2. item 4294967296  score 0.1250  propensity 1.0000",
            ])
    }

    @Test("a policy slate shows the catalogue's id beside each row, unless the id is the row's own number")
    func slateIds() {
        let reply = PolicyRecommendation(
            impressionId: "imp-2",
            items: [
                SlateItem(item: 14, id: "00101", position: 0, score: 0.5, propensity: 0.25),
                SlateItem(item: 3, id: "3", position: 1, score: 0.125, propensity: 1),
                SlateItem(item: 5, position: 2, score: 0.1, propensity: 0.5),
            ],
            modelVersion: 2, exploration: ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.1))
        #expect(
            RecommendText.slate(reply).split(separator: "\n").dropFirst(2).map(String.init) == [
                " 1. item 14 (00101)  score 0.5000  propensity 0.2500",
                " 2. item 3  score 0.1250  propensity 1.0000",
                " 3. item 5  score 0.1000  propensity 0.5000",
            ])
    }

    @Test("ranks of two digits or more take the room they need")
    func wideRanks() {
        #expect(RecommendText.rankedLine(rank: 10, item: 3, score: 1) == "10. item 3  1.0000")
        // A propensity near 1e-7 (an item explored from retrieval) printed as 0.0000: an item never showable.
        #expect(RecommendText.figure(1.234e-7) == "1.23e-07")
        #expect(RecommendText.figure(0) == "0.0000" && RecommendText.figure(0.25) == "0.2500")
        #expect(RecommendText.figure(0.0001) == "0.0001")
    }
}
