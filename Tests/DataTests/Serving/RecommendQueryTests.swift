import Foundation
import RecData
import Testing

/// The RECOMMEND document reads the same with and without a snake-case key strategy (the wire's `WireJSON`
/// decodes with `.convertFromSnakeCase`, which used to lose `user_features`).
@Suite struct RecommendQueryTests {
    static let document = Data(#"{"user_features":{"user_feature_0":"u0_01"},"candidates":[1,2],"top":3}"#.utf8)

    @Test(arguments: [false, true])
    func userFeaturesSurviveEitherKeyStrategy(snakeCase: Bool) throws {
        let decoder = JSONDecoder()
        if snakeCase { decoder.keyDecodingStrategy = .convertFromSnakeCase }
        let query = try decoder.decode(RecommendQuery.self, from: Self.document)
        #expect(query == RecommendQuery(userFeatures: ["user_feature_0": "u0_01"], candidates: [1, 2], top: 3))
    }

    @Test func encodingWithASnakeCaseStrategyRoundTrips() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let query = RecommendQuery(userFeatures: ["user_feature_2": "u2_05"], top: 3)
        let data = try encoder.encode(query)
        #expect(
            String(decoding: data, as: UTF8.self)
                == #"{"events":[],"top":3,"user_features":{"user_feature_2":"u2_05"}}"#)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(RecommendQuery.self, from: data) == query)
    }

    /// A helper's 10 MB value was stored in the online policy's impression log with its slate.
    @Test func aUserFeatureValueOverTheLoggedBoundIsNamed() throws {
        func document(_ value: String) -> Data {
            Data(#"{"user_features":{"segment":"\#(value)"}}"#.utf8)
        }
        let longest = String(repeating: "é", count: RecommendQuery.maximumLoggedFeatureValueBytes / 2)
        #expect(try JSONDecoder().decode(RecommendQuery.self, from: document(longest)).loggedFeatureProblem == nil)
        // Decoded (the model path logs nothing and takes it), but not to be logged with a policy's slate.
        let over = try JSONDecoder().decode(RecommendQuery.self, from: document(longest + "x"))
        #expect(over.loggedFeatureProblem?.contains("user feature 'segment' holds 1025 bytes; the online policy logs at most 1024") == true)
    }
}
