import RecWire
import Testing

@testable import Worker

/// The worker's session logic without sockets (issue #15): events in, actions out, on a hand-moved clock.
@Suite("Worker core: registration, heartbeats, liveness and reconnects")
struct WorkerCoreTests {
    @Test("connecting sends READY with the services, slots, width, version and checkpoint hash, and must succeed")
    func readyOnConnect() throws {
        var harness = WorkerHarness(replica: ModelReplica.seeded(inputWidth: 3, seed: 1))
        harness.feed(.connected)
        let sent = harness.takeSent()
        #expect(sent.count == 1)
        #expect(sent[0].message.header.command == .ready && sent[0].mode == .required)
        let hello = try WireJSON.decode(WorkerHello.self, from: sent[0].message.payload[0])
        #expect(hello.workerId == "w1" && hello.slots == 8 && hello.inputWidth == 3 && hello.modelVersion == 0)
        #expect(hello.host == "h" && hello.pid == 42 && hello.modelSha256 == nil)
        // The seeded model is named by its seed, so two seeded workers with different seeds are two models.
        #expect(hello.modelSeed == 1)
        #expect(String(decoding: sent[0].message.payload[0], as: UTF8.self).contains(#""model_seed":1"#))
        #expect(hello.services == ["SCORE", "RECOMMEND", "POLICY", "TRAIN_ROUND"])
        #expect(!harness.core.registered)
    }

    @Test("the broker's first heartbeat registers the worker and its news is logged as warnings")
    func readyAnswer() {
        var harness = WorkerHarness()
        harness.feed(.connected)
        let registration = WorkerRegistration(workerId: "w1-2", requestedId: "w1", waitingForVersion: 5)
        harness.receive(Header(command: .heartbeat), [WireJSON.encode(registration)])
        #expect(harness.core.registered)
        let warnings = harness.logs.filter { $0.level == .warning }.map(\.message)
        #expect(warnings.count == 2)
        #expect(warnings[0].contains("another live worker has this id"))
        #expect(warnings[1].contains("serves no registered model"))
        // Later heartbeats are no news.
        harness.receive(Header(command: .heartbeat), [WireJSON.encode(registration)])
        #expect(harness.logs.filter { $0.level == .warning }.count == 2)
    }

    @Test("DISCONNECT from the broker unregisters and sends READY again, best-effort")
    func reRegister() {
        var harness = WorkerHarness.registered()
        harness.receive(Header(command: .disconnect))
        let sent = harness.takeSent()
        #expect(!harness.core.registered)
        #expect(sent.map(\.message.header.command) == [.ready] && sent[0].mode == .bestEffort)
    }

    @Test("a heartbeat goes out once per interval with the served version, width and hash, never blocking")
    func heartbeats() throws {
        var harness = WorkerHarness.registered { $0.heartbeatIntervalMs = 1000 }
        harness.advance(ms: 999)
        harness.feed(.tick)
        #expect(harness.sent.isEmpty)
        #expect(harness.core.nextWakeDelayMs(now: harness.now) == 1)
        harness.advance(ms: 1)
        harness.feed(.tick)
        let beats = harness.takeSent()
        #expect(beats.map(\.message.header.command) == [.heartbeat] && beats[0].mode == .ifRoom)
        #expect(beats[0].message.header.modelVersion == 0)
        let load = try WorkerLoad(decoding: beats[0].message.payload[0])
        #expect(load.slots == 8 && load.inputWidth == 2 && load.modelSHA256 == nil)
        #expect(harness.core.nextWakeDelayMs(now: harness.now) == 1000)
        #expect(harness.parentChecks == 0)
    }

    @Test("a swapped replica is reported by the next tick's heartbeat, with its raw SHA-256")
    func swapReportsAtOnce() throws {
        var harness = WorkerHarness.registered()
        var replica = ModelReplica.seeded(inputWidth: 2, seed: 9)
        replica.version = 4
        replica.checkpointSHA256 = String(repeating: "0f", count: 32)
        harness.feed(.replicaSwapped(replica))
        harness.advance(ms: 1)
        harness.feed(.tick)
        let beats = harness.takeSent()
        #expect(beats.count == 1 && beats[0].message.header.modelVersion == 4)
        #expect(
            try WorkerLoad(decoding: beats[0].message.payload[0]).modelSHA256 == [UInt8](repeating: 0x0F, count: 32))
    }

    @Test("with --exit-with-parent each heartbeat asks the shell to check the parent")
    func parentCheck() {
        var harness = WorkerHarness { $0.exitWithParent = true }
        harness.register()
        harness.advance(ms: 1000)
        harness.feed(.tick)
        #expect(harness.parentChecks == 1)
    }

    @Test("a broker silent for liveness intervals ends the connection; any message keeps it alive")
    func liveness() {
        var harness = WorkerHarness.registered {
            $0.heartbeatIntervalMs = 100
            $0.liveness = 3
        }
        harness.advance(ms: 250)
        harness.receive(Header(command: .heartbeat))
        harness.advance(ms: 300)
        harness.feed(.tick)
        #expect(harness.exits.isEmpty)
        harness.advance(ms: 1)
        harness.feed(.tick)
        #expect(harness.exits == [.reconnect(afterMs: 250)])
        // The connection is over: nothing more happens until the shell reconnects.
        harness.advance(ms: 1000)
        harness.feed(.tick)
        #expect(harness.exits.count == 1)
    }

    @Test("reconnect delays double while the broker never answers, up to the maximum, and restart after a registration")
    func backoff() {
        var harness = WorkerHarness {
            $0.heartbeatIntervalMs = 100
            $0.liveness = 2
            $0.reconnectInitialMs = 250
            $0.reconnectMaxMs = 1000
        }
        for _ in 0..<4 {
            harness.feed(.connected)
            harness.advance(ms: 201)
            harness.feed(.tick)
        }
        #expect(harness.exits == [250, 500, 1000, 1000].map { WorkerExit.reconnect(afterMs: $0) })
        harness.register()
        harness.advance(ms: 201)
        harness.feed(.tick)
        #expect(harness.exits.last == .reconnect(afterMs: 250))
        #expect(harness.core.registered == true)
        harness.feed(.connected)
        #expect(!harness.core.registered)
    }
}
