import RecWire
import Testing

@testable import BrokerCore

/// `requests_<command>` and the `service` label of `recpool_broker_requests_total` name client commands only
/// (docs/OPERATIONS.md lists score, recommend, feedback, status, control, cancel): a worker's command sent to the
/// frontend is answered BAD_REQUEST and counted with the invalid requests, never as `requests_ready`.
@Suite("Broker core: requests are counted by client command")
struct ClientCommandCountTests {
    @Test("READY and HEARTBEAT on the frontend are invalid requests, with no requests_ counter of their own")
    func workerCommandsOnTheFrontend() {
        var h = CoreHarness()
        for (id, command) in [(1, Command.ready), (2, .heartbeat), (3, .weights)] {
            h.feed(
                .client(identity: [9], frames: [Header(command: command, requestId: UInt64(id)).encoded()], userId: nil))
            #expect(h.replies(to: [9], id: UInt64(id)).first?.header.status == .badRequest)
        }
        let values = h.core.counters.values
        #expect(values.keys.filter { $0.hasPrefix("requests_") }.isEmpty, "\(values)")
        #expect(values["invalid_requests"] == 3)
        h.feed(.client(identity: [9], frames: [Header(command: .status, requestId: 4).encoded()], userId: nil))
        #expect(h.core.counters.values["requests_status"] == 1)
    }
}
