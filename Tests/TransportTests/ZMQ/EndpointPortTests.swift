import Testing

@testable import RecTransport

/// A `tcp://` port outside 0…65535 is named before libzmq sees it: libzmq takes `:99999` for a connect and waits for a
/// peer that can never answer, so the command would end as a timeout.
@Suite("tcp ports are checked")
struct EndpointPortTests {
    @Test("ports outside 0…65535, or not a number, are named", arguments: [
        "tcp://127.0.0.1:99999", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:x",
        "tcp://[::1]:70000", "tcp://127.0.0.1:5000;127.0.0.1:99999",
        // `Int` reads these; libzmq refuses them at run time (EINVAL, exit 70).
        "tcp://127.0.0.1:+45101", "tcp://127.0.0.1: 5555", "tcp://127.0.0.1:",
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

    @Test("an endpoint libzmq would refuse with a bare EINVAL is named: no transport, no address, no tcp port",
          arguments: [
              ("foo", "expected tcp://HOST:PORT"), ("ipc://", "expected tcp://HOST:PORT"),
              ("http://127.0.0.1:80", "expected tcp://HOST:PORT"), ("5", "expected tcp://HOST:PORT"),
              ("tcp://127.0.0.1", "a tcp endpoint needs a port"), ("tcp://127.0.0.1:99999", "is not 0…65535"),
              // Transports this libzmq does not support passed and failed the bind or connect ("Protocol not supported").
              ("ws://127.0.0.1:5555", "expected tcp://HOST:PORT"), ("wss://127.0.0.1:5555", "expected tcp://HOST:PORT"),
              ("vmci://1:2", "expected tcp://HOST:PORT"),
          ])
    func malformed(endpoint: String, says: String) {
        #expect(ZMQEndpoint.problem(endpoint)?.contains(says) == true, "\(endpoint)")
    }

    /// `recpool-worker --broker tcp://127.0.0.1:0` reconnected forever and `recpool health` timed out (exit 3).
    @Test("a connect to port 0 or * is refused, naming why; a bind to them is not", arguments: [
        "tcp://127.0.0.1:0", "tcp://localhost:*", "tcp://[::1]:0",
    ])
    func connectToAnyPort(endpoint: String) {
        #expect(ZMQEndpoint.problem(endpoint) == nil)
        #expect(
            ZMQEndpoint.problem(endpoint, connecting: true)?.contains("picks a free port when binding") == true,
            "\(endpoint)")
        #expect(ZMQEndpoint.problem("tcp://127.0.0.1:5555", connecting: true) == nil)
        #expect(ZMQEndpoint.problem("ipc:///tmp/x:0", connecting: true) == nil)
    }

    /// `recpool-worker --broker ipc:///tmp/aaa…` (120 bytes) passed its check and failed its connect at run time with
    /// "File name too long" (exit 70, restarted for ever by its unit).
    @Test("a connect to an ipc path longer than a Unix socket's address holds is refused; one that fits is not")
    func longSocketPath() {
        let limit = ZMQEndpoint.maximumIPCPathBytes
        #expect(limit == 107)
        let fits = "ipc:///" + String(repeating: "a", count: limit - 1)
        let long = "ipc:///" + String(repeating: "a", count: limit)
        #expect(ZMQEndpoint.problem(fits, connecting: true) == nil)
        #expect(ZMQEndpoint.problem(long, connecting: true)?.contains("more than the 107 a Unix socket's path may hold") == true)
        // A bind names the path problem itself when it fails (the broker's exit 73).
        #expect(ZMQEndpoint.problem(long) == nil)
    }

    /// `recpool-worker --broker 'tcp://*:7599'` passed its check and failed its connect at run time (exit 70, which a
    /// service manager restarts for ever); `tcp://:7599` was said to need a port.
    @Test("a tcp endpoint with no host is named as such; a connect to host * is refused, a bind to it is not")
    func hosts() {
        for endpoint in ["tcp://:7599", "tcp://127.0.0.1:5000;:7599"] {
            #expect(ZMQEndpoint.problem(endpoint)?.contains("needs a host before its port") == true, "\(endpoint)")
            #expect(ZMQEndpoint.problem(endpoint, connecting: true)?.contains("needs a host before its port") == true)
        }
        #expect(ZMQEndpoint.problem("tcp://*:7599") == nil)
        #expect(ZMQEndpoint.problem("tcp://*:7599", connecting: true)?.contains("host * binds every interface") == true)
        #expect(ZMQEndpoint.problem("tcp://localhost:7599", connecting: true) == nil)
        #expect(ZMQEndpoint.problem("tcp://[::1]:7599", connecting: true) == nil)
    }

    @Test("every transport RecPool's sockets use passes", arguments: [
        "tcp://127.0.0.1:5555", "tcp://*:*", "ipc:///tmp/x.ipc", "ipc://state/workers.ipc", "inproc://a",
    ])
    func wellFormed(endpoint: String) {
        #expect(ZMQEndpoint.problem(endpoint) == nil)
    }
}
