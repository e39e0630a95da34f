import RecPolicy
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// `online_sync` while a sync is out: the request waits for the next sync, which starts as soon as that one ends.
@Suite("Online core: online_sync during a sync")
struct OnlineSyncRequestTests {
    static func request(_ id: UInt64, corrupt: String? = nil) -> OnlineEvent {
        .control(
            identity: [9], header: Header(command: .control, requestId: id),
            request: ControlRequest(op: "online_sync", corrupt: corrupt), bytes: nil)
    }

    /// The request ids answered by `actions`, with their statuses.
    static func answered(_ actions: [OnlineAction]) -> [UInt64: Status] {
        Dictionary(actions.clientReplies.map { ($0.header.requestId, $0.header.status) }, uniquingKeysWith: { a, _ in a })
    }

    /// Answers the running pull from every live replica with nothing learnt.
    static func answerPull(_ m: inout OnlineMachine, nowMs: UInt64) throws -> [OnlineAction] {
        guard case .pulling(let round, let pending, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            throw CancellationError()
        }
        var actions: [OnlineAction] = []
        for worker in [m.workerA, m.workerB] where pending.contains(worker.identity) {
            actions += OnlineSyncPartitionTests.answer(&m, worker, sync: round.id, version: 1, nowMs: nowMs)
        }
        return actions
    }

    @Test("a request during a sync is answered by the next sync, which starts when that one ends")
    func waitsForTheNextSync() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(Self.request(1))
        #expect(m.core.syncing)
        let waiting = m.feed(Self.request(2))
        #expect(waiting.clientReplies.isEmpty && m.core.waitingSyncs.count == 1)
        _ = m.feed(Self.request(3))  // a third waits for the same next sync
        let firstDone = try Self.answerPull(&m, nowMs: 3_000)
        #expect(Self.answered(firstDone) == [1: .ok])
        // The next sync is already out: its pulls follow the first sync's installs.
        #expect(m.core.syncing && Set(firstDone.toWorkers(.policyPull).map(\.identity)).count == 2)
        let secondDone = try Self.answerPull(&m, nowMs: 4_000)
        #expect(Self.answered(secondDone) == [2: .ok, 3: .ok])
        let view = try WireJSON.decode(OnlineView.self, from: try #require(secondDone.clientReplies.first).frame(0))
        #expect(view.emptySyncs == 2 && !view.syncing)
        #expect(!m.core.syncing && m.core.waitingSyncs.isEmpty)
    }

    @Test("a request waiting when learning is frozen is refused CONFLICT, as one made then would be")
    func frozenMeanwhileIsRefused() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = m.feed(Self.request(1))
        _ = m.feed(Self.request(2))
        let requester = Requester(identity: [8], header: Header(command: .control, requestId: 5))
        // The freeze waits for the sync that is pulling (its version would be served after the freeze's answer
        // otherwise); when that sync ends the freeze takes effect, and the waiting request then meets a frozen pool.
        let waited = m.feed(.frozenStored(true, requester: requester, .success(())))
        #expect(Self.answered(waited).isEmpty && !m.core.frozen)
        let frozen = try Self.answerPull(&m, nowMs: 3_000)
        #expect(Self.answered(frozen) == [1: .ok, 2: .conflict, 5: .ok])
        #expect(frozen.clientReplies.contains { $0.errorText?.contains("online learning is frozen") == true })
        #expect(m.core.frozen && !m.core.syncing && m.core.waitingSyncs.isEmpty)
    }

    @Test("fault injection during a sync is refused CONFLICT; past the cap, waiting requests are refused CONFLICT")
    func refusals() throws {
        var settings = OnlineSettings()
        settings.allowFaultInjection = true
        var m = try OnlineMachine(settings: settings)
        _ = m.feed(.workers([m.workerA]))
        _ = m.feed(Self.request(1))
        #expect(Self.answered(m.feed(Self.request(2, corrupt: "noise"))) == [2: .conflict])
        for id in 0..<UInt64(OnlineCore.maxWaitingSyncs) { _ = m.feed(Self.request(100 + id)) }
        let refused = m.feed(Self.request(999))
        #expect(Self.answered(refused) == [999: .conflict])
        let text = refused.clientReplies.first?.errorText ?? ""
        // Worded as the client's onlineSync retries it.
        #expect(text.contains("a sync is already in progress") && text.contains("already wait for the next one"), "\(text)")
    }
}
