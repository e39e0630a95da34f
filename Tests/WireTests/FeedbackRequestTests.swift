import Testing

@testable import RecWire

@Suite("FEEDBACK documents")
struct FeedbackRequestTests {
    @Test("a dwell is 0…1e9 seconds: infinite, NaN, negative or absurd values are named, never summed into inf")
    func dwellBounds() {
        for dwell in [-1, 1e9 + 1, 1.7e308, .infinity, .nan] {
            let problem = FeedbackRequest(impressionId: "i", item: 3, click: 1, dwellSeconds: dwell).problem
            #expect(problem?.hasPrefix("dwell_seconds must be 0…1e9 (seconds), got") == true, "\(dwell)")
        }
        for dwell in [nil, 0, 12.5, 1e9] {
            #expect(FeedbackRequest(impressionId: "i", item: 3, click: 1, dwellSeconds: dwell).problem == nil)
        }
    }

    @Test("a negative item is no catalogue row, named before it is looked up; a blank impression id is named too")
    func itemAndBlankId() {
        #expect(FeedbackRequest(impressionId: "i", item: -1, click: 1).problem == "item must be a catalogue row (0 or more), got -1")
        #expect(FeedbackRequest(impressionId: "i", item: 0, click: 0).problem == nil)
        #expect(FeedbackRequest(impressionId: "  ", item: 0, click: 0).problem == "impression_id is only white space")
    }

    @Test("a command names its flags, not the message's keys")
    func flagNames() {
        let flags = FeedbackRequest.FieldNames(
            impressionId: "--impression", item: "--item", click: "--click", dwellSeconds: "--dwell")
        #expect(FeedbackRequest(impressionId: "", item: 0, click: 0).problem(names: flags) == "--impression is empty")
        #expect(FeedbackRequest(impressionId: "i", item: -2, click: 0).problem(names: flags)?.hasPrefix("--item must") == true)
        #expect(FeedbackRequest(impressionId: "i", item: 0, click: 3).problem(names: flags) == "--click must be 0 or 1, got 3")
        #expect(
            FeedbackRequest(impressionId: "i", item: 0, click: 1, dwellSeconds: 1e10).problem(names: flags)
                == "--dwell must be 0…1e9 (seconds), got 10000000000.0")
    }
}

/// A name bound to SQLite is read up to its first NUL: FEEDBACK on `X\0other` was stored against impression `X`, and
/// `job-1\0zzz` returned job-1. Every name a request carries is refused with a control character in it.
@Suite("Names with control characters")
struct ControlCharacterNameTests {
    @Test("an impression id with NUL, a newline or another control character is refused, in FEEDBACK and in a record")
    func impressionIds() {
        for id in ["X\u{0}other", "X\n", "\u{1B}[2J", "X\u{85}"] {
            let problem = FeedbackRequest(impressionId: id, item: 1, click: 1).problem
            #expect(problem?.contains("impression_id holds the control character") == true, "\(id.debugDescription)")
        }
        #expect(FeedbackRequest(impressionId: String(repeating: "a", count: 65), item: 1, click: 1).problem != nil)
        #expect(FeedbackRequest(impressionId: "imp-ü-1", item: 1, click: 1).problem == nil)
    }

    @Test(
        "a CONTROL request naming a job, worker or item with a control character does not decode, naming the field",
        arguments: [
            (#"{"op":"job","job":"job-1\u0000zzz"}"#, "job"), (#"{"op":"cancel_job","job":"job-3\u0000x"}"#, "job"),
            (#"{"op":"drain","worker":"w\n1"}"#, "worker"), (#"{"op":"job","job":""}"#, "job"),
            (#"{"op":"catalogue_retire","catalogue":{"item":"a\r"}}"#, "catalogue.item"),
        ])
    func controlNames(json: String, field: String) {
        do {
            _ = try WireJSON.decode(ControlRequest.self, from: Array(json.utf8))
            Issue.record("\(json) decoded")
        } catch {
            #expect("\(error)".contains(field), "\(error)")
        }
        #expect((try? WireJSON.decode(ControlRequest.self, from: Array(#"{"op":"job","job":"job-1"}"#.utf8))) != nil)
    }
}
