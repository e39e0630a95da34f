import Foundation
import Testing

@testable import RecWire

/// A whole-number key read a number with a fraction that a 64-bit float rounds away: FEEDBACK's
/// `"click": 0.99999999999999999` was a click, RECOMMEND's `"top": 2.9999999999999999` three items, and
/// `"candidates": [1.0000000000000001, 1]` "item 1 appears twice". A log's cell of that text is refused.
@Suite("Whole-number keys refuse a fraction a float would round away")
struct WholeNumberTests {
    struct Probe: Codable {
        var top: Int?
        var version: UInt64?
        var items: [Int]?
        var seconds: Double?
        var scores: [Double]?
    }

    static func message<T: Decodable>(_ type: T.Type, _ text: String) -> String {
        do {
            _ = try WireJSON.decodeRequest(type, from: Array(text.utf8))
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    @Test(
        "a whole-number key is refused, naming it and the number as written",
        arguments: [
            (#"{"impression_id":"i","item":1,"click":0.99999999999999999}"#, "click: the number 0.99999999999999999 is not a whole number (a 64-bit float would round it to 1)"),
            (#"{"impression_id":"i","item":1.0000000000000001,"click":0}"#, "item: the number 1.0000000000000001 is not a whole number"),
            (#"{"impression_id":"i","item":1,"click":-0.99999999999999999e0}"#, "click: the number -0.99999999999999999e0"),
        ])
    func feedback(text: String, says: String) {
        let message = Self.message(FeedbackRequest.self, text)
        #expect(message.contains(says), "\(message)")
    }

    @Test(
        "whole-number keys among fractional ones: only the whole-number key is blamed",
        arguments: [
            (#"{"seconds":2.9999999999999999,"top":2.9999999999999999}"#, "top: the number 2.9999999999999999"),
            (#"{"items":[1, 1.0000000000000001]}"#, "items[1]: the number 1.0000000000000001"),
            (#"{"version":12345678901234567.5}"#, "version: the number 12345678901234567.5 is not a whole number"),
            // From 2⁵² to 2⁵³ a float has no halves: tried with value + ½, these passed as whole numbers.
            (#"{"version":4503599627370496.5}"#, "version: the number 4503599627370496.5 is not a whole number"),
            (#"{"items":[4503599627370496.4]}"#, "items[0]: the number 4503599627370496.4 is not a whole number"),
            (#"{"top":0.0000000000000000000000001e25}"#, "decoded"),
        ])
    func probe(text: String, says: String) {
        let message = Self.message(Probe.self, text)
        #expect(message.contains(says), "\(message)")
    }

    @Test("ordinary doubles of 16–17 digits, and digits inside strings, are dismissed by the first pass")
    func firstPass() {
        let document = #"{"scores":[0.12345678901234567,0.98765432109876543,1234567.8901234567],"sha":"1234567890123456789.5"}"#
        #expect(WireJSON.roundedWholeNumbers(in: Array(document.utf8)).isEmpty)
        #expect(WireJSON.roundedWholeNumbers(in: Array(#"{"a":"x","b":0.99999999999999999}"#.utf8)).map(\.number.text) == ["0.99999999999999999"])
    }

    @Test("fractional keys keep such numbers, and whole numbers in any exact spelling are read by their value")
    func kept() throws {
        let probe = try WireJSON.decode(
            Probe.self,
            from: Array(#"{"seconds":2.9999999999999999,"scores":[0.99999999999999999],"top":30e-1,"items":[3.000000000000000000]}"#.utf8))
        #expect(probe.seconds == 3 && probe.scores == [1] && probe.top == 3 && probe.items == [3])
        let feedback = try WireJSON.decode(
            FeedbackRequest.self, from: Array(#"{"impression_id":"i","item":1.00000000000000000,"click":1e0}"#.utf8))
        #expect(feedback.item == 1 && feedback.click == 1)
    }

    @Test("a decimal is a whole number when every digit past its point is 0", arguments: [
        ("3", true), ("3.0", true), ("-3.000", true), ("30e-1", true), ("3e2", true), ("0.5e1", true),
        ("2.9999999999999999", false), ("35e-1", false), ("0.0000000000000000001", false), ("0", true), ("0.0e-5", true),
    ])
    func exactness(text: String, whole: Bool) {
        #expect(WireJSON.isExactWholeNumber(Array(text.utf8)[...]) == whole)
    }
}
