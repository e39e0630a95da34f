import RecTransport
import Testing

@testable import Worker

/// A plaintext worker against a CURVE broker (and the reverse) logged "handshake failed", status 285212674, and asked
/// whether its public key was on the allow-list: it had no key. Each failure the monitor reports is named.
@Suite("Worker: why a handshake with the broker failed")
struct HandshakeCauseTests {
    @Test("each monitor event and value is named with its usual fix", arguments: [
        (ZMQMonitorEvents.handshakeFailedProtocol, ZMQMonitorEvent.mechanismMismatch, "only one side uses CURVE"),
        (ZMQMonitorEvents.handshakeFailedProtocol, ZMQMonitorEvent.cryptographic, "did not open"),
        (ZMQMonitorEvents.handshakeFailedProtocol, UInt32(0x1000_0003), "error 0x10000003"),
        (ZMQMonitorEvents.handshakeFailedAuth, UInt32(400), "refused this worker's CURVE key (ZAP status 400)"),
        // With keys, a worker pointed at the client port is refused by the clients' list: the port is named as a cause.
        (ZMQMonitorEvents.handshakeFailedAuth, UInt32(400), "is --broker the broker's worker (backend) endpoint"),
        (ZMQMonitorEvents.handshakeFailedNoDetail, UInt32(104), "closed the connection during the handshake (errno 104)"),
    ])
    func named(event: ZMQMonitorEvents, value: UInt32, says: String) {
        let text = WorkerSession.handshakeCause(event: event, value: value)
        #expect(text.contains(says), "\(text)")
        #expect(!text.contains("285212674"))
    }

    @Test("a mechanism mismatch gives no advice about allow-lists")
    func mismatchIsNotAboutKeys() {
        let text = WorkerSession.handshakeCause(
            event: .handshakeFailedProtocol, value: ZMQMonitorEvent.mechanismMismatch)
        #expect(!text.contains("allow-list"))
    }
}
