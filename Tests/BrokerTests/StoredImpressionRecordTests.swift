import Foundation
import RecData
import RecPolicy
@testable import RecStore
import RecWire
import Testing

@testable import Broker

/// A logged impression's record must agree with its own row: a record edited or damaged after it was stored is named
/// as damaged, never exported, learnt from or weighed by the guard under a version that did not serve it.
@Suite("Stored impression records agree with their rows")
struct StoredImpressionRecordTests {
    static func record(id: String = "i-1", createdMs: UInt64 = 1_000, version: UInt64 = 2) -> ImpressionRecord {
        ImpressionRecord(
            impressionId: id, createdMs: createdMs, version: version, userFeatures: ["user_feature_0": "u0_01"],
            slate: [3, 7], propensities: [0.5, 0.25], scores: [0.1, 0.05])
    }

    static func text(_ record: ImpressionRecord) -> String { String(decoding: WireJSON.encode(record), as: UTF8.self) }

    /// The problem of a refused decode, or nil when it decoded.
    static func refusal(_ text: String, id: String = "i-1", createdMs: UInt64 = 1_000, version: UInt64 = 2) -> String? {
        do {
            _ = try StoredImpressionRecord.decode(text, id: id, createdMs: createdMs, version: version)
            return nil
        } catch {
            guard case .corruptColumn(let table, let row, let column, let problem) = error else { return "\(error)" }
            #expect(table == "impressions" && row == #"id = "\#(id)""# && column == "record")
            return problem
        }
    }

    @Test("a record that agrees with its row reads back as stored")
    func agreeing() throws {
        let stored = Self.record()
        #expect(try StoredImpressionRecord.decode(Self.text(stored), id: "i-1", createdMs: 1_000, version: 2) == stored)
    }

    @Test("a version, time or id other than the row's is refused, naming both values")
    func disagreeing() {
        // The helper's case: `json_set(record, '$.version', 99)` on a row of version 2.
        #expect(Self.refusal(Self.text(Self.record(version: 99)))
            == "its version 99 disagrees with the row's version column (2)")
        // And the other way round: the column edited, the record kept.
        #expect(Self.refusal(Self.text(Self.record()), version: 99)
            == "its version 2 disagrees with the row's version column (99)")
        #expect(Self.refusal(Self.text(Self.record(createdMs: 5))) == "its created_ms 5 disagrees with the row's created_ms column (1000)")
        #expect(Self.refusal(Self.text(Self.record(id: "i-2")))?.contains("impression_id \"i-2\"") == true)
    }

    @Test("a record whose values no log can hold is refused: a time past year 9999, a negative item, a bad dwell")
    func malformed() {
        let late = ImpressionRecord.maximumCreatedMs + 1
        #expect(Self.refusal(Self.text(Self.record(createdMs: late)), createdMs: late)?.contains("after 9999-12-31") == true)
        // The last instant a timestamp can hold is still a record.
        let last = ImpressionRecord.maximumCreatedMs
        #expect(Self.refusal(Self.text(Self.record(createdMs: last)), createdMs: last) == nil)
        var negative = Self.record()
        negative.slate = [3, -1]
        #expect(Self.refusal(Self.text(negative))?.contains("item -1, below 0") == true)
        var viewed = Self.record()
        viewed.viewed = [ViewedItem(item: -4, seconds: 3)]
        #expect(Self.refusal(Self.text(viewed))?.contains("viewed names item -4") == true)
        viewed.viewed = [ViewedItem(item: 4, seconds: 2e9)]
        #expect(Self.refusal(Self.text(viewed))?.contains("dwell of 2000000000.0 s") == true)
    }

    @Test("stored feedback for an item the slate did not show is a damaged feedback row, named")
    func feedbackForAnItemNotShown() throws {
        let row = ImpressionRow(
            seq: 1, id: "i-1", createdMs: 1_000, worker: "w-a", version: 2, record: Self.text(Self.record()),
            clicks: [3: 1, 999: 0])
        #expect {
            try StoredImpressionRecord.decode(row)
        } throws: { error in
            guard case .corruptColumn(let table, let key, let column, let problem) = error as? StoreError else { return false }
            return table == "feedback" && key == #"impression_id = "i-1", item = 999"# && column == "item"
                && problem == "the impression's slate [3, 7] did not show item 999"
        }
        var shown = row
        shown.clicks = [3: 1, 7: 0]
        #expect(try StoredImpressionRecord.decode(shown) == Self.record())
    }

    @Test("an item beyond a simulator world's items is damage; beyond a registry catalogue's rows it may be a later version's")
    func itemsBeyondAFixedWorld() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        var beyond = Self.record()
        beyond.slate = [14, 27, 999]
        beyond.propensities = [0.5, 0.25, 0.1]
        beyond.scores = [0.1, 0.05, 0.01]
        let row = ImpressionRow(
            seq: 1, id: "i-1", createdMs: 1_000, worker: "w-a", version: 2, record: Self.text(beyond), clicks: [:])
        #expect {
            try StoredImpressionRecord.decode(row, servedUnder: spec, fromRegistry: false)
        } throws: { error in
            "\(error)".contains("it names item 999, beyond the 40 items of a pool that serves no registry catalogue")
        }
        #expect(try StoredImpressionRecord.decode(row, servedUnder: spec, fromRegistry: true) == beyond)
        var viewed = Self.record()
        viewed.viewed = [ViewedItem(item: 40, seconds: 3)]
        let viewedRow = ImpressionRow(
            seq: 2, id: "i-1", createdMs: 1_000, worker: "w-a", version: 2, record: Self.text(viewed), clicks: [:])
        #expect(throws: StoreError.self) { try StoredImpressionRecord.decode(viewedRow, servedUnder: spec, fromRegistry: false) }
        #expect(try StoredImpressionRecord.decode(row, servedUnder: nil, fromRegistry: false) == beyond)
    }

    @Test("feedback on an impression whose record names another version is INTERNAL naming it")
    func feedbackOnDisagreeingRecord() throws {
        let h = try OnlineHarness()
        let store = try RecStore(directory: h.directory)
        _ = try store.commitOnline(
            impressions: [("edited", 1_000, "w-a", 1, Self.text(Self.record(id: "edited", createdMs: 1_000, version: 99)))],
            keep: 1_000, feedback: [])
        try h.open(settings: OnlineSettings())
        let reply = try #require(h.feedback("edited", item: 3))
        #expect(reply.header.status == .internal, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains("version 99 disagrees") == true, "\(reply.errorText ?? "")")
    }
}
