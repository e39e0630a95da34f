import Foundation
import RecTestKit
import RecTransport
import RecWire
import Testing

@Suite("Test kit")
struct TestKitTests {
    @Test("eventually returns as soon as the condition holds and throws a named timeout when it never does")
    func eventuallyPolls() async throws {
        let calls = LockedBox(0)
        try await eventually(timeoutMs: 600_000, pollMs: 1) {
            calls.withLock {
                $0 += 1; return $0 == 3
            }
        }
        #expect(calls.withLock { $0 } == 3)

        await #expect(throws: EventuallyTimeout.self) {
            try await eventually(timeoutMs: 30, pollMs: 5, "the impossible") { false }
        }
        let error = await #expect(throws: EventuallyTimeout.self) {
            try await eventually(timeoutMs: 10, "the impossible") { false }
        }
        #expect(error?.description == "the impossible did not happen within 10 ms")
    }

    @Test("eventuallyValue returns the first value produced")
    func eventuallyValueReturns() async throws {
        var count = 0
        let value = try await eventuallyValue(timeoutMs: 600_000, pollMs: 1) { () -> Int? in
            count += 1
            return count >= 2 ? count * 10 : nil
        }
        #expect(value == 20)
        #expect(eventuallyBlocking(timeoutMs: 10, pollMs: 1) { false } == false)
    }

    @Test("a temporary directory exists, is empty, and is gone after withTemporaryDirectory")
    func temporaryDirectory() async throws {
        let kept = try await withTemporaryDirectory("kit") { directory -> String in
            #expect(FileManager.default.fileExists(atPath: directory.path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
            try Data("x".utf8).write(to: directory.file("a.txt"))
            return directory.path
        }
        #expect(!FileManager.default.fileExists(atPath: kept))
        let a = try TemporaryDirectory("kit")
        let b = try TemporaryDirectory("kit")
        defer { a.remove(); b.remove() }
        #expect(a.path != b.path)
    }

    @Test("fuzz seeds: fixed by default, pinned by RECPOOL_FUZZ_SEED (decimal or hex), and a seed replays its stream")
    func fuzzSeeds() {
        #expect(FuzzSeed.seeds(count: 3, base: 10, environment: [:]) == [10, 11, 12])
        #expect(FuzzSeed.seeds(count: 3, base: 10, environment: ["RECPOOL_FUZZ_SEED": "42"]) == [42])
        #expect(FuzzSeed.pinned(environment: ["RECPOOL_FUZZ_SEED": "0x1F"]) == 31)
        #expect(FuzzSeed.pinned(environment: ["RECPOOL_FUZZ_SEED": "nope"]) == nil)
        var a = FuzzRandom(seed: 7)
        var b = FuzzRandom(seed: 7)
        #expect(a.bytes(64) == b.bytes(64))
        #expect((0..<1000).allSatisfy { _ in a.below(5) < 5 })
        // SplitMix64's published first output for seed 0 (Vigna's splitmix64.c).
        var zero = FuzzRandom(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test("the fake ROUTER peer binds a loopback port, answers each message to its sender, and stops")
    func fakeRouterPeer() async throws {
        let peer = try await FakeRouterPeer(name: "kit-echo") { frames in
            frames == [[0xFF]] ? nil : frames.reversed()
        }
        defer { peer.stop() }
        #expect(peer.endpoint.hasPrefix("tcp://127.0.0.1:"))
        let endpoint = peer.endpoint
        let reply = await DedicatedThread.run(name: "kit-dealer") { () -> [[UInt8]]? in
            let context = ZMQContext()
            defer { context.shutdown() }
            guard let dealer = try? ZMQSocket(context, type: .dealer) else { return nil }
            defer { dealer.close() }
            guard (try? dealer.set(.linger(milliseconds: 0))) != nil, (try? dealer.connect(endpoint)) != nil,
                (try? dealer.send([[0xFF]])) != nil,  // answered with nothing
                (try? dealer.send([[1], [2, 3]])) != nil
            else { return nil }
            var poller = ZMQPoller([PollItem(socket: dealer)])
            _ = try? poller.poll(timeoutMilliseconds: 10_000)
            return (try? dealer.receive(dontWait: true))??.frames
        }
        #expect(reply == [[2, 3], [1]])
    }

    @Test("a scoped cluster starts a real broker and stops it afterwards")
    func scopedCluster() async throws {
        let pid = try await ProcessCluster.with { cluster -> Int32 in
            try cluster.startBroker()
            #expect(cluster.endpoints.frontend.hasPrefix("tcp://127.0.0.1:"))
            return try #require(cluster.pid("broker"))
        }
        // The broker was killed and reaped: no process has its pid any more (or a new one reused it).
        #expect(kill(pid, 0) != 0 || errno == ESRCH)
    }
}
