import Foundation
import RecTestKit
import Testing

@testable import RecStore

/// The feedback a finished sync has not consumed, as a restarted broker reads it.
@Suite("Store: unlearnt feedback")
struct UnlearntFeedbackTests {
    static func impression(_ id: String) -> (id: String, createdMs: UInt64, worker: String, version: UInt64, record: String) {
        (id, 1_000, "w-a", 1, "{\"impression_id\":\"\(id)\"}")
    }

    @Test("events to learn stay unlearnt, in stored order, until a sync marks them; frozen ones never are; reopened alike")
    func unlearntUntilMarked() throws {
        let temporary = try TemporaryDirectory("store-unlearnt")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let result = try store.commitOnline(
            impressions: [Self.impression("i1"), Self.impression("i2")], keep: 100,
            feedback: [
                .init(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true),
                .init(impressionId: "i2", item: 5, click: 0, dwell: nil, createdMs: 2_001, toLearn: true),
                .init(impressionId: "i1", item: 4, click: 0, dwell: nil, createdMs: 2_002, toLearn: false),
            ])
        #expect(result.feedbackNew == [true, true, true])
        let unlearnt = try store.unlearntFeedback()
        #expect(unlearnt.map(\.impressionId) == ["i1", "i2"] && unlearnt.map(\.item) == [3, 5])
        #expect(unlearnt.map(\.click) == [1, 0] && unlearnt[0].record == Self.impression("i1").record)

        // A version stored with the events it merged marks them in the same write.
        let sha = try store.blobs.put([1, 2, 3])
        try store.savePolicyVersion(
            PolicyVersionRow(version: 2, weightsSHA: sha, spec: "{}", decision: nil, catalogueVersion: nil),
            createdMs: 3_000, learnt: [RecStore.FeedbackKey(impressionId: "i1", item: 3)])
        #expect(try store.unlearntFeedback().map(\.impressionId) == ["i2"])
        let reopened = try RecStore(directory: temporary.path)
        #expect(try reopened.unlearntFeedback().map(\.impressionId) == ["i2"])
        try reopened.markLearnt([RecStore.FeedbackKey(impressionId: "i2", item: 5)])
        #expect(try reopened.unlearntFeedback().isEmpty)
    }

    @Test("a damaged click in an unlearnt row is named, never handed to a learner as a reward")
    func damagedClickNamed() throws {
        let temporary = try TemporaryDirectory("store-unlearnt-damaged")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        _ = try store.commitOnline(
            impressions: [Self.impression("i1")], keep: 100,
            feedback: [.init(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true)])
        try UnreadableValueTests.damage(temporary.path, "UPDATE feedback SET click = 7")
        #expect(
            throws: StoreError.corruptColumn(
                table: "feedback", row: #"impression_id = "i1", item = 3"#, column: "click",
                problem: "7 is neither 0 nor 1")
        ) { try store.unlearntFeedback() }
    }

    @Test("a new lineage marks every event learnt")
    func markAll() throws {
        let temporary = try TemporaryDirectory("store-unlearnt-all")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        _ = try store.commitOnline(
            impressions: [Self.impression("i1")], keep: 100,
            feedback: [.init(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true)])
        #expect(try store.unlearntFeedback().count == 1)
        try store.markAllLearnt()
        #expect(try store.unlearntFeedback().isEmpty)
    }
}
