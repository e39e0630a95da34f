import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// `pending_events` (the online view in `status` and `recpool online status`) counts each learn event once, however
/// often it is handed from replica to replica before a sync.
@Suite("Online core: the pending events figure")
struct PendingEventsCountTests {
    /// Logs impression `id` served by `worker` and commits a click on item 3 of it.
    static func clicked(_ m: inout OnlineMachine, _ id: String, worker: String) {
        _ = m.feed(.impression(worker: worker, record: m.record(id), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback(id, item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
    }

    @Test("events handed on from a learner that left count once, not once per learner")
    func handedOnEventsCountOnce() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        Self.clicked(&m, "imp-a1", worker: "w-a")
        Self.clicked(&m, "imp-a2", worker: "w-a")
        Self.clicked(&m, "imp-b1", worker: "w-b")
        #expect(m.core.view.pendingEvents == 3)
        #expect(m.feed(.tick).toWorkers(.learn).count == 2)  // each learner got its own events
        // w-a leaves before any sync: its two unsynced events go to w-b, and are still two events.
        let handedOn = m.feed(.workers([m.workerB]))
        let learns = handedOn.toWorkers(.learn) + m.feed(.tick).toWorkers(.learn)
        let events = try learns.flatMap { try WireJSON.decode(LearnBatch.self, from: $0.message.frame(0)).events }
        #expect(Set(events.map(\.impressionId)) == ["imp-a1", "imp-a2"])
        #expect(learns.allSatisfy { $0.identity == m.workerB.identity })
        #expect(m.core.view.pendingEvents == 3)
    }

    @Test("events handed on while no learner is left count once when a learner comes")
    func heldThenDeliveredCountOnce() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        Self.clicked(&m, "imp-1", worker: "w-a")
        #expect(m.core.view.pendingEvents == 1)
        _ = m.feed(.workers([]))
        _ = m.feed(.workers([m.workerB]))
        _ = m.feed(.tick)
        #expect(m.core.view.pendingEvents == 1)
    }
}
