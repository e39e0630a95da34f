import Foundation
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// After a start onto a catalogue whose rows are numbered otherwise (an upload with `--replace`), the impressions the
/// earlier lineage logged name rows of the old catalogue: exported under the served one, row 0 (sku `a`) came out as
/// the new row 0 (sku `c`). An `impressions` page now leaves them out and counts them.
@Suite("An impressions page leaves out what an earlier lineage logged, and counts it")
struct EarlierLineageExportTests {
    static func record(_ id: String, version: UInt64) -> String {
        let record = ImpressionRecord(
            impressionId: id, createdMs: 1_000, version: version, userFeatures: ["user_feature_0": "u"],
            slate: [0, 1], propensities: [0.5, 0.5], scores: [0.2, 0.1])
        return String(decoding: WireJSON.encode(record), as: UTF8.self)
    }

    /// The page a coordinator answers for `after` and `limit`.
    static func page(_ coordinator: OnlineCoordinator, replies: LockedReplies, after: Int64?, limit: Int) throws
        -> ImpressionPage
    {
        coordinator.handleControl(
            identity: [9], header: Header(command: .control, requestId: 7),
            request: ControlRequest(.impressions, after: after, limit: limit), nowMs: 3_000)
        coordinator.flushPending()
        let reply = try #require(replies.last)
        #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
        return try WireJSON.decode(ImpressionPage.self, from: try reply.frame(0))
    }

    /// The reply to a click on `item` of the earlier lineage's impression `old-1`.
    static func feedback(_ coordinator: OnlineCoordinator, replies: LockedReplies, item: Int, requestId: UInt64) throws
        -> WireMessage
    {
        coordinator.handleFeedback(
            identity: [9],
            message: WireMessage(
                header: Header(command: .feedback, requestId: requestId),
                payload: [WireJSON.encode(FeedbackRequest(impressionId: "old-1", item: item, click: 1))]),
            nowMs: 1_500)
        coordinator.flushPending()
        return try #require(replies.last)
    }

    @Test("a new lineage's page holds only its own impressions; the earlier ones are counted, and stay so after a restart")
    func earlierLineageLeftOut() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1], [2]], ids: ["a", "b", "c"], parent: nil)
        let replaced = try h.register(["f0"], [[2], [1], [0]], ids: ["c", "b", "a"], parent: 1)
        #expect(try h.start(v1).version == 1)
        #expect(try h.store.lineageStart() == nil)
        // old-1's click on item 1 was acknowledged and learnt; old-2's (an earlier build took it) never was.
        _ = try h.store.commitOnline(
            impressions: [("old-1", 1_000, "w-a", 1, Self.record("old-1", version: 1)),
                          ("old-2", 1_000, "w-a", 1, Self.record("old-2", version: 1))],
            keep: 1_000,
            feedback: [
                RecStore.FeedbackEvent(impressionId: "old-1", item: 1, click: 1, dwell: nil, createdMs: 1_100, toLearn: false),
                RecStore.FeedbackEvent(impressionId: "old-2", item: 0, click: 1, dwell: nil, createdMs: 1_100, toLearn: true),
            ])
        let replies = LockedReplies()
        let coordinator = try h.start(replaced, outputs: replies.record)
        #expect(coordinator.version == 2 && coordinator.lineageStart == 2)
        #expect(try h.store.lineageStart() == 2)
        // The earlier lineage's unlearnt click is not handed to the replicas, and is marked consumed so that no later
        // start reads it again.
        #expect(coordinator.core.held.isEmpty)
        #expect(try h.store.unlearntFeedback().rows.isEmpty)
        _ = try h.store.commitOnline(
            impressions: [("new-1", 1_000, "w-a", 2, Self.record("new-1", version: 2))], keep: 1_000, feedback: [])
        let whole = try Self.page(coordinator, replies: replies, after: nil, limit: 10)
        #expect(whole.impressions.map(\.record.impressionId) == ["new-1"])
        #expect(whole.earlierLineage == 2 && whole.nextAfter == nil)
        // A page that covers only earlier rows is empty but full: it still says where to go on.
        let first = try Self.page(coordinator, replies: replies, after: nil, limit: 2)
        #expect(first.impressions.isEmpty && first.earlierLineage == 2 && first.nextAfter == 2)
        let second = try Self.page(coordinator, replies: replies, after: 2, limit: 2)
        #expect(second.impressions.map(\.record.impressionId) == ["new-1"] && second.earlierLineage == 0)
        #expect(second.nextAfter == nil)
        // Feedback on the earlier lineage's impression is refused: row 0 was sku a then and is sku c now.
        let refused = try Self.feedback(coordinator, replies: replies, item: 0, requestId: 42)
        #expect(refused.header.status == .conflict, "\(refused.errorText ?? "")")
        #expect(refused.errorText?.contains("policy version 1 of an earlier lineage (this one began at version 2") == true)
        #expect(coordinator.core.held.isEmpty && coordinator.core.outgoing.isEmpty)
        // A repeat of the click the log holds is a duplicate, whichever lineage served it: the client learns it was kept.
        let repeated = try Self.feedback(coordinator, replies: replies, item: 1, requestId: 43)
        #expect(repeated.header.status == .ok, "\(repeated.errorText ?? "")")
        #expect(try WireJSON.decode(FeedbackReply.self, from: repeated.frame(0)).duplicate)
        // The guard reads only this lineage's impressions: old-1 and old-2 have feedback too.
        _ = try h.store.commitOnline(
            impressions: [], keep: 1_000,
            feedback: [
                RecStore.FeedbackEvent(impressionId: "new-1", item: 0, click: 1, dwell: nil, createdMs: 1_600, toLearn: false),
            ])
        #expect(try h.store.recentImpressionsWithFeedback(limit: 10).count == 3)
        let (evidence, leftOut) = try OnlineCoordinator.guardEvidence(
            store: h.store, limit: 10, fromVersion: coordinator.lineageStart)
        #expect(evidence.count == 1 && leftOut == 0)
        // The guard's thread reads only what was logged when the sync handed it the case (new-1 is stamped 1,000).
        #expect(try OnlineCoordinator.guardEvidence(
            store: h.store, limit: 10, fromVersion: coordinator.lineageStart, createdUpToMs: 999).impressions.isEmpty)
        #expect(try OnlineCoordinator.guardEvidence(
            store: h.store, limit: 10, fromVersion: coordinator.lineageStart, createdUpToMs: 1_000).impressions.count == 1)
        // A slate a replica still draws under the earlier lineage's version is not logged as served.
        #expect(coordinator.core.recordProblem(
            ImpressionRecord(
                impressionId: "late", createdMs: 1_700, version: 1, userFeatures: [:], slate: [0],
                propensities: [1], scores: [0.5]))?.contains("of an earlier lineage") == true)
        // A restart that resumes the lineage keeps its start.
        let resumed = try h.start(replaced)
        #expect(resumed.version == 2 && resumed.lineageStart == 2)
    }

    @Test("a catalogue that extends the stored one continues the lineage: every impression is on the page")
    func extensionKeepsEverything() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1]], ids: ["a", "b"], parent: nil)
        let v2 = try h.register(["f0"], [[0], [1], [2]], ids: ["a", "b", "c"], parent: 1, change: .add)
        _ = try h.start(v1)
        _ = try h.store.commitOnline(
            impressions: [("old-1", 1_000, "w-a", 1, Self.record("old-1", version: 1))], keep: 1_000, feedback: [])
        let replies = LockedReplies()
        let coordinator = try h.start(v2, outputs: replies.record)
        #expect(coordinator.lineageStart == 1)
        let page = try Self.page(coordinator, replies: replies, after: nil, limit: 10)
        #expect(page.impressions.map(\.record.impressionId) == ["old-1"] && page.earlierLineage == 0)
    }

    @Test("a stored lineage start that is not a version stops the start, named")
    func damagedLineageStart() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1]], ids: ["a", "b"], parent: nil)
        for damaged in ["0", "-3", "two", "18446744073709551615", "999"] {
            try h.store.setSetting(RecStore.lineageStartSetting, damaged)
            if damaged != "999" { #expect(throws: StoreError.self) { _ = try h.store.lineageStart() } }
            do {
                _ = try h.start(v1)
                Issue.record("started over a lineage start of \(damaged)")
            } catch {
                let named = damaged == "999" ? "lineage start 999 is past every policy version" : "'\(damaged)'"
                #expect("\(error)".contains("online.lineage_start") && "\(error)".contains(named), "\(error)")
            }
        }
    }

    @Test("a page document without earlier_lineage (an older broker) left nothing out; a negative count is refused")
    func pageDocument() throws {
        let old = try WireJSON.decode(
            ImpressionPage.self, from: Array(#"{"impressions": [], "next_after": null, "spec": null}"#.utf8))
        #expect(old.earlierLineage == 0)
        #expect(throws: (any Error).self) {
            _ = try WireJSON.decode(
                ImpressionPage.self,
                from: Array(#"{"impressions": [], "next_after": null, "spec": null, "earlier_lineage": -1}"#.utf8))
        }
        let encoded = String(decoding: WireJSON.encode(ImpressionPage(impressions: [], nextAfter: 4, spec: nil, earlierLineage: 3)), as: UTF8.self)
        #expect(encoded.contains(#""earlier_lineage":3"#), "\(encoded)")
    }
}

/// The client replies a coordinator emits, kept for a test to read.
final class LockedReplies: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [WireMessage] = []

    /// Records a reply to a client.
    func record(_ output: ControlOutput) {
        guard case .toClient(_, let frames) = output, let message = try? WireMessage(decoding: frames) else { return }
        lock.withLock { replies.append(message) }
    }

    /// The newest reply.
    var last: WireMessage? { lock.withLock { replies.last } }
}
