import RecPolicy
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

extension [OnlineAction] {
    /// The feedback keys the actions mark learnt, in order.
    var markedLearnt: [RecStore.FeedbackKey] {
        flatMap { action -> [RecStore.FeedbackKey] in
            if case .markLearnt(let keys) = action { return keys }
            return []
        }
    }
}

/// Which feedback a finished sync consumed is stored, so a restarted broker hands on only the rest.
@Suite("Online core: feedback consumed by a sync")
struct OnlineLearntMarkTests {
    static let key = RecStore.FeedbackKey(impressionId: "imp-s", item: 3)

    @Test("an accepted version stores its events' keys in its own write, and the finish writes no second mark")
    func acceptedSyncMarksItsEvents() throws {
        var m = try OnlineMachine()
        let judged = try OnlineMachineTests.syncToGuard(&m)
        let store = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted)).versionsToStore
        #expect(store.map(\.learnt) == [[Self.key]])
        let finished = m.feed(.versionStored(sync: judged.sync, .success("sha-2")))
        #expect(finished.markedLearnt.isEmpty)
        #expect(finished.learnt.isEmpty && m.core.view.pendingEvents == 0)
    }

    /// Before, the events were marked consumed and the replicas reset: acknowledged feedback the guard had accepted
    /// was never learnt (a full disk, an unwritable blob directory).
    @Test("an accepted version that could not be stored consumes nothing: its events stay unlearnt for the next sync")
    func unstoredVersionKeepsItsEvents() throws {
        var m = try OnlineMachine()
        let judged = try OnlineMachineTests.syncToGuard(&m)
        _ = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted))
        let finished = m.feed(.versionStored(sync: judged.sync, .failure(OnlineMachine.diskFull)))
        #expect(finished.markedLearnt.isEmpty)
        #expect(m.core.view.pendingEvents > 0)
    }

    @Test("a rejected candidate consumes its events too: they are marked, not handed on after a restart")
    func rejectedSyncMarksItsEvents() throws {
        var m = try OnlineMachine()
        let judged = try OnlineMachineTests.syncToGuard(&m)
        #expect(m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.rejected)).markedLearnt == [Self.key])
    }

    @Test("a replica that leaves after its learning was merged: its events are not learnt again by another replica")
    func leaverDuringJudgingIsNotHandedOn() throws {
        var m = try OnlineMachine()
        // The event went to w-a (it served the impression); w-a answered the pull, so its learning is in the candidate.
        let judged = try OnlineMachineTests.syncToGuard(&m)
        _ = m.feed(.workers([m.workerB]))
        let store = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted)).versionsToStore
        #expect(store.map(\.learnt) == [[Self.key]])
        let finished = m.feed(.versionStored(sync: judged.sync, .success("sha-2")))
        #expect(finished.toWorkers(.learn).isEmpty)
        #expect(finished.markedLearnt.isEmpty)  // marked by the version's store
        #expect(m.core.view.pendingEvents == 0)
    }

    /// The leaver's learning existed only in the candidate: with the candidate unstored, its events must go to a
    /// replica still there, not be consumed as merged.
    @Test("a replica that leaves after its learning was merged, then the version cannot be stored: its events go to another")
    func leaverThenStoreFailure() throws {
        var m = try OnlineMachine()
        let judged = try OnlineMachineTests.syncToGuard(&m)
        _ = m.feed(.workers([m.workerB]))
        _ = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted))
        let failed = m.feed(.versionStored(sync: judged.sync, .failure(OnlineMachine.diskFull)))
        #expect(failed.markedLearnt.isEmpty)
        #expect(failed.learnt.map(\.identity) == [m.workerB.identity])
        #expect(failed.learnt.flatMap(\.events).map(\.impressionId) == ["imp-s"])
    }

    @Test("a replica that leaves before it answered the pull: its events go to another replica, and are not marked")
    func leaverDuringPullingIsHandedOn() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-s"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-s", item: 3)))
        let commits = m.feed(.flush).commits
        #expect(commits.flatMap(\.feedback).map(\.toLearn) == [true])
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        _ = m.feed(.tick, nowMs: 1_000 + OnlineSettings().syncIntervalMs)
        _ = m.feed(.workers([m.workerB]))
        // w-b alone answers with nothing learnt: an empty sync, which consumes nothing of w-a's.
        guard case .pulling(let round, _, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            return
        }
        let report = PolicyStateReport(kind: .sync, sync: round.id, version: 1, events: 0, updates: 0, weightsSha256: "")
        let finished = m.feed(
            .policyState(
                identity: m.workerB.identity,
                message: WireMessage(
                    header: Header(command: .policyState, requestId: round.id),
                    payload: [WireJSON.encode(report), PolicyWeights.pack(m.core.policy).encoded()])),
            nowMs: 12_000)
        #expect(!m.core.syncing)
        #expect(finished.markedLearnt.isEmpty)
        let learn = finished.toWorkers(.learn)
        #expect(learn.map(\.identity) == [m.workerB.identity])
        #expect(m.core.view.pendingEvents == 1)
    }

    @Test("feedback that arrives while learning is frozen is committed as not to be learnt")
    func frozenFeedbackIsNotToLearn() throws {
        var m = try OnlineMachine()
        m.core.frozen = true
        _ = m.feed(.workers([m.workerA]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-f"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-f", item: 3)))
        #expect(m.feed(.flush).commits.flatMap(\.feedback).map(\.toLearn) == [false])
    }
}
