import RecWire
import Testing

@testable import Worker

/// A worker whose `--heartbeat-ms` differed from its broker's was expired again and again (slower) or reconnected
/// every few seconds (faster): the registration names the broker's interval and liveness, and the worker takes them.
@Suite("Worker core: the broker's heartbeat interval")
struct WorkerHeartbeatAdoptionTests {
    static func register(_ harness: inout WorkerHarness, heartbeatMs: UInt64?, liveness: UInt64?) {
        harness.feed(.connected)
        harness.receive(
            Header(command: .heartbeat),
            [WireJSON.encode(
                WorkerRegistration(workerId: "w1", requestedId: nil, heartbeatMs: heartbeatMs, liveness: liveness))])
    }

    static func heartbeats(_ harness: WorkerHarness) -> Int {
        harness.sent.filter { $0.message.header.command == .heartbeat }.count
    }

    @Test("a worker at 10000 ms registered with a broker at 1000 ms heartbeats every second and warns once")
    func slowerWorkerAdoptsBrokerInterval() {
        var harness = WorkerHarness { $0.heartbeatIntervalMs = 10_000 }
        Self.register(&harness, heartbeatMs: 1_000, liveness: 3)
        #expect(harness.core.intervalMicros == 1_000_000)
        #expect(harness.core.silenceMicros == 3_000_000)
        #expect(harness.logs.filter { $0.level == .warning && $0.message.contains("differs from --heartbeat-ms") }.count == 1)
        harness.sent.removeAll()
        for _ in 0..<5 {
            harness.advance(ms: 1_000)
            harness.receive(Header(command: .heartbeat))  // the broker's own heartbeat keeps it alive
            harness.feed(.tick)
        }
        #expect(Self.heartbeats(harness) == 5)
        #expect(harness.core.nextWakeDelayMs(now: harness.now) <= 1_000)
    }

    @Test("a worker at 1000 ms registered with a broker at 5000 ms does not reconnect after 3 s of broker silence")
    func fasterWorkerWaitsForBrokersInterval() {
        var harness = WorkerHarness { $0.heartbeatIntervalMs = 1_000 }
        Self.register(&harness, heartbeatMs: 5_000, liveness: 3)
        harness.advance(ms: 4_000)
        harness.feed(.tick)
        #expect(harness.exits.isEmpty)
        #expect(harness.core.silenceMicros == 15_000_000)
    }

    @Test("a registration without the keys (an older broker) or with one no broker sends keeps the worker's own")
    func olderBrokerKeepsOwn() {
        // A liveness past 10 left a worker waiting that many intervals (2⁶³: for ever) for a silent broker, and on
        // SIGTERM for a drain acknowledgement.
        let cases: [(UInt64?, UInt64?)] = [(nil, nil), (0, 3), (5_000, 0), (5_000, 11), (5_000, UInt64(Int64.max))]
        for (heartbeatMs, liveness) in cases {
            var harness = WorkerHarness { $0.heartbeatIntervalMs = 2_000 }
            Self.register(&harness, heartbeatMs: heartbeatMs, liveness: liveness)
            #expect(harness.core.intervalMicros == 2_000_000, "\(String(describing: heartbeatMs))")
            #expect(harness.core.silenceMicros == 6_000_000)
            #expect(!harness.logs.contains { $0.level == .warning && $0.message.contains("differs") })
        }
        // The same values as the broker's: adopted silently.
        var same = WorkerHarness()
        Self.register(&same, heartbeatMs: 1_000, liveness: 3)
        #expect(!same.logs.contains { $0.level == .warning })
    }

    @Test("the registration document carries heartbeat_ms and liveness, and decodes without them")
    func documentKeys() throws {
        let text = String(decoding: WireJSON.encode(
            WorkerRegistration(workerId: "w", requestedId: nil, heartbeatMs: 250, liveness: 4)), as: UTF8.self)
        #expect(text.contains(#""heartbeat_ms":250"#) && text.contains(#""liveness":4"#), "\(text)")
        let old = try WireJSON.decode(
            WorkerRegistration.self,
            from: Array(#"{"worker_id":"w","requested_id":null,"waiting_for_version":null,"served_policy":null}"#.utf8))
        #expect(old.heartbeatMs == nil && old.liveness == nil)
    }
}

/// A worker kept the intervals of the broker it was first registered with after reconnecting to another (a rolled
/// back broker that names none): it heartbeat every 10 s against a broker expiring it after 3 s.
@Suite("Worker core: adopted intervals end with the connection")
struct WorkerHeartbeatReconnectTests {
    @Test("reconnecting drops the adopted intervals: an older broker's registration leaves the worker's own")
    func reconnectForgetsAdopted() {
        var harness = WorkerHarness { $0.heartbeatIntervalMs = 1_000 }
        WorkerHeartbeatAdoptionTests.register(&harness, heartbeatMs: 10_000, liveness: 3)
        #expect(harness.core.intervalMicros == 10_000_000)
        WorkerHeartbeatAdoptionTests.register(&harness, heartbeatMs: nil, liveness: nil)
        #expect(harness.core.intervalMicros == 1_000_000)
        #expect(harness.core.silenceMicros == 3_000_000)
    }
}
