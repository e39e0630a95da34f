import RecPolicy
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

extension [OnlineAction] {
    /// The events the LEARN messages carry, per replica identity, in order.
    var learnt: [(identity: [UInt8], events: [LearnEvent])] {
        toWorkers(.learn).compactMap { sent in
            guard let batch = try? WireJSON.decode(LearnBatch.self, from: sent.message.frame(0)) else { return nil }
            return (sent.identity, batch.events)
        }
    }
    /// The feedback keys of the events the LEARN messages carry, in order.
    var learntKeys: [RecStore.FeedbackKey] { learnt.flatMap(\.events).map(RecStore.FeedbackKey.init) }
}

/// What a finished sync does with the events of a replica whose learning it did not merge, and what a freeze, a
/// refused delta and a restart's hand-on do with the events the replicas were sent since the last sync.
@Suite("Online core: events of replicas in no merge")
struct OnlineSyncPartitionTests {
    static let key = RecStore.FeedbackKey(impressionId: "imp-p", item: 3)

    /// Workers A and B; one event, served by w-a, delivered to it.
    static func machineWithOneEvent() throws -> OnlineMachine {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-p"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-p", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        #expect(m.core.view.pendingEvents == 1)
        return m
    }

    /// ``machineWithOneEvent()`` after one sync in which w-b answered with nothing learnt and w-a, holding the event,
    /// answered for another version: the event was sent again, to w-b.
    static func machineAfterWorkerAInNoMerge() throws -> OnlineMachine {
        var m = try machineWithOneEvent()
        let interval = OnlineSettings().syncIntervalMs
        let first = try pull(&m, at: 1_000 + interval)
        _ = answer(&m, m.workerB, sync: first, version: 1, nowMs: 2_000 + interval)
        _ = answer(&m, m.workerA, sync: first, version: 0, nowMs: 2_000 + interval)
        return m
    }

    /// ``machineWithOneEvent()`` with a sync started one interval in (at `start`, its id `sync`), which w-b answered at
    /// once with nothing learnt while w-a, holding the event, has not answered.
    static func syncWithWorkerBAnswered() throws -> (m: OnlineMachine, sync: UInt64, start: UInt64) {
        var m = try machineWithOneEvent()
        let start = 1_000 + OnlineSettings().syncIntervalMs
        let sync = try pull(&m, at: start)
        _ = answer(&m, m.workerB, sync: sync, version: 1, nowMs: start + 10)
        return (m, sync, start)
    }

    /// Starts a sync with a tick at `nowMs` and returns its id.
    static func pull(_ m: inout OnlineMachine, at nowMs: UInt64) throws -> UInt64 {
        _ = m.feed(.tick, nowMs: nowMs)
        guard case .pulling(let round, _, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            throw CancellationError()
        }
        return round.id
    }

    /// A replica's POLICY_STATE `sync` answer for `version`: with `events` > 0 its statistics moved by 0.1.
    static func answer(
        _ m: inout OnlineMachine, _ worker: TrainingWorker, sync: UInt64, version: UInt64, events: Int = 0,
        nowMs: UInt64
    ) -> [OnlineAction] {
        let base = PolicyWeights.pack(m.core.policy)
        let bytes = (events > 0 ? base.shifting("s", by: 0.1) : base).encoded()
        let report = PolicyStateReport(
            kind: .sync, sync: sync, version: version, events: events, updates: events > 0 ? 1 : 0,
            weightsSha256: PolicyWeights.sha256(of: bytes))
        let message = WireMessage(
            header: Header(command: .policyState, requestId: sync), payload: [WireJSON.encode(report), bytes])
        return m.feed(.policyState(identity: worker.identity, message: message), nowMs: nowMs)
    }

    @Test("a replica that answered for another version: its events go to the replica that answered, after the installs")
    func otherVersionIsSentAgain() throws {
        var m = try Self.machineWithOneEvent()
        let interval = OnlineSettings().syncIntervalMs
        let sync = try Self.pull(&m, at: 1_000 + interval)
        _ = Self.answer(&m, m.workerB, sync: sync, version: 1, nowMs: 2_000 + interval)
        let finished = Self.answer(&m, m.workerA, sync: sync, version: 0, nowMs: 2_000 + interval)
        #expect(!m.core.syncing)
        #expect(finished.markedLearnt.isEmpty)
        let learn = finished.learnt
        #expect(learn.map(\.identity) == [m.workerB.identity])
        #expect(learn.map(\.events).joined().map(RecStore.FeedbackKey.init) == [Self.key])
        // Sent after the POLICY that resets w-b's learner, so w-b learns it on the served version.
        let sends = finished.compactMap { action -> Command? in
            guard case .send(.toWorker(let identity, let frames)) = action, identity == m.workerB.identity else {
                return nil
            }
            return try? WireMessage(decoding: frames).header.command
        }
        #expect(sends == [.policy, .learn])
        #expect(m.core.view.pendingEvents == 1)
    }

    @Test("an event sent again once is consumed by the next sync that merges it nowhere: no sync after sync")
    func sentAgainAtMostOnce() throws {
        var m = try Self.machineAfterWorkerAInNoMerge()
        let interval = OnlineSettings().syncIntervalMs
        // Now w-b holds it, and this time w-b is the one in no merge.
        let second = try Self.pull(&m, at: 3_000 + 2 * interval)
        _ = Self.answer(&m, m.workerA, sync: second, version: 1, nowMs: 4_000 + 2 * interval)
        let finished = Self.answer(&m, m.workerB, sync: second, version: 0, nowMs: 4_000 + 2 * interval)
        #expect(finished.markedLearnt == [Self.key])
        #expect(finished.learnt.isEmpty)
        #expect(m.core.view.pendingEvents == 0 && m.core.reheld.isEmpty)
        // Counted where an operator looks (a partition lost 40% of a run's learning, seen only in the log).
        #expect(m.core.view.unlearntEvents == 1)
        // On the wire too (`online status --json`, the text): the view's own coder lists every key.
        let wire = try WireJSON.decode(OnlineView.self, from: WireJSON.encode(m.core.view))
        #expect(wire.unlearntEvents == 1 && String(decoding: WireJSON.encode(m.core.view), as: UTF8.self).contains("\"unlearnt_events\":1"))
        // Nothing is left to start another sync.
        _ = m.feed(.tick, nowMs: 5_000 + 4 * interval)
        #expect(!m.core.syncing)
    }

    /// A version that could not be stored (a full disk) sent its events again and counted that as their one chance:
    /// the next sync that did not merge the replica holding them consumed them without learning them, and marked them
    /// learnt in the store, so a restart did not hand them on either.
    @Test("events sent again after a version could not be stored keep their chance: a later miss sends them again")
    func storeFailureIsNotTheirChance() throws {
        var m = try Self.machineWithOneEvent()
        let interval = OnlineSettings().syncIntervalMs
        let first = try Self.pull(&m, at: 1_000 + interval)
        _ = Self.answer(&m, m.workerB, sync: first, version: 1, nowMs: 2_000 + interval)
        let judged = Self.answer(&m, m.workerA, sync: first, version: 1, events: 1, nowMs: 2_000 + interval).judged
        let sync = try #require(judged.first).sync
        _ = m.feed(.verdict(sync: sync, decision: OnlineMachine.admitted), nowMs: 2_000 + interval)
        let failed = m.feed(.versionStored(sync: sync, .failure(OnlineMachine.diskFull)), nowMs: 2_000 + interval)
        #expect(failed.markedLearnt.isEmpty)
        let holder = try #require(failed.learnt.first { $0.events.map(RecStore.FeedbackKey.init) == [Self.key] }).identity
        let other = holder == m.workerA.identity ? m.workerB : m.workerA
        let holding = holder == m.workerA.identity ? m.workerA : m.workerB
        // The next sync does not merge the replica holding it: it goes again, to the other, never consumed unlearnt.
        let second = try Self.pull(&m, at: 3_000 + 2 * interval)
        _ = Self.answer(&m, other, sync: second, version: 1, nowMs: 4_000 + 2 * interval)
        let finished = Self.answer(&m, holding, sync: second, version: 0, nowMs: 4_000 + 2 * interval)
        #expect(finished.markedLearnt.isEmpty)
        #expect(finished.learntKeys == [Self.key] && finished.learnt.map(\.identity) == [other.identity])
        #expect(m.core.view.pendingEvents == 1 && m.core.view.unlearntEvents == 0)
    }

    /// Feedback acknowledged during a freeze is stored as not to be learnt: it was in no counter, and the view said
    /// "0 unlearnt" while those events were never learnt.
    @Test("feedback that arrives while learning is frozen is counted as unlearnt, never delivered")
    func frozenFeedbackIsCounted() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        m.core.frozen = true
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-f"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-f", item: 3)))
        _ = m.feed(.flush)
        let committed = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        #expect(committed.learnt.isEmpty)
        #expect(m.core.view.unlearntEvents == 1 && m.core.view.pendingEvents == 0)
    }

    /// A live replica still to answer at the timeout is behind on learning (its pull waits behind its LEARN backlog):
    /// the sync waits for it, up to `behindWaitFactor` timeouts, before resetting it and sending its events on.
    @Test("a live replica that does not answer within the timeout is waited for; past the longest wait its events go on")
    func timedOutIsSentAgain() throws {
        let setup = try Self.syncWithWorkerBAnswered()
        var m = setup.m
        let (sync, start) = (setup.sync, setup.start)
        let (interval, timeout) = (OnlineSettings().syncIntervalMs, OnlineSettings().syncTimeoutMs)
        let waiting = m.feed(.tick, nowMs: start + timeout)
        #expect(m.core.syncing && waiting.learnt.isEmpty && waiting.markedLearnt.isEmpty)
        let finished = m.feed(.tick, nowMs: start + timeout * OnlineCore.behindWaitFactor)
        #expect(!m.core.syncing)
        #expect(finished.markedLearnt.isEmpty)
        #expect(finished.learnt.map(\.identity) == [m.workerB.identity])
        #expect(finished.learntKeys == [Self.key])
        // w-a heartbeats but never answered the longest wait (a wedged learner): the next sync waits for it only the
        // plain timeout, not another minute with every new event held.
        let next = start + timeout * OnlineCore.behindWaitFactor + interval + 1_000
        let second = try Self.pull(&m, at: next)
        _ = Self.answer(&m, m.workerB, sync: second, version: 1, nowMs: next + 10)
        _ = m.feed(.tick, nowMs: next + timeout)
        #expect(!m.core.syncing)
        // Its late answer to the first sync shows it learns: it is waited for again.
        _ = Self.answer(&m, m.workerA, sync: sync, version: 1, nowMs: next + timeout + 10)
        #expect(m.core.unansweredLongWait.isEmpty)
    }

    /// The fault: the replica behind was reset at the timeout and its backlog sent to the one that answered, which could
    /// not learn it within the next sync's timeout either, so it was consumed without being learnt.
    @Test("a replica behind that answers after the timeout, within the longest wait, is merged: nothing goes again")
    func lateAnswerWithinTheWaitIsMerged() throws {
        let setup = try Self.syncWithWorkerBAnswered()
        var m = setup.m
        let (sync, start) = (setup.sync, setup.start)
        // The event went to w-a (its impression's replica); w-b answers at once, w-a well after the timeout.
        let timeout = OnlineSettings().syncTimeoutMs
        _ = m.feed(.tick, nowMs: start + timeout)
        #expect(m.core.syncing)
        let answered = Self.answer(&m, m.workerA, sync: sync, version: 1, events: 1, nowMs: start + 3 * timeout)
        if case .pulling = m.core.phase { Issue.record("still pulling after every replica answered") }
        #expect(answered.learntKeys.isEmpty && m.core.view.unlearntEvents == 0)
    }

    @Test("a sync no replica answers in time changes nothing: no install, no hand-on, and the next sync merges the events")
    func unansweredSyncChangesNothing() throws {
        var m = try Self.machineWithOneEvent()
        let interval = OnlineSettings().syncIntervalMs
        let timeout = OnlineSettings().syncTimeoutMs
        let start = 1_000 + interval
        let first = try Self.pull(&m, at: start)
        // Both replicas are behind (LEARN work queued ahead of the pull): neither answers within the timeout.
        let timedOut = m.feed(.tick, nowMs: start + timeout)
        #expect(!m.core.syncing && m.core.abandonedSyncs == 1)
        #expect(timedOut.markedLearnt.isEmpty && timedOut.learnt.isEmpty)
        #expect(timedOut.toWorkers(.policy).isEmpty, "no replica is re-installed: it keeps what it learnt")
        #expect(m.core.view.pendingEvents == 1 && m.core.reheld.isEmpty)
        // Their late answers to that sync are ignored; no sync starts until one timeout has passed.
        _ = Self.answer(&m, m.workerA, sync: first, version: 1, events: 1, nowMs: start + timeout + 10)
        _ = m.feed(.tick, nowMs: start + timeout + 20)
        #expect(!m.core.syncing)
        // The next sync pulls both; w-a's learning of the event is merged and the event is consumed by that merge,
        // never handed on as in no merge.
        let retry = start + 2 * timeout
        let second = try Self.pull(&m, at: retry)
        #expect(second != first)
        _ = Self.answer(&m, m.workerB, sync: second, version: 1, nowMs: retry + 10)
        let merged = Self.answer(&m, m.workerA, sync: second, version: 1, events: 1, nowMs: retry + 10)
        #expect(merged.learnt.isEmpty)
        #expect(m.core.reheld.isEmpty)
    }

    @Test("a replica that answered with nothing learnt for the served version: its events are consumed, not re-sent")
    func emptyAnswerConsumes() throws {
        var m = try Self.machineWithOneEvent()
        let interval = OnlineSettings().syncIntervalMs
        let sync = try Self.pull(&m, at: 1_000 + interval)
        _ = Self.answer(&m, m.workerB, sync: sync, version: 1, nowMs: 2_000 + interval)
        let finished = Self.answer(&m, m.workerA, sync: sync, version: 1, nowMs: 2_000 + interval)
        #expect(finished.markedLearnt == [Self.key])
        #expect(finished.learnt.isEmpty && m.core.view.pendingEvents == 0)
    }

    @Test("freeze keeps the events the replicas were sent since the last sync and sends them after unfreeze")
    func freezeKeepsUnsynced() throws {
        var m = try Self.machineWithOneEvent()
        let requester = Requester(identity: [9], header: Header(command: .control, requestId: 5))
        let frozen = m.feed(.frozenStored(true, requester: requester, .success(())))
        #expect(frozen.markedLearnt.isEmpty && frozen.learnt.isEmpty)
        #expect(m.core.held.map(RecStore.FeedbackKey.init) == [Self.key])
        // While frozen nothing is sent (a frozen replica would drop it), also when a replica leaves.
        _ = m.feed(.workers([m.workerB]))
        #expect(m.feed(.tick, nowMs: 3_000).learnt.isEmpty)
        _ = m.feed(.frozenStored(false, requester: requester, .success(())))
        let resumed = m.feed(.tick, nowMs: 4_000)
        #expect(resumed.learntKeys == [Self.key])
        #expect(m.core.view.pendingEvents == 1)
    }

    @Test("a replica that refused a POLICY delta is sent the whole pack, then its events again")
    func refusedDeltaSendsEventsAgain() throws {
        var m = try Self.machineWithOneEvent()
        _ = m.feed(.tick, nowMs: 1_500)  // the LEARN goes out to w-a
        let report = PolicyStateReport(
            kind: .deltaRefused, sync: 0, version: 1, events: 0, updates: 0, weightsSha256: "", error: "base unknown")
        let refused = m.feed(
            .policyState(
                identity: m.workerA.identity,
                message: WireMessage(header: Header(command: .policyState), payload: [WireJSON.encode(report)])),
            nowMs: 1_600)
        #expect(refused.toWorkers(.policy).map(\.identity) == [m.workerA.identity])
        #expect(m.core.view.pendingEvents == 0)
        let next = m.feed(.tick, nowMs: 1_700)
        #expect(next.learntKeys == [Self.key])
        #expect(m.core.view.pendingEvents == 1)
    }

    @Test("a replica sent again once and then leaving while the version is stored: its events are not handed on")
    func reheldLeaverIsConsumed() throws {
        var m = try Self.machineAfterWorkerAInNoMerge()
        let interval = OnlineSettings().syncIntervalMs
        #expect(m.core.reheld == [Self.key])  // now with w-b
        let second = try Self.pull(&m, at: 3_000 + 2 * interval)
        _ = Self.answer(&m, m.workerA, sync: second, version: 1, events: 1, nowMs: 4_000 + 2 * interval)
        let judged = Self.answer(&m, m.workerB, sync: second, version: 0, nowMs: 4_000 + 2 * interval).judged
        let verdict = m.feed(.verdict(sync: try #require(judged.first).sync, decision: OnlineMachine.admitted))
        #expect(verdict.versionsToStore.map(\.learnt) == [[Self.key]])
        // w-b leaves while the version (whose store marks the event) is written: the event is not handed on.
        _ = m.feed(.workers([m.workerA]))
        let finished = m.feed(.versionStored(sync: second, .success("sha-2")))
        #expect(finished.learntKeys.isEmpty && finished.markedLearnt.isEmpty)
        #expect(m.core.view.pendingEvents == 0 && m.core.held.isEmpty && m.core.reheld.isEmpty)
    }

    @Test("a refused delta that ends a sync: the events go out after the replica's last POLICY, never before it")
    func refusedDeltaDuringPull() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-b", record: m.record("imp-p"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-p", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        let interval = OnlineSettings().syncIntervalMs
        let sync = try Self.pull(&m, at: 1_000 + interval)
        _ = Self.answer(&m, m.workerA, sync: sync, version: 1, nowMs: 2_000 + interval)
        let report = PolicyStateReport(
            kind: .deltaRefused, sync: 0, version: 1, events: 0, updates: 0, weightsSha256: "", error: "base unknown")
        let refused = m.feed(
            .policyState(
                identity: m.workerB.identity,
                message: WireMessage(header: Header(command: .policyState), payload: [WireJSON.encode(report)])),
            nowMs: 2_000 + interval)
        #expect(!m.core.syncing && refused.markedLearnt.isEmpty)
        #expect(refused.learntKeys == [Self.key])
        for worker in [m.workerA, m.workerB] {
            let commands = refused.compactMap { action -> Command? in
                guard case .send(.toWorker(let identity, let frames)) = action, identity == worker.identity else {
                    return nil
                }
                return try? WireMessage(decoding: frames).header.command
            }
            let lastPolicy = commands.lastIndex(of: .policy) ?? -1
            #expect(!commands.prefix(lastPolicy + 1).contains(.learn), "\(worker.id): \(commands)")
        }
        #expect(m.core.view.pendingEvents == 1)
    }

    @Test("many held events go out in LEARN messages of at most learnBatchLimit events, in order")
    func learnIsChunked() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        let count = 2 * OnlineCore.learnBatchLimit + 452
        m.core.held = (0..<count).map {
            LearnEvent(
                impressionId: "imp-\($0)", userFeatures: [:], item: 3, position: 0, reward: 0, propensity: 0.5,
                version: 1)
        }
        let learn = m.feed(.tick, nowMs: 1_500).learnt
        #expect(learn.map(\.events.count) == [OnlineCore.learnBatchLimit, OnlineCore.learnBatchLimit, 452])
        #expect(learn.flatMap(\.events).map(\.impressionId) == (0..<count).map { "imp-\($0)" })
    }
}
