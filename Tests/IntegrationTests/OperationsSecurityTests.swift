import Foundation
import RecClient
import RecTransport
import RecWire
import RecTestKit
import Testing

/// docs/SECURITY.md's operational promises, each on real broker and worker processes: loopback
/// names that bind, key files ssh would refuse, SIGHUP, empty allow-lists, and the open-file limit.
@Suite("Security and operations without surprises", .serialized)
struct OperationsSecurityTests {
    static let row: [Float] = (0..<106).map { Float($0 % 7) / 7 }

    /// Polls `file` until it contains `text`, for up to `timeoutMs`.
    static func waitForLog(_ file: URL, _ text: String, timeoutMs: UInt64 = 15_000) -> Bool {
        eventuallyBlocking(timeoutMs: timeoutMs, pollMs: 50) {
            (try? String(contentsOf: file, encoding: .utf8))?.contains(text) == true
        }
    }

    /// Whether process `pid` still runs (and is not a zombie).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }

    /// A `tcp://HOST:PORT` endpoint with its host replaced.
    static func endpoint(_ endpoint: String, host: String) -> String {
        let port = endpoint.split(separator: ":").last!
        return "tcp://\(host):\(port)"
    }

    @Test("the broker binds tcp://localhost and tcp://[::1]; workers, clients and the CLI connect through either")
    func loopbackNamesBind() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(frontend: "tcp://[::1]:*", backend: "tcp://localhost:*")
        #expect(cluster.endpoints.frontend.hasPrefix("tcp://[::1]:"))
        #expect(cluster.endpoints.backend.hasPrefix("tcp://127.0.0.1:"))
        try cluster.startWorker(
            "w1",
            arguments: [
                "--broker", Self.endpoint(cluster.endpoints.backend, host: "localhost"), "--id", "w1",
                "--exit-with-parent", "--log-level", "warning",
            ])
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(try await client.score(rows: [Self.row]).values.count == 1)
        let status = try runTool("recpool", ["status", "--broker", cluster.endpoints.frontend])
        #expect(status.code == 0, "\(status.stderr)")
        #expect(status.stdout.contains("w1"))

        // And the other way round: an IPv6 backend that a worker reaches as [::1], a localhost frontend.
        let second = ProcessCluster()
        defer { second.stop() }
        try second.startBroker(frontend: "tcp://localhost:*", backend: "tcp://[::1]:*")
        try second.startWorker("w2")
        var options = RecPoolClient.Options()
        options.timeoutMs = 5000
        let viaName = try await RecPoolClient(
            endpoint: Self.endpoint(second.endpoints.frontend, host: "localhost"), options: options)
        defer { viaName.close() }
        _ = try await second.waitForStatus(viaName) { $0.workers.count == 1 }
        #expect(try await viaName.score(rows: [Self.row]).values.count == 1)
    }

    @Test(
        "a secret key file its group or others may access stops the broker, the worker and the CLI unless --allow-open-key-file",
        arguments: [0o644, 0o666, 0o640])
    func openKeyFilesAreRefused(mode: Int) async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        for name in ["broker", "worker", "client"] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: keys.path("\(name).key"))
        }
        let broker = try runTool(
            "recpool-broker",
            ["--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--exit-with-parent"]
                + keys.brokerArguments)
        #expect(broker.code == 66)
        #expect(broker.stderr.contains("too open") && broker.stderr.contains("broker.key"), "\(broker.stderr)")
        let worker = try runTool(
            "recpool-worker", ["--broker", "tcp://127.0.0.1:9", "--exit-with-parent"] + keys.workerArguments())
        #expect(worker.code == 66)
        #expect(worker.stderr.contains("too open"), "\(worker.stderr)")
        let cli = try runTool(
            "recpool",
            [
                "status", "--broker", "tcp://127.0.0.1:9", "--curve-server-key", keys.path("broker.pub"),
                "--curve-key", keys.path("client.key"),
            ])
        #expect(cli.code != 0)
        #expect(cli.stderr.contains("too open"), "\(cli.stderr)")

        // With the flag, each starts (with a warning) and the pool serves.
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: keys.brokerArguments + ["--allow-open-key-file"])
        try cluster.startWorker("w1", extra: keys.workerArguments() + ["--allow-open-key-file"])
        let trainer = try await cluster.client(socketOptions: try keys.options(as: "trainer"))
        defer { trainer.close() }
        _ = try await cluster.waitForStatus(trainer) { $0.workers.count == 1 }
        let status = try runTool(
            "recpool",
            [
                "status", "--broker", cluster.endpoints.frontend, "--curve-server-key", keys.path("broker.pub"),
                "--curve-key", keys.path("client.key"), "--allow-open-key-file",
            ])
        #expect(status.code == 0, "\(status.stderr)")
    }

    @Test(
        "SIGHUP reloads the allow-lists: a revoked key is refused on a new connection and on the connection it already has, an added one admitted, a broken list changes nothing"
    )
    func hangupReloadsAllowLists() async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        let log = keys.directory.appendingPathComponent("broker.log")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        cluster.brokerLog = log
        try cluster.startBroker(extra: keys.brokerArguments + ["--log-level", "notice"])
        let brokerPid = try #require(cluster.pid("broker"))
        let connected = try await cluster.client(socketOptions: try keys.options(as: "client"))
        defer { connected.close() }
        _ = try await connected.status()

        // Revoke "client", admit "stranger".
        let allow = URL(fileURLWithPath: keys.path("client.pub"))
        try Data((try String(contentsOfFile: keys.path("stranger.pub"), encoding: .utf8)).utf8).write(to: allow)
        kill(brokerPid, SIGHUP)
        #expect(Self.waitForLog(log, "allow-lists reloaded"))
        let line = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").first {
            $0.contains("allow-lists reloaded")
        }
        #expect(
            line?.contains("clients=1") == true && line?.contains("revoked_still_connected=1") == true, "\(line ?? "")")
        #expect(Self.isRunning(brokerPid))

        let revoked = try await cluster.client(socketOptions: try keys.options(as: "client"), timeoutMs: 800)
        defer { revoked.close() }
        let error = await clientError { try await revoked.status() }
        #expect(error == .handshakeFailed(endpoint: cluster.endpoints.frontend, .refused(zapStatus: 400)))
        let admitted = try await cluster.client(socketOptions: try keys.options(as: "stranger"))
        defer { admitted.close() }
        // The refused handshakes are counted in STATUS.
        let counted = try await cluster.waitForStatus(admitted) { ($0.counters["refused_handshakes"] ?? 0) > 0 }
        #expect((counted.counters["refused_handshakes"] ?? 0) > 0)
        // The session opened before the reload is still connected (ZAP ran once, at its handshake), but every
        // message is judged by the lists in force: the revoked key is refused, naming why.
        let cut = await clientError { try await connected.status() }
        guard case .server(let status, let message, _)? = cut, status == .unauthorized else {
            Issue.record("a connected, revoked key should get UNAUTHORIZED, got \(String(describing: cut))")
            return
        }
        #expect(message.contains("no longer admit"), "\(message)")

        // A list that no longer parses: logged, the previous lists stay, the broker keeps running.
        try Data("not a key\n".utf8).write(to: allow)
        kill(brokerPid, SIGHUP)
        #expect(Self.waitForLog(log, "allow-lists not reloaded"))
        let again = try await cluster.client(socketOptions: try keys.options(as: "stranger"))
        defer { again.close() }
        _ = try await again.status()
        #expect(Self.isRunning(brokerPid))
    }

    @Test(
        "a client refused at the handshake is admitted in the same process once its key is added and the broker sent SIGHUP"
    )
    func refusedClientConnectsOnceAdmitted() async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        let log = keys.directory.appendingPathComponent("broker.log")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        cluster.brokerLog = log
        try cluster.startBroker(extra: keys.brokerArguments + ["--log-level", "notice"])
        let brokerPid = try #require(cluster.pid("broker"))
        let stranger = try await cluster.client(socketOptions: try keys.options(as: "stranger"), timeoutMs: 5000)
        defer { stranger.close() }
        for _ in 0..<2 {
            let refused = await clientError { try await stranger.status() }
            #expect(refused == .handshakeFailed(endpoint: cluster.endpoints.frontend, .refused(zapStatus: 400)))
        }
        // Admit "stranger" as a client; libzmq ended the refused session for good, so only a new socket can
        // use the new list: the client opens one for its next call.
        let allow = URL(fileURLWithPath: keys.path("client.pub"))
        try Data((try String(contentsOfFile: keys.path("stranger.pub"), encoding: .utf8)).utf8).write(to: allow)
        kill(brokerPid, SIGHUP)
        #expect(Self.waitForLog(log, "allow-lists reloaded"))
        let status = try await stranger.status()
        // At least the first refusal: a second call within a second of it is refused by the client itself (it reopens
        // its socket at most once a second), so whether the broker saw a second handshake depends on timing.
        #expect(status.counters["refused_handshakes", default: 0] >= 1)
        // And it stays connected: the next call uses the same admitted session.
        _ = try await stranger.status()
    }

    @Test("SIGHUP neither ends a plaintext broker nor a worker: both log it and keep serving")
    func hangupIsHarmless() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let temporary = try TemporaryDirectory("hup")
        defer { temporary.remove() }
        let log = temporary.file("hup.log")
        cluster.brokerLog = log
        let client = try await cluster.startPool(brokerArguments: ["--log-level", "notice"], workers: ["w1"])
        defer { client.close() }
        let brokerPid = try #require(cluster.pid("broker"))
        let workerPid = try #require(cluster.pid("w1"))
        kill(brokerPid, SIGHUP)
        kill(workerPid, SIGHUP)
        #expect(Self.waitForLog(log, "no allow-lists to reload"))
        #expect(try await client.score(rows: [Self.row]).values.count == 1)
        let status = try await client.status()
        #expect(status.workers.map(\.id) == ["w1"])
        #expect(Self.isRunning(brokerPid) && Self.isRunning(workerPid))
    }

    @Test("an empty allow-list admits no one of that role and the broker starts; a missing one is exit 66")
    func emptyAllowList() async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        try Data("# alice was revoked\n".utf8).write(to: URL(fileURLWithPath: keys.path("client.pub")))
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: keys.brokerArguments)
        let trainer = try await cluster.client(socketOptions: try keys.options(as: "trainer"))
        defer { trainer.close() }
        _ = try await trainer.status()
        let client = try await cluster.client(socketOptions: try keys.options(as: "client"), timeoutMs: 800)
        defer { client.close() }
        let error = await clientError { try await client.status() }
        #expect(error == .handshakeFailed(endpoint: cluster.endpoints.frontend, .refused(zapStatus: 400)))
        var arguments = keys.brokerArguments
        arguments[arguments.firstIndex(of: keys.path("client.pub"))!] = keys.path("missing.allow")
        let missing = try runTool(
            "recpool-broker",
            ["--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--exit-with-parent"] + arguments)
        #expect(missing.code == 66)
        #expect(missing.stderr.contains("missing.allow"))
    }

    /// This process's hard open-file limit.
    static var hardFileLimit: UInt64 {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return UInt64(limit.rlim_max)
    }

    @Test(
        "started with a soft open-file limit of 256, the broker raises it to the hard limit and answers 500 clients",
        .enabled(if: hardFileLimit >= 2048, "needs a hard open-file limit of at least 2048"))
    func raisesTheOpenFileLimit() async throws {
        let hard = Self.hardFileLimit
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        cluster.launchers["broker"] = ["/usr/bin/prlimit", "--nofile=256:\(hard)", "--"]
        try cluster.startBroker()
        let pid = try #require(cluster.pid("broker"))
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let numbers = line.split(separator: " ").compactMap { UInt64($0) }
        #expect(numbers == [hard, hard], "\(line)")

        let context = ZMQContext()
        var sockets: [ZMQSocket] = []
        defer { for socket in sockets { socket.close() } }
        for index in 0..<500 {
            let socket = try ZMQSocket(context, type: .dealer)
            try socket.connect(cluster.endpoints.frontend)
            try socket.send(WireMessage(header: Header(command: .status, requestId: UInt64(index + 1))).frames())
            sockets.append(socket)
        }
        var answered = 0
        for socket in sockets where try receive(socket, timeoutMs: 10_000) != nil { answered += 1 }
        #expect(answered == 500)
    }

    @Test("when the hard open-file limit is reached, refused connections are logged and counted in STATUS")
    func refusedConnectionsAreCounted() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let temporary = try TemporaryDirectory("nofile")
        defer { temporary.remove() }
        let log = temporary.file("nofile.log")
        cluster.brokerLog = log
        cluster.launchers["broker"] = ["/usr/bin/prlimit", "--nofile=64:64", "--"]
        try cluster.startBroker()
        #expect(Self.waitForLog(log, "open-file limit is low"))
        let first = try await cluster.client()
        defer { first.close() }
        _ = try await first.status()
        let context = ZMQContext()
        var flood: [ZMQSocket] = []
        defer { for socket in flood { socket.close() } }
        for _ in 0..<100 {
            let socket = try ZMQSocket(context, type: .dealer)
            try socket.connect(cluster.endpoints.frontend)
            flood.append(socket)
        }
        let status = try await cluster.waitForStatus(first) { ($0.counters["accept_failures"] ?? 0) > 0 }
        #expect((status.counters["accept_failures"] ?? 0) > 0)
        #expect(Self.waitForLog(log, "refused connections: accept failed"))
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("Too many open files"), "\(text.suffix(2000))")
    }

    @Test("a worker whose key the broker refuses (not allow-listed, or revoked) logs why instead of waiting in silence")
    func refusedWorkerSaysWhy() async throws {
        let keys = try SecuredKeys()
        defer { keys.remove() }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: keys.brokerArguments)
        let log = keys.directory.appendingPathComponent("intruder.log")
        cluster.workerLogs["intruder"] = log
        try cluster.startWorker("intruder", extra: keys.workerArguments(as: "client") + ["--heartbeat-ms", "200"])
        #expect(Self.waitForLog(log, "the broker refused this worker's CURVE key"))
    }
}

/// A stop sent while a daemon was still starting killed it by the signal's default action (death by SIGTERM, which a
/// supervisor reads as a failure), where a stop drains and exits 0.
@Suite("A stop during a daemon's start")
struct EarlyStopTests {
    @Test("SIGTERM or SIGINT while a daemon still reads its configuration ends it with exit 0, not by the signal",
          arguments: [("recpool-broker", SIGTERM), ("recpool-broker", SIGINT), ("recpool-worker", SIGTERM)])
    func stopWhileStarting(tool: String, stop: Int32) throws {
        let temporary = try TemporaryDirectory("early-stop")
        defer { temporary.remove() }
        // The configuration is a FIFO: the daemon waits in its start, reading it, until the test writes it.
        let fifo = temporary.file("config.toml").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = Process()
        process.executableURL = ProcessCluster.executable(tool)
        process.arguments =
            tool == "recpool-broker"
            ? ["--config", fifo, "--frontend", "ipc://\(temporary.file("f.ipc").path)",
               "--backend", "ipc://\(temporary.file("b.ipc").path)"]
            : ["--config", fifo, "--broker", "ipc://\(temporary.file("b.ipc").path)", "--input-width", "3"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Past the binary's loading and into main, where it blocks on the FIFO (a signal before main runs still has
        // its default action).
        Thread.sleep(forTimeInterval: 1.5)
        #expect(process.isRunning)
        kill(process.processIdentifier, stop)
        Thread.sleep(forTimeInterval: 0.2)
        // Opened without blocking: a daemon the signal killed reads the FIFO no more, and a blocking open would wait for
        // ever.
        let descriptor = open(fifo, O_WRONLY | O_NONBLOCK)
        if descriptor >= 0 {
            let text = Array("[\(tool == "recpool-broker" ? "broker" : "worker")]\n".utf8)
            _ = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!process.isRunning)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(process.terminationReason.rawValue) \(process.terminationStatus): \(stderr)")
    }
}
