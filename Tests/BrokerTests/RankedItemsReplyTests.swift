import Testing

@testable import BrokerCore

/// The broker's check of a model's ranking reads documents by PROTOCOL.md's rules, as the Python client now does
/// (clients/python/tests/test_reply_checks.py): a camel-case key is its snake-case key, and an int may be written 1.0.
@Suite("The broker's check of a model's ranking")
struct RankedItemsReplyTests {
    @Test("a ranking keyed modelVersion with an item written 1.0 decodes and is forwarded")
    func camelCaseAndIntegralNumbers() {
        let frame = Array(#"{"items": [{"item": 1.0, "score": 0.5}], "source": "model", "modelVersion": 1}"#.utf8)
        #expect(RankedItemsReply.problem(frame, headerVersion: 1) == nil)
    }

    @Test("an item written 1.5, or model_version twice in two spellings, is refused")
    func refused() {
        let fraction = Array(#"{"items": [{"item": 1.5, "score": 0.5}], "source": "model", "model_version": 1}"#.utf8)
        #expect(RankedItemsReply.problem(fraction, headerVersion: 1)?.contains("does not decode") == true)
        let twice = Array(
            #"{"items": [], "source": "model", "model_version": 1, "modelVersion": 1}"#.utf8)
        #expect(RankedItemsReply.problem(twice, headerVersion: 1)?.contains("does not decode") == true)
    }
}
