import Testing

@testable import BrokerCore
@testable import RecWire

/// A HEARTBEAT's load frame that does not decode leaves the worker's record as it was, and is counted.
@Suite("Heartbeat load frames at the broker's boundary")
struct HeartbeatLoadTests {
    @Test("an undecodable load frame is counted as a malformed worker message; slots and width are unchanged")
    func undecodableLoadIsCounted() {
        var h = CoreHarness()
        h.registerWorker([0xA], slots: 4)
        let before = h.core.counters[.malformedWorkerMessages]
        h.feed(
            .worker(
                identity: [0xA], frames: [Header(command: .heartbeat).encoded(), [1, 2, 3]], peerAddress: nil))
        #expect(h.core.counters[.malformedWorkerMessages] == before + 1)
        #expect(h.core.workers[[0xA]]?.slots == 4 && h.core.workers[[0xA]]?.inputWidth == 2)
        // A heartbeat with no load frame (an older worker) is not malformed.
        h.feed(.worker(identity: [0xA], frames: [Header(command: .heartbeat).encoded()], peerAddress: nil))
        #expect(h.core.counters[.malformedWorkerMessages] == before + 1)
    }
}
