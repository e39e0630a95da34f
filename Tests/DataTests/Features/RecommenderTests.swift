import Foundation
import Testing

@testable import RecData

@Suite("Recommender serving raw user context")
struct RecommenderTests {
    /// The version-2 item one-hot, so the stand-in model can read the item off its row.
    static let spec = try! FeatureSpec.fit(on: FeatureSpecTests.split.train, itemIdEncoding: nil)

    /// A stand-in model: the shown item's affinity column, plus a small per-item preference for low ids.
    static func recommender() -> Recommender {
        let spec = Self.spec
        let affinity = spec.columns.firstIndex(of: "viewed_item")!
        let itemStart = spec.columns.firstIndex(of: "item=0")!
        return Recommender(spec: spec) { rows, width in
            stride(from: 0, to: rows.count, by: width).map { start in
                let item = (0..<spec.itemCount).first { rows[start + itemStart + $0] == 1 }!
                return rows[start + affinity] - Float(item) * 0.001
            }
        }
    }

    static let knownFeatures = FeatureSpecTests.split.train.userFeatures.dictionary(0)

    @Test("a user who viewed item 7 for 30 seconds gets item 7 first, from the model")
    func ranksByScore() throws {
        let reply = try Self.recommender().recommend(RecommendQuery(events: [ViewEvent(item: 7, seconds: 30)], top: 5))
        #expect(reply.source == .model)
        #expect(reply.items.count == 5)
        #expect(reply.items[0].item == 7)
        #expect(reply.items.map(\.item) == [7, 0, 1, 2, 3])
        #expect(zip(reply.items, reply.items.dropFirst()).allSatisfy { $0.score >= $1.score })
    }

    @Test("a new user with known features and no events is scored by the model")
    func coldWithFeatures() throws {
        let reply = try Self.recommender().recommend(RecommendQuery(userFeatures: Self.knownFeatures, top: 3))
        #expect(reply.source == .model)
        #expect(reply.items.map(\.item) == [0, 1, 2])
    }

    @Test("a user with no events and no known features gets the popularity prior, marked as the fallback")
    func fallback() throws {
        let reply = try Self.recommender().recommend(
            RecommendQuery(
                userFeatures: ["user_feature_0": "brand-new"], events: [ViewEvent(item: 3, seconds: 2)], top: 34))
        #expect(reply.source == .coldStartFallback)
        #expect(reply.items.count == 34)
        let expected = (0..<34).sorted {
            Self.spec.popularity[$0] != Self.spec.popularity[$1]
                ? Self.spec.popularity[$0] > Self.spec.popularity[$1] : $0 < $1
        }
        #expect(reply.items.map(\.item) == expected)
    }

    @Test("a model score that is not finite is a server fault naming the item, never the popularity prior",
          arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteModelScore(bad: Float) throws {
        let spec = Self.spec
        let itemStart = spec.columns.firstIndex(of: "item=0")!
        let overflowing = Recommender(spec: spec) { rows, width in
            stride(from: 0, to: rows.count, by: width).map { start in rows[start + itemStart + 5] == 1 ? bad : 0.5 }
        }
        let query = RecommendQuery(userFeatures: Self.knownFeatures, top: 3)
        let error = try #require(throws: RecommendError.self) { try overflowing.recommend(query) }
        guard case .nonFiniteScore(let item, let score) = error else {
            Issue.record("expected nonFiniteScore, got \(error)")
            return
        }
        #expect(item == 5 && (score.isNaN == bad.isNaN) && (bad.isNaN || score == Double(bad)))
        #expect(error.isServerFault)
        #expect(!RecommendError.unknownItem(5).isServerFault)
    }

    @Test("a candidate list restricts and top caps the answer")
    func candidates() throws {
        let reply = try Self.recommender().recommend(
            RecommendQuery(
                userFeatures: Self.knownFeatures, events: [ViewEvent(item: 9, seconds: 60)], candidates: [4, 9, 2],
                top: 10))
        #expect(reply.items.map(\.item) == [9, 2, 4])
    }

    @Test("invalid queries are typed errors")
    func errors() throws {
        let r = Self.recommender()
        #expect(throws: RecommendError.invalidTop(0)) { try r.recommend(RecommendQuery(top: 0)) }
        #expect(throws: RecommendError.unknownItem(99)) {
            try r.recommend(RecommendQuery(events: [ViewEvent(item: 99, seconds: 5)]))
        }
        #expect(throws: RecommendError.unknownItem(-1)) { try r.recommend(RecommendQuery(candidates: [1, -1])) }
        #expect(throws: RecommendError.invalidSeconds(item: 1, seconds: -3)) {
            try r.recommend(RecommendQuery(events: [ViewEvent(item: 1, seconds: -3)]))
        }
        #expect(throws: RecommendError.noCandidates) { try r.recommend(RecommendQuery(candidates: [])) }
        // Bounds on the work one query asks for, and on a dwell (a sum of 1e308s is infinite).
        #expect(throws: RecommendError.invalidTop(1_001)) { try r.recommend(RecommendQuery(top: 1_001)) }
        #expect(throws: RecommendError.invalidTop(Int.max)) { try r.recommend(RecommendQuery(top: .max)) }
        #expect(throws: RecommendError.tooManyCandidates(100_001)) {
            try r.recommend(RecommendQuery(candidates: Array(0..<100_001)))
        }
        for seconds in [1.7e308, 1e9 + 1, Double.infinity, -.infinity] {
            #expect(throws: RecommendError.invalidSeconds(item: 1, seconds: seconds)) {
                try r.recommend(RecommendQuery(events: [ViewEvent(item: 1, seconds: seconds), ViewEvent(item: 2, seconds: 5)]))
            }
        }
        #expect(try r.recommend(RecommendQuery(events: [ViewEvent(item: 1, seconds: 1e9)], top: 1_000)).items.count > 0)
        #expect(throws: RecommendError.duplicateCandidate(2)) { try r.recommend(RecommendQuery(candidates: [2, 2])) }
        #expect(throws: RecommendError.unknownUserFeature("user_feature_9")) {
            try r.recommend(RecommendQuery(userFeatures: ["user_feature_9": "x"]))
        }
        let broken = Recommender(spec: Self.spec) { _, _ in [0.5] }
        #expect(throws: RecommendError.scorerFailed(expected: 34, got: 1)) {
            try broken.recommend(RecommendQuery(userFeatures: Self.knownFeatures))
        }
    }

    @Test("queries and replies use the wire's JSON keys")
    func json() throws {
        let text =
            #"{"user_features":{"user_feature_0":"x"},"events":[{"item":1,"seconds":30}],"candidates":[1,2],"top":2}"#
        let query = try JSONDecoder().decode(RecommendQuery.self, from: Data(text.utf8))
        #expect(
            query
                == RecommendQuery(
                    userFeatures: ["user_feature_0": "x"], events: [ViewEvent(item: 1, seconds: 30)],
                    candidates: [1, 2], top: 2))
        let minimal = try JSONDecoder().decode(RecommendQuery.self, from: Data("{}".utf8))
        #expect(minimal == RecommendQuery())
        let reply = Recommendation(items: [ScoredItem(item: 3, score: 0.25)], source: .coldStartFallback)
        let encoded = String(decoding: try JSONEncoder().encode(reply), as: UTF8.self)
        #expect(encoded.contains(#""source":"cold_start_fallback""#) && encoded.contains(#""item":3"#))
        #expect(try JSONDecoder().decode(Recommendation.self, from: Data(encoded.utf8)) == reply)
    }
}
