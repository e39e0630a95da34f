import Foundation
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// A stored impression record that decodes but is malformed (a propensity of 0, slate and propensities of different
/// lengths), as a damaged or hand-edited row may hold, is named as damaged wherever it is read, never acted on: a
/// propensity of 0 weighs an exported row infinitely in IPW.
@Suite("A stored impression record that decodes malformed is named as damaged")
struct MalformedStoredImpressionTests {
    static func record(propensities: [Double]) -> String {
        let record = ImpressionRecord(
            impressionId: "bad", createdMs: 1_000, version: 1, userFeatures: ["user_feature_0": "u0_01"],
            slate: [1, 2, 3], propensities: propensities, scores: [0.3, 0.2, 0.1])
        return String(decoding: WireJSON.encode(record), as: UTF8.self)
    }

    /// A harness whose log holds impression "bad" with `propensities` (slate [1, 2, 3]).
    static func harnessLogging(_ propensities: [Double]) throws -> OnlineHarness {
        let h = try OnlineHarness()
        _ = try RecStore(directory: h.directory).commitOnline(
            impressions: [("bad", 1_000, "w-a", 1, record(propensities: propensities))], keep: 1_000, feedback: [])
        return h
    }

    static let damages: [(propensities: [Double], problem: String)] = [
        ([0, 0.5, 0.5], "a propensity is not in (0, 1]"), ([0.5, 0.5], "differ in length"),
        ([1.5, 0.5, 0.5], "a propensity is not in (0, 1]"),
    ]

    /// After a restart onto an earlier catalogue version, feedback on an item of a later version was acknowledged
    /// and never learnt (the replica drops an item beyond its rows), with nothing logged.
    @Test("feedback naming an item beyond the catalogue served now is CONFLICT, not acknowledged and dropped")
    func itemBeyondTheServedCatalogue() throws {
        let h = try OnlineHarness()
        let record = ImpressionRecord(
            impressionId: "later", createdMs: 1_000, version: 1, userFeatures: ["user_feature_0": "u0_01"],
            slate: [1, 2, 45], propensities: [0.5, 0.25, 0.1], scores: [0.3, 0.2, 0.1])
        _ = try RecStore(directory: h.directory).commitOnline(
            impressions: [("later", 1_000, "w-a", 1, String(decoding: WireJSON.encode(record), as: UTF8.self))],
            keep: 1_000, feedback: [])
        try h.open(settings: OnlineSettings())
        let beyond = try #require(h.feedback("later", item: 45))
        #expect(beyond.header.status == .conflict, "\(beyond.errorText ?? "")")
        #expect(beyond.errorText?.contains("names item 45, beyond the 40 items") == true, "\(beyond.errorText ?? "")")
        #expect(try #require(h.feedback("later", item: 1)).header.status == .ok)
    }

    /// The floor a new record must meet (`ImpressionRecord.exportProblem`) is not a stored row's: a row logged before
    /// it was checked still reads, and its feedback is taken.
    @Test("a stored row below the new records' propensity floor still reads: feedback on it is taken")
    func storedRowBelowTheNewFloor() throws {
        let h = try Self.harnessLogging([1e-320, 0.5, 0.5])
        try h.open(settings: OnlineSettings())
        let reply = try #require(h.feedback("bad", item: 1))
        #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
    }

    @Test("feedback on it is INTERNAL naming the row and the problem, never taken", arguments: damages)
    func feedbackIsRefused(_ damage: (propensities: [Double], problem: String)) throws {
        let h = try Self.harnessLogging(damage.propensities)
        try h.open(settings: OnlineSettings())
        let reply = try #require(h.feedback("bad", item: 1))
        #expect(reply.header.status == .internal, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains(#"table impressions, row id = "bad", column record"#) == true, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains(damage.problem) == true, "\(reply.errorText ?? "")")
    }

    @Test("a page of the impression log holding it is INTERNAL naming it, never a page without it", arguments: damages)
    func exportIsRefused(_ damage: (propensities: [Double], problem: String)) throws {
        let h = try Self.harnessLogging(damage.propensities)
        _ = h.take()
        h.coordinator.handleControl(
            identity: [9], header: Header(command: .control, requestId: 7), request: ControlRequest(op: "impressions"),
            nowMs: 3_000)
        h.coordinator.flushPending()
        let reply = try #require(h.clientReplies().last)
        #expect(reply.header.status == .internal)
        let text = String(decoding: try reply.frame(0), as: UTF8.self)
        #expect(text.contains("impression bad") && text.contains(damage.problem), "\(text)")
    }

    @Test("a restart hands on the unlearnt feedback of good records and skips a malformed one, which stays stored")
    func handOnSkipsIt() throws {
        let h = try OnlineHarness()
        let store = try RecStore(directory: h.directory)
        let good = Self.record(propensities: [0.5, 0.25, 0.25]).replacingOccurrences(of: "\"bad\"", with: "\"good\"")
        _ = try store.commitOnline(
            impressions: [
                ("bad", 1_000, "w-a", 1, Self.record(propensities: [0, 0.5, 0.5])), ("good", 1_000, "w-a", 1, good),
            ], keep: 1_000,
            feedback: [
                RecStore.FeedbackEvent(impressionId: "bad", item: 1, click: 1, dwell: nil, createdMs: 1_500, toLearn: true),
                RecStore.FeedbackEvent(impressionId: "good", item: 2, click: 1, dwell: nil, createdMs: 1_500, toLearn: true),
            ])
        try h.open(settings: OnlineSettings())
        #expect(h.coordinator.core.held.map(\.impressionId) == ["good"])
        #expect(try RecStore(directory: h.directory).impression("bad") != nil)
    }
}
