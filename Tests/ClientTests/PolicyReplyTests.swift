import RecClient
import RecWire
import Testing

/// Telling a policy's RECOMMEND reply from the MLP recommender's, on bytes.
@Suite struct PolicyReplyTests {
    @Test func aPolicyReplyDecodesWithItsImpressionAndPropensities() throws {
        let reply = PolicyRecommendation(
            impressionId: "00ff-7", items: [SlateItem(item: 4, position: 0, score: 0.2, propensity: 0.925)],
            modelVersion: 3, exploration: ExplorationSpec())
        let decoded = try RecPoolClient.policyRecommendation(from: WireJSON.encode(reply))
        #expect(decoded == reply)
    }

    @Test func anMLPReplyIsNotAPolicyReply() throws {
        let document = Array(#"{"items":[{"item":1,"score":0.5}],"model_version":4,"source":"model"}"#.utf8)
        #expect(try RecPoolClient.policyRecommendation(from: document) == nil)
    }

    @Test func aBrokenPolicyReplyIsAProtocolViolation() {
        let document = Array(#"{"source":"policy","items":[]}"#.utf8)
        #expect(throws: ClientError.self) { try RecPoolClient.policyRecommendation(from: document) }
        #expect(throws: ClientError.self) { try RecPoolClient.policyRecommendation(from: Array("[1]".utf8)) }
    }

    @Test func theNotAPolicyReplyErrorNamesTheSourceAndTheFlag() {
        let error = ClientError.notAPolicyReply(source: "model")
        #expect(error.description.contains("'model'") && error.description.contains("--online"))
        #expect(error.statusName == "NOT_A_POLICY_REPLY")
    }
}
