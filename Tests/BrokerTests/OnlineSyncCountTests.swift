import Foundation
import RecPolicy
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Every finished sync counts in exactly one of `syncs`, `rejected` and `empty_syncs`, and sets `last_sync_ms`.
@Suite("Online core: what each finished sync counts")
struct OnlineSyncCountTests {
    /// A client's `online_sync`.
    static func syncRequest(_ m: inout OnlineMachine, nowMs: UInt64) -> [OnlineAction] {
        m.feed(
            .control(
                identity: [9], header: Header(command: .control, requestId: 3),
                request: ControlRequest(op: "online_sync")),
            nowMs: nowMs)
    }

    /// The online view the client's `online_sync` was answered with.
    static func answeredView(_ actions: [OnlineAction]) throws -> OnlineView {
        let reply = try #require(actions.clientReplies.first { $0.header.requestId == 3 })
        #expect(reply.header.status == .ok)
        return try WireJSON.decode(OnlineView.self, from: reply.frame(0))
    }

    /// `sync` of `m`'s running pull.
    static func runningSync(_ m: OnlineMachine) throws -> UInt64 {
        guard case .pulling(let round, _, _) = m.core.phase else { throw CancellationError() }
        return round.id
    }

    /// A replica's POLICY_STATE `sync` that learnt from `events` events since version `version`.
    static func report(_ sync: UInt64, events: Int, version: UInt64 = 1) -> WireMessage {
        let state = PolicyStateReport(
            kind: .sync, sync: sync, version: version, events: events, updates: 0, weightsSha256: "sha-1")
        return WireMessage(
            header: Header(command: .policyState, requestId: sync), payload: [WireJSON.encode(state), []])
    }

    @Test("online_sync with no pending events: an empty sync, neither accepted nor rejected, with last_sync_ms set")
    func emptySyncWithAReplica() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        #expect(Self.syncRequest(&m, nowMs: 5_000).toWorkers(.policyPull).map(\.identity) == [m.workerA.identity])
        let sync = try Self.runningSync(m)
        let done = m.feed(
            .policyState(identity: m.workerA.identity, message: Self.report(sync, events: 0)), nowMs: 5_100)
        let view = try Self.answeredView(done)
        #expect(view.syncs == 0 && view.rejected == 0 && view.emptySyncs == 1)
        #expect(view.lastSyncMs == 5_100 && view.lastDecision == nil && !view.syncing)
        #expect(m.core.view == view)
        // Its JSON says so too.
        let json = String(decoding: WireJSON.encode(view), as: UTF8.self)
        #expect(json.contains("\"empty_syncs\":1") && json.contains("\"syncs\":0") && json.contains("\"rejected\":0"))
    }

    @Test("a replica that learnt only on an older version contributes nothing: an empty sync")
    func learningOnAnOlderVersionIsEmpty() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = Self.syncRequest(&m, nowMs: 5_000)
        let sync = try Self.runningSync(m)
        let done = m.feed(
            .policyState(identity: m.workerA.identity, message: Self.report(sync, events: 4, version: 0)), nowMs: 5_200)
        let view = try Self.answeredView(done)
        #expect(view.syncs == 0 && view.rejected == 0 && view.emptySyncs == 1 && view.lastSyncMs == 5_200)
    }

    @Test("online_sync with no live replica ends at once as an empty sync")
    func emptySyncWithoutReplicas() throws {
        var m = try OnlineMachine()
        let view = try Self.answeredView(Self.syncRequest(&m, nowMs: 7_000))
        #expect(view.syncs == 0 && view.rejected == 0 && view.emptySyncs == 1 && view.lastSyncMs == 7_000)
    }

    /// After a restart the broker holds acknowledged events until a replica registers: an `online_sync` then was
    /// answered OK as an empty sync, having merged none of them.
    @Test("online_sync with no live replica and held events is CONFLICT naming them; the periodic sync still ends empty")
    func noReplicaWithHeldEvents() throws {
        var m = try OnlineMachine()
        m.core.held = (0..<29).map {
            LearnEvent(
                impressionId: "imp-\($0)", userFeatures: [:], item: 3, position: 0, reward: 0, propensity: 0.5,
                version: 1)
        }
        let actions = Self.syncRequest(&m, nowMs: 7_000)
        let reply = try #require(actions.clientReplies.first { $0.header.requestId == 3 })
        #expect(reply.header.status == .conflict)
        #expect(
            String(decoding: try reply.frame(0), as: UTF8.self).contains(
                "no replica serves the online policy: 29 acknowledged feedback events wait for one to learn them"))
        #expect(m.core.held.count == 29 && m.core.view.emptySyncs == 0 && !m.core.view.syncing)
    }

    /// The only replica left during the pull (SIGSTOPped, then expired) and its learning went back to `held`: the sync
    /// answered OK "nothing to merge" while those acknowledged events waited.
    @Test("a sync whose replicas all leave during the pull, with events waiting for one, is CONFLICT naming them")
    func replicasLeaveDuringThePull() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = Self.syncRequest(&m, nowMs: 5_000)
        #expect(m.core.view.syncing)
        // The replica had learnt 150 events it never answered for.
        m.core.unsynced[m.workerA.identity] = (0..<150).map {
            LearnEvent(
                impressionId: "imp-\($0)", userFeatures: [:], item: 3, position: 0, reward: 0, propensity: 0.5,
                version: 1)
        }
        let actions = m.feed(.workers([]), nowMs: 5_100)
        let reply = try #require(actions.clientReplies.first { $0.header.requestId == 3 })
        #expect(reply.header.status == .conflict)
        #expect(
            String(decoding: try reply.frame(0), as: UTF8.self).contains(
                "the replicas left during the sync: 150 acknowledged feedback events they had learnt wait"))
        #expect(!m.core.view.syncing && m.core.held.count == 150 && m.core.view.emptySyncs == 0)
    }

    /// Feedback acknowledged during the pull is no event the sync owed: a replica that had learnt nothing and left
    /// leaves an empty sync, OK, whatever arrived meanwhile.
    @Test("a sync whose replica left having learnt nothing is an empty sync, OK, though feedback arrived during the pull")
    func replicaWithNothingLearntLeaves() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = Self.syncRequest(&m, nowMs: 5_000)
        m.core.held = (0..<20).map {
            LearnEvent(
                impressionId: "new-\($0)", userFeatures: [:], item: 3, position: 0, reward: 0, propensity: 0.5,
                version: 1)
        }
        let actions = m.feed(.workers([]), nowMs: 5_100)
        let reply = try #require(actions.clientReplies.first { $0.header.requestId == 3 })
        #expect(reply.header.status == .ok && m.core.view.emptySyncs == 1)
    }

    /// The only report of learnt events was refused (no readable pack, or no pack): the sync answered OK "nothing
    /// to merge" and counted an empty sync, while the 7 events it had learnt went to the replicas again.
    @Test("a sync whose only learnt report is refused is CONFLICT naming its events, and no empty sync", arguments: [true, false])
    func refusedReportIsNoEmptySync(withPackFrame: Bool) throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = Self.syncRequest(&m, nowMs: 5_000)
        let sync = try Self.runningSync(m)
        m.core.unsynced[m.workerA.identity] = (0..<7).map {
            LearnEvent(
                impressionId: "imp-\($0)", userFeatures: [:], item: 3, position: 0, reward: 1, propensity: 0.5,
                version: 1)
        }
        var report = Self.report(sync, events: 7)
        if !withPackFrame { report = WireMessage(header: report.header, payload: [report.payload[0]]) }
        let actions = m.feed(.policyState(identity: m.workerA.identity, message: report), nowMs: 5_200)
        let reply = try #require(actions.clientReplies.first { $0.header.requestId == 3 })
        #expect(reply.header.status == .conflict)
        #expect(
            String(decoding: try reply.frame(0), as: UTF8.self).contains(
                "the replicas' sync reports were refused (the broker's log says why): 7 acknowledged feedback events"))
        #expect(!m.core.view.syncing && m.core.view.emptySyncs == 0 && m.core.view.syncs == 0)
    }

    @Test("a rejected candidate counts in rejected only, an accepted one in syncs only")
    func rejectedAndAcceptedAreNotEmpty() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = Self.syncRequest(&m, nowMs: 5_000)
        var sync = try Self.runningSync(m)
        let pack = PolicyWeights.pack(m.core.policy)
        let learnt = WireMessage(
            header: Header(command: .policyState, requestId: sync),
            payload: [
                WireJSON.encode(
                    PolicyStateReport(
                        kind: .sync, sync: sync, version: 1, events: 2, updates: 1,
                        weightsSha256: PolicyWeights.sha256(of: pack.encoded()))),
                pack.encoded(),
            ])
        #expect(m.feed(.policyState(identity: m.workerA.identity, message: learnt)).judged.count == 1)
        let refusal = GuardDecision(
            accepted: false, reason: "rejected: worse", candidateValue: 0.1, currentValue: 0.2, margin: 0.01, rows: 300,
            atMs: 6_000)
        let rejected = try Self.answeredView(m.feed(.verdict(sync: sync, decision: refusal), nowMs: 6_000))
        #expect(
            rejected.syncs == 0 && rejected.rejected == 1 && rejected.emptySyncs == 0 && rejected.lastSyncMs == 6_000)

        _ = Self.syncRequest(&m, nowMs: 7_000)
        sync = try Self.runningSync(m)
        var again = learnt
        again.header.requestId = sync
        again.payload[0] = WireJSON.encode(
            PolicyStateReport(
                kind: .sync, sync: sync, version: 1, events: 2, updates: 1,
                weightsSha256: PolicyWeights.sha256(of: pack.encoded())))
        #expect(m.feed(.policyState(identity: m.workerA.identity, message: again)).judged.count == 1)
        let stored = try #require(m.feed(.verdict(sync: sync, decision: OnlineMachine.admitted)).versionsToStore.first)
        let accepted = try Self.answeredView(
            m.feed(.versionStored(sync: sync, .success(PolicyWeights.sha256(of: stored.pack))), nowMs: 8_000))
        #expect(
            accepted.syncs == 1 && accepted.rejected == 1 && accepted.emptySyncs == 0 && accepted.lastSyncMs == 8_000)
    }

    @Test("a view from a broker without empty_syncs decodes with 0 there")
    func olderViewDecodes() throws {
        let view = try OnlineMachine().core.view
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(WireJSON.encode(view))) as? [String: Any])
        object["empty_syncs"] = nil
        let older = try JSONSerialization.data(withJSONObject: object)
        #expect(try WireJSON.decode(OnlineView.self, from: Array(older)).emptySyncs == 0)
    }
}
