import Testing

@testable import RecTransport

/// A `tcp://` port outside 0…65535 is named before libzmq sees it: libzmq takes `:99999` for a connect and waits for a
/// peer that can never answer, so the command would end as a timeout.
@Suite("tcp ports are checked")
struct EndpointPortTests {
    @Test("ports outside 0…65535, or not a number, are named", arguments: [
        "tcp://127.0.0.1:99999", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:x",
        "tcp://[::1]:70000", "tcp://127.0.0.1:5000;127.0.0.1:99999",
    ])
    func refused(endpoint: String) {
        #expect(ZMQEndpoint.portProblem(endpoint)?.contains("is not 0…65535") == true)
    }

    @Test("valid ports, the wildcard and other transports pass", arguments: [
        "tcp://127.0.0.1:5555", "tcp://*:*", "tcp://127.0.0.1:0", "tcp://[::1]:65535", "ipc:///tmp/x.ipc",
        "inproc://a:99999",
    ])
    func accepted(endpoint: String) {
        #expect(ZMQEndpoint.portProblem(endpoint) == nil)
    }
}
