import Foundation
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// An impression id the log already holds, sent again with another slate in a later group commit: the store keeps
/// the first, so the second slate is refused naming the id, never reported logged.
@Suite("Online coordinator: an impression id repeated across group commits")
struct RepeatedImpressionTests {
    /// A FEEDBACK request for `item` of impression `id`.
    static func feedbackMessage(_ id: String, item: Int, requestId: UInt64) -> WireMessage {
        WireMessage(
            header: Header(command: .feedback, requestId: requestId),
            payload: [WireJSON.encode(FeedbackRequest(impressionId: id, item: item, click: 1))])
    }

    /// Holds a slate for `id` (request id `requestId`) and commits it; returns the released replies.
    static func serveHeld(
        _ h: OnlineHarness, _ id: String, slate: [Int], requestId: UInt64, commit: Bool = true
    ) -> [WireMessage] {
        let record = ImpressionRecord(
            impressionId: id, createdMs: 1_000, version: h.coordinator.version,
            userFeatures: ["user_feature_0": "u0_01"], slate: slate, propensities: [0.5, 0.25, 0.1],
            scores: [0.1, 0.05, 0.01])
        h.coordinator.handleImpression(
            worker: "w-a", record: WireJSON.encode(record),
            reply: ([9], HeldSlateFixtures.frames(for: record, requestId: requestId)), nowMs: record.createdMs)
        guard commit else { return [] }
        h.coordinator.flushPending()
        return HeldSlateCoordinatorTests.released(h)
    }

    @Test("the second slate under a stored id is refused naming the id; the log and its count keep the first")
    func secondSlateRefused() throws {
        let h = try OnlineHarness()
        _ = h.take()
        let first = Self.serveHeld(h, "dup-1", slate: [3, 7, 9], requestId: 41)
        #expect(first.map(\.header.requestId) == [41] && first.first?.header.status == .ok)
        let second = Self.serveHeld(h, "dup-1", slate: [11, 12, 13], requestId: 42)
        #expect(second.map(\.header.requestId) == [42])
        #expect(second.first?.header.status == .internal)
        let text = try #require(second.first?.errorText)
        #expect(text.contains("impression id dup-1 is already logged for another slate"), "\(text)")
        #expect(text.contains("nothing was served"), "\(text)")
        let stored = try h.coordinator.store.impressions(after: 0, limit: 10)
        #expect(stored.map(\.id) == ["dup-1"])
        let record = try WireJSON.decode(ImpressionRecord.self, from: Array(try #require(stored.first).record.utf8))
        #expect(record.slate == [3, 7, 9])
        #expect(h.coordinator.view.impressions == 1)
        // Feedback on the first slate's item is taken; on the refused slate's item it is refused.
        #expect(h.feedback("dup-1", item: 7)?.header.status == .ok)
        #expect(h.feedback("dup-1", item: 12)?.header.status == .badRequest)
    }

    @Test("a fresh id in the same commit as a repeated one is still released")
    func othersInTheCommitReleased() throws {
        let h = try OnlineHarness()
        _ = h.take()
        _ = Self.serveHeld(h, "dup-2", slate: [3, 7, 9], requestId: 41)
        _ = Self.serveHeld(h, "dup-2", slate: [11, 12, 13], requestId: 42, commit: false)
        let released = Self.serveHeld(h, "fresh-2", slate: [1, 2, 4], requestId: 43)
        let byId = Dictionary(uniqueKeysWithValues: released.map { ($0.header.requestId, $0.header.status) })
        #expect(byId == [42: .internal, 43: .ok])
        #expect(try h.coordinator.store.impressions(after: 0, limit: 10).map(\.id) == ["dup-2", "fresh-2"])
        #expect(h.coordinator.view.impressions == 2)
    }

    @Test("feedback checked against a queued slate whose id the log holds is checked again against the stored one")
    func feedbackAgainstTheRefusedSlateIsRechecked() throws {
        let h = try OnlineHarness()
        _ = h.take()
        _ = Self.serveHeld(h, "dup-3", slate: [3, 7, 9], requestId: 41)
        // A second slate under the same id waits for its commit; feedback on the first slate's item 7 arrives meanwhile
        // (item 7 is in both slates), and on item 12 (only in the queued one).
        _ = Self.serveHeld(h, "dup-3", slate: [11, 12, 7], requestId: 42, commit: false)
        let onSeven = Self.feedbackMessage("dup-3", item: 7, requestId: 50)
        let onTwelve = Self.feedbackMessage("dup-3", item: 12, requestId: 51)
        h.coordinator.handleFeedback(identity: [9], message: onSeven, nowMs: 2_000)
        h.coordinator.handleFeedback(identity: [9], message: onTwelve, nowMs: 2_000)
        h.coordinator.flushPending()
        h.coordinator.flushPending()
        let answers = h.clientReplies()
        let byId = Dictionary(uniqueKeysWithValues: answers.map { ($0.header.requestId, $0) })
        #expect(byId[50]?.header.status == .ok)
        let seven = try WireJSON.decode(FeedbackReply.self, from: try #require(byId[50]).frame(0))
        #expect(seven.item == 7 && !seven.duplicate)
        #expect(byId[51]?.header.status == .badRequest, "feedback on an item of the refused slate was taken")
        #expect(byId[51]?.errorText?.contains("slate [3, 7, 9]") == true)
        let row = try #require(try h.coordinator.store.impression("dup-3"))
        #expect(row.clicks == [7: 1])
        #expect(h.coordinator.view.feedback == 1)
    }

    @Test("feedback on an item of the stored slate that the queued repeat did not show is taken, not refused")
    func feedbackOnAnItemOnlyTheStoredSlateShowed() throws {
        let h = try OnlineHarness()
        _ = h.take()
        _ = Self.serveHeld(h, "dup-4", slate: [3, 7, 9], requestId: 41)
        _ = Self.serveHeld(h, "dup-4", slate: [11, 12, 13], requestId: 42, commit: false)
        let onSeven = Self.feedbackMessage("dup-4", item: 7, requestId: 60)
        h.coordinator.handleFeedback(identity: [9], message: onSeven, nowMs: 2_000)
        h.coordinator.flushPending()
        h.coordinator.flushPending()
        let answers = h.clientReplies()
        let reply = try #require(answers.first { $0.header.requestId == 60 })
        #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
        #expect(try h.coordinator.store.impression("dup-4")?.clicks == [7: 1])
        // An item neither slate showed is still refused, naming the stored slate.
        let reply99 = h.feedback("dup-4", item: 99)
        #expect(reply99?.header.status == .badRequest && reply99?.errorText?.contains("slate [3, 7, 9]") == true)
    }
}

@Suite("Store: group commits and repeated impression ids")
struct RepeatedImpressionStoreTests {
    @Test("a commit names the ids the log already held and records no feedback that needed them")
    func commitNamesRepeatedIds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-repeat-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try RecStore(directory: directory)
        #expect(
            try store.appendImpressions([(id: "a", createdMs: 1, worker: "w", version: 1, record: "{}")], keep: 10)
                == [])
        let result = try store.commitOnline(
            impressions: [
                (id: "a", createdMs: 2, worker: "w", version: 1, record: "{\"second\":1}"),
                (id: "b", createdMs: 2, worker: "w", version: 1, record: "{}"),
            ], keep: 10,
            feedback: [
                RecStore.FeedbackEvent(
                    impressionId: "a", item: 1, click: 1, dwell: nil, createdMs: 3, needsItsImpression: true),
                RecStore.FeedbackEvent(impressionId: "a", item: 2, click: 0, dwell: nil, createdMs: 3),
                RecStore.FeedbackEvent(
                    impressionId: "b", item: 1, click: 1, dwell: nil, createdMs: 3, needsItsImpression: true),
            ])
        #expect(
            result
                == RecStore.OnlineCommitResult(repeatedImpressions: ["a"], feedbackNew: [false, true, true], impressionsStored: 1))
        #expect(try store.impression("a")?.record == "{}")
        #expect(try store.impression("a")?.clicks == [2: 0])
    }
}
