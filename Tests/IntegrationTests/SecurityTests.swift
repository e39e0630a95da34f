import Foundation
import RecClient
import RecTransport
import RecWire
import RecTestKit
import Testing

/// CURVE key material for one secured cluster, written by `recpool keygen` into a temporary folder.
struct SecuredKeys {
    let directory: URL

    init() throws {
        directory = try TemporaryDirectory("keys").url
        for name in ["broker", "worker", "client", "trainer", "stranger"] {
            let result = try runTool("recpool", ["keygen", "--out", directory.path, "--name", name])
            guard result.code == 0 else { throw ClusterError.brokerDidNotStart }
        }
    }

    func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    /// Broker flags: its own key and one allow-list per role.
    var brokerArguments: [String] {
        [
            "--curve-key", path("broker.key"), "--allow-clients", path("client.pub"),
            "--allow-trainers", path("trainer.pub"), "--allow-workers", path("worker.pub"),
            "--state-dir", path("state"),
        ]
    }

    /// Worker flags authenticating as `name`.
    func workerArguments(as name: String = "worker") -> [String] {
        ["--curve-server-key", path("broker.pub"), "--curve-key", path("\(name).key")]
    }

    /// Socket options for a peer authenticating as `name`.
    func options(as name: String) throws -> [SocketOption] {
        try CurveKeyFile.clientOptions(serverKeyPath: path("broker.pub"), keyPath: path("\(name).key"))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

extension ProcessCluster {
    /// Connects a client with extra socket options (CURVE keys).
    func client(socketOptions: [SocketOption], timeoutMs: UInt64 = 5000) async throws -> RecPoolClient {
        var options = RecPoolClient.Options()
        options.timeoutMs = timeoutMs
        options.socketOptions = socketOptions
        return try await RecPoolClient(endpoint: endpoints.frontend, options: options)
    }
}

@Suite("CurveZMQ and ZAP", .serialized)
struct SecurityTests {
    static let row: [Float] = (0..<106).map { Float($0 % 7) / 7 }

    /// A secured broker with one allow-listed worker, and a trainer client that saw it register.
    func securedCluster(_ keys: SecuredKeys) async throws -> ProcessCluster {
        let cluster = ProcessCluster()
        try cluster.startBroker(extra: keys.brokerArguments)
        try cluster.startWorker("w1", extra: keys.workerArguments())
        let trainer = try await cluster.client(socketOptions: try keys.options(as: "trainer"))
        defer { trainer.close() }
        _ = try await cluster.waitForStatus(trainer) { $0.workers.count == 1 }
        return cluster
    }

    /// Runs `body` against ``securedCluster(_:)`` with a client connected under the client role's key;
    /// the client, the processes and the key files are cleaned up afterwards, even when `body` throws.
    func withSecuredPool(_ body: (SecuredKeys, ProcessCluster, RecPoolClient) async throws -> Void) async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        let cluster = try await securedCluster(keys)
        defer { cluster.stop() }
        let client = try await cluster.client(socketOptions: try keys.options(as: "client"))
        defer { client.close() }
        try await body(keys, cluster, client)
    }

    @Test("an allow-listed client scores, and its connection really uses CURVE")
    func allowedClientScores() async throws {
        try await withSecuredPool { keys, cluster, client in
            let scores = try await client.score(rows: [Self.row])
            #expect(scores.values.count == 1)

            // A raw DEALER with the same keys: after a reply, ZMQ_MECHANISM reports CURVE.
            let context = ZMQContext()
            let socket = try ZMQSocket(context, type: .dealer)
            defer { socket.close() }
            for option in try keys.options(as: "client") { try socket.set(option) }
            try socket.connect(cluster.endpoints.frontend)
            try socket.send(WireMessage(header: Header(command: .status, requestId: 9)).frames())
            let reply = try #require(try receive(socket, timeoutMs: 5000))
            #expect(try WireMessage(decoding: reply.frames).header.status == .ok)
            #expect(try socket.usesCurve())
        }
    }

    @Test(
        "a client with no key, a key not on the allow-list or another broker's key is told why its handshake failed, not left to time out"
    )
    func strangersAreToldWhy() async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        let cluster = try await securedCluster(keys)
        defer { cluster.stop() }
        // A long timeout: the refusal must fail the call at once, not at its deadline.
        let plain = try await cluster.client(timeoutMs: 5_000)
        defer { plain.close() }
        let stranger = try await cluster.client(socketOptions: try keys.options(as: "stranger"), timeoutMs: 60_000)
        defer { stranger.close() }
        let endpoint = cluster.endpoints.frontend
        let started = ContinuousClock.now
        // Without keys: the mechanism mismatch (at once), or, when the broker closes the connection before the
        // client reads its greeting (a few runs in a hundred), the closed greeting at the deadline; never a bare timeout.
        let mismatch = await clientError { try await plain.score(rows: [Self.row]) }
        switch mismatch {
        case .handshakeFailed(endpoint, .protocolError(ZMQMonitorEvent.mechanismMismatch))?:
            #expect(mismatch?.description.contains("only one side uses CURVE") == true)
        case .handshakeFailed(endpoint, .closedDuringGreeting)?:
            #expect(mismatch?.description.contains("it requires CURVE") == true)
        default:
            Issue.record("expected the mechanism mismatch, got \(String(describing: mismatch))")
        }
        let refused = await clientError { try await stranger.score(rows: [Self.row]) }
        #expect(refused == .handshakeFailed(endpoint: endpoint, .refused(zapStatus: 400)))
        #expect(refused?.description.contains("allow-list") == true)
        #expect(ContinuousClock.now - started < .seconds(50), "neither waited for its deadline")
        // The CLI says the same and exits 17, as for UNAUTHORIZED (docs/OPERATIONS.md, "Exit codes").
        let cli = try runTool(
            "recpool",
            [
                "status", "--broker", endpoint, "--curve-server-key", keys.path("broker.pub"),
                "--curve-key", keys.path("stranger.key"), "--timeout-ms", "60000",
            ])
        #expect(cli.code == 17, "\(cli.stderr)")
        #expect(cli.stderr.contains("refused this client's CURVE key"), "\(cli.stderr)")

        // A CURVE client pinning another server key: the broker cannot open its HELLO and closes the
        // connection; libzmq keeps retrying, so the call ends at its deadline, saying why.
        let wrongServer = try await cluster.client(
            socketOptions: try CurveKeyFile.clientOptions(
                serverKeyPath: keys.path("stranger.pub"), keyPath: keys.path("client.key")),
            timeoutMs: 800)
        defer { wrongServer.close() }
        let closed = await clientError { try await wrongServer.score(rows: [Self.row]) }
        guard case .handshakeFailed(endpoint, .closedDuringHandshake)? = closed else {
            Issue.record("expected the closed handshake, got \(String(describing: closed))")
            return
        }
        #expect(closed?.description.contains("--curve-server-key") == true)
    }

    @Test("a client key cannot register a worker: the broker never answers its READY")
    func clientKeyCannotRegister() async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        let cluster = try await securedCluster(keys)
        defer { cluster.stop() }
        // A raw DEALER on the backend presenting the client's key. A registered worker is sent a
        // HEARTBEAT at once; this one is refused in the handshake and hears nothing.
        let context = ZMQContext()
        let socket = try ZMQSocket(context, type: .dealer)
        defer { socket.close() }
        for option in try keys.options(as: "client") { try socket.set(option) }
        try socket.connect(cluster.endpoints.backend)
        let hello = WorkerHello(
            workerId: "intruder", services: ["SCORE"], slots: 8, inputWidth: 106, modelVersion: 0, host: "x", pid: 1)
        try socket.send(
            WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(), dontWait: true)
        #expect(try receive(socket, timeoutMs: 1500) == nil)
        // The raw DEALER would go on reconnecting and being refused, so the counter below could rise on its
        // refusals alone: close it first.
        socket.close()
        // And a real worker process started with a client key never shows up: once the broker has
        // refused its handshake (its own log says so), it is still not among the workers.
        let trainer = try await cluster.client(socketOptions: try keys.options(as: "trainer"))
        defer { trainer.close() }
        let refusedBefore = try await trainer.status().counters["refused_handshakes", default: 0]
        let log = keys.directory.appendingPathComponent("intruder2.log")
        cluster.workerLogs["intruder2"] = log
        try cluster.startWorker("intruder2", extra: keys.workerArguments(as: "client"))
        // The worker says so when it gives up on a silent broker and reconnects (heartbeat liveness, then backoff): under
        // ThreadSanitizer that took over 30 s once in CI.
        try await eventually(timeoutMs: 90_000, pollMs: 100, "intruder2 logs that the broker refused its key") {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("the broker refused this worker's CURVE key")
        }
        let status = try await cluster.waitForStatus(trainer) {
            $0.counters["refused_handshakes", default: 0] > refusedBefore
        }
        #expect(status.workers.map(\.id) == ["w1"])
    }

    @Test("the client role gets UNAUTHORIZED for train and promote; the trainer role passes the check")
    func rolesAreEnforced() async throws {
        try await withSecuredPool { keys, cluster, client in
            let trainer = try await cluster.client(socketOptions: try keys.options(as: "trainer"))
            defer { trainer.close() }

            let promote = ControlRequest(op: "promote", version: 42)
            let train = ControlRequest(op: "train")
            for request in [promote, train, ControlRequest(op: "rollback"), ControlRequest(op: "import")] {
                let refused = await serverError { try await client.control(request, as: ModelView.self) }
                #expect(refused?.status == .unauthorized, "client \(request.op)")
            }
            // Read-only control and scoring are fine for a client.
            let models = try await client.control(ControlRequest(op: "models"), as: ModelListReply.self)
            #expect(models.models.isEmpty)
            _ = try await client.score(rows: [Self.row])
            // The trainer gets past the role check: version 42 does not exist.
            let missing = await serverError { try await trainer.control(promote, as: ModelView.self) }
            #expect(missing?.status == .notFound)
        }
    }

    @Test("a broker on a non-loopback endpoint without keys refuses to start unless --insecure")
    func refusesPlaintextOnTheNetwork() throws {
        let refused = try runTool(
            "recpool-broker", ["--frontend", "tcp://0.0.0.0:0", "--backend", "tcp://127.0.0.1:0", "--exit-with-parent"])
        #expect(refused.code != 0)
        #expect(refused.stderr.contains("loopback"))
    }
}

/// Receives one message on a raw socket within `timeoutMs`, or `nil`.
func receive(_ socket: ZMQSocket, timeoutMs: Int) throws -> ZMQMessage? {
    var poller = ZMQPoller([PollItem(socket: socket)])
    let start = Clocks.monotonicMicros()
    while Clocks.monotonicMicros() - start < UInt64(timeoutMs) * 1000 {
        try poller.poll(timeoutMilliseconds: 50)
        if let message = try socket.receive(dontWait: true) { return message }
    }
    return nil
}
