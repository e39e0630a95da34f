import Foundation
import RecTransport
import RecWire
import RecTestKit
import Testing

/// A raw DEALER on its own thread: sends whole messages and collects every reply, by request id.
/// Test-only; used from one dedicated thread at a time.
final class RawPeer: @unchecked Sendable {
    let context = ZMQContext()
    let socket: ZMQSocket
    /// Replies by request id, as decoded (or `nil` for a reply that did not decode).
    private(set) var replies: [UInt64: [WireMessage]] = [:]
    private(set) var undecodable = 0

    init(endpoint: String, sendHighWaterMark: Int32 = 1000) throws {
        socket = try ZMQSocket(context, type: .dealer)
        try socket.set(.sendHighWaterMark(sendHighWaterMark))
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    /// Reads every reply waiting, without blocking; returns how many arrived.
    @discardableResult
    func drain() -> Int {
        var count = 0
        while let message = try? socket.receive(dontWait: true) {
            count += 1
            if let decoded = try? WireMessage(decoding: message.frames) {
                replies[decoded.header.requestId, default: []].append(decoded)
            } else {
                undecodable += 1
            }
        }
        return count
    }

    /// Waits up to `timeoutMs` until `condition` holds, reading replies meanwhile.
    func wait(timeoutMs: UInt64, until condition: (RawPeer) -> Bool) -> Bool {
        let start = Clocks.monotonicMicros()
        while Clocks.monotonicMicros() - start < timeoutMs * 1000 {
            drain()
            if condition(self) { return true }
            var poller = ZMQPoller([PollItem(socket: socket)])
            _ = try? poller.poll(timeoutMilliseconds: 20)
        }
        drain()
        return condition(self)
    }
}

/// Whether a process is still running (`kill(pid, 0)`).
func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

/// Untrusted numbers and bounded memory against live processes (issue #14), and the size limit and
/// honest counters (issue #13).
@Suite("Limits against a live broker", .serialized)
struct LimitsTests {
    /// A SCORE of `rows` × `cols` with every value 0.5.
    static func tensor(rows: Int, cols: Int) -> [UInt8] {
        Tensor(rows: rows, cols: cols, values: [Float](repeating: 0.5, count: rows * cols)).encoded()
    }

    @Test("seeded integer extremes in every header field: broker and worker stay up and every request gets exactly one well-formed reply")
    func integerExtremes() async throws {
        let seed = FuzzSeed.seeds(count: 1, base: 0x1414_0001)[0]
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        // The worker holds each batch up to 200 ms, so requests are in flight across the broker's
        // timer checks (every 50 ms), where `deadline + grace` used to trap.
        let client = try await cluster.startPool(
            workers: ["w1"], workerArguments: ["--input-width", "2", "--batch-wait-us", "200000"])
        defer { client.close() }
        let broker = try #require(cluster.pid("broker"))
        let worker = try #require(cluster.pid("w1"))
        let endpoint = cluster.endpoints.frontend
        let (sent, peer) = try await DedicatedThread.run(name: "extremes") { () -> ([UInt64: Command], RawPeer?) in
            guard let peer = try? RawPeer(endpoint: endpoint) else { return ([:], nil) }
            var random = FuzzRandom(state: seed)
            let now = Clocks.epochMillis()
            let wide: [UInt64] = [0, 1, 2, .max, .max - 1, .max / 2, UInt64(Int64.max), UInt64(Int64.max) + 1]
            func extreme64() -> UInt64 {
                switch random.below(5) {
                case 0, 1: return wide[random.below(wide.count)]
                case 2: return now &+ UInt64(random.below(4000)) &- 2000  // near now
                case 3: return now &+ (random.next() >> 8)  // far future
                default: return random.next()
                }
            }
            func extreme32() -> UInt32 { [0, 1, .max, .max - 1, UInt32(truncatingIfNeeded: random.next())][random.below(5)] }
            func extreme16() -> UInt16 { [0, 1, .max, .max - 1, UInt16(truncatingIfNeeded: random.next())][random.below(5)] }
            var sent: [UInt64: Command] = [:]
            let ids: [UInt64] = [0, 1, .max, .max - 1, UInt64(Int64.max), UInt64(Int64.max) + 1]
            for index in 0..<800 {
                let id = index < ids.count ? ids[index] : UInt64(index) &* 0x9E37_79B9_7F4A_7C15
                guard sent[id] == nil else { continue }
                let command: Command = [.score, .score, .score, .recommend, .status][random.below(5)]
                var header = Header(command: command, requestId: id)
                header.deadlineMs = extreme64()
                header.modelVersion = random.below(3) == 0 ? extreme64() : 0
                if random.below(4) == 0 { header.flags = Header.Flags(rawValue: extreme16()) }
                if random.below(10) == 0 { header.status = Status.allCases[random.below(Status.allCases.count)] }
                header.attempt = extreme16()
                header.brokerQueueMicros = extreme32()
                header.workerQueueMicros = extreme32()
                header.computeMicros = extreme32()
                header.retryAfterMs = extreme32()
                var frames = [header.encoded()]
                switch command {
                case .score:
                    var tensor = LimitsTests.tensor(rows: 1 + random.below(4), cols: 2)
                    if random.below(8) == 0 {  // a shape at the edge of UInt32
                        let rows = [UInt32.max, UInt32.max - 1, 0, 1 << 16][random.below(4)]
                        let cols = [UInt32.max, 2, 0][random.below(3)]
                        tensor.replaceSubrange(0..<4, with: withUnsafeBytes(of: rows.littleEndian, Array.init))
                        tensor.replaceSubrange(4..<8, with: withUnsafeBytes(of: cols.littleEndian, Array.init))
                    }
                    frames.append(tensor)
                case .recommend: frames.append(Array(#"{"user_features":{}}"#.utf8))
                default: break
                }
                guard (try? peer.socket.send(frames)) == true else { continue }
                sent[id] = command
                peer.drain()
            }
            _ = peer.wait(timeoutMs: 60_000) { peer in sent.keys.allSatisfy { peer.replies[$0] != nil } }
            return (sent, peer)
        }
        let raw = try #require(peer)
        #expect(sent.count > 700)
        #expect(raw.undecodable == 0)
        var statuses: [Status: Int] = [:]
        for (id, command) in sent {
            let replies = raw.replies[id] ?? []
            #expect(replies.count == 1, "request \(id) (\(command.name)): \(replies.map(\.header.status)) (seed \(seed))")
            guard let reply = replies.first else { continue }
            statuses[reply.header.status, default: 0] += 1
            #expect(reply.header.isReply && reply.header.command == command, "request \(id)")
            #expect(reply.header.status == .ok || reply.errorText?.isEmpty == false, "request \(id)")
        }
        print("integer extremes (seed \(seed)): \(statuses)")
        #expect(statuses[.ok, default: 0] > 0 && statuses[.expired, default: 0] > 0 && statuses[.badRequest, default: 0] > 0)
        #expect(isAlive(broker) && isAlive(worker))
        let status = try await client.status()
        #expect(status.workers.map(\.id) == ["w1"])
        let scores = try await client.score(rows: [[0.5, 0.5]])
        #expect(scores.values.count == 1)
    }

    @Test("a worker announcing extreme slots and versions and replying with extreme header fields: every request gets exactly one reply, the broker stays up")
    func workerFaceExtremes() async throws {
        let seed = FuzzSeed.seeds(count: 1, base: 0x1414_0002)[0]
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()  // the fake worker is the only one, so it gets every request
        let client = try await cluster.client()
        defer { client.close() }
        let broker = try #require(cluster.pid("broker"))
        let (frontend, backend) = (cluster.endpoints.frontend, cluster.endpoints.backend)
        let count = 400
        let result = await DedicatedThread.run(name: "fake-worker") { () -> (RawPeer?, Int) in
            guard let peer = try? RawPeer(endpoint: frontend), let context = Optional(ZMQContext()),
                let worker = try? ZMQSocket(context, type: .dealer), (try? worker.connect(backend)) != nil
            else { return (nil, 0) }
            defer { worker.close() }
            var random = FuzzRandom(state: seed)
            let extremes: [UInt64] = [0, 1, .max, .max - 1, UInt64(Int64.max) + 1]
            let hello = WorkerHello(
                workerId: "fake", services: ["SCORE"], slots: Int(UInt32.max), inputWidth: 2, modelVersion: .max, host: "h",
                pid: .max)
            _ = try? worker.send(WireMessage(header: Header(command: .ready, modelVersion: .max), payload: [WireJSON.encode(hello)]).frames())
            // Registered once the broker's first HEARTBEAT arrives: only then do requests start.
            var poller = ZMQPoller([PollItem(socket: worker)])
            _ = try? poller.poll(timeoutMilliseconds: 10_000)
            _ = try? worker.receive(dontWait: true)
            var answered = 0
            var lastBeat: UInt64 = 0
            var sent = 0
            let start = Clocks.monotonicMicros()
            while Clocks.monotonicMicros() - start < 60_000_000 {
                if sent < count {
                    let header = Header(command: .score, requestId: UInt64(sent + 1), deadlineMs: Clocks.epochMillis() + 20_000)
                    _ = try? peer.socket.send([header.encoded(), LimitsTests.tensor(rows: 1, cols: 2)])
                    sent += 1
                }
                if Clocks.monotonicMicros() - lastBeat > 200_000 {
                    lastBeat = Clocks.monotonicMicros()
                    let beat = Header(command: .heartbeat, modelVersion: extremes[random.below(extremes.count)])
                    _ = try? worker.send(WireMessage(header: beat, payload: [WorkerLoad(slots: .max, queued: .max).encoded()]).frames())
                }
                while let message = try? worker.receive(dontWait: true) {
                    guard let request = try? WireMessage(decoding: message.frames), request.header.command == .score,
                        !request.header.isReply
                    else { continue }
                    let status = [Status.ok, .ok, .badRequest, .expired, .internal][random.below(5)]
                    var reply = request.header.reply(status: status, modelVersion: extremes[random.below(extremes.count)])
                    reply.attempt = UInt16.max
                    reply.workerQueueMicros = .max
                    reply.computeMicros = .max
                    reply.brokerQueueMicros = .max
                    reply.retryAfterMs = .max
                    let payload = status == .ok ? Tensor(rows: 1, cols: 1, values: [0.5]).encoded() : Array("fake".utf8)
                    _ = try? worker.send([reply.encoded(), payload])
                    answered += 1
                }
                peer.drain()
                if sent == count && (1...count).allSatisfy({ peer.replies[UInt64($0)] != nil }) { break }
                usleep(1000)
            }
            _ = try? worker.send([Header(command: .disconnect).encoded()])
            return (peer, answered)
        }
        let peer = try #require(result.0)
        #expect(result.1 == count, "the fake worker answered \(result.1) of \(count)")
        for id in 1...count {
            let replies = peer.replies[UInt64(id)] ?? []
            #expect(replies.count == 1, "request \(id): \(replies.map(\.header.status))")
            #expect(replies.first.map { $0.header.isReply && ($0.header.status == .ok || $0.errorText != nil) } == true)
        }
        #expect(isAlive(broker))
        let status = try await client.status()
        #expect(status.counters["replies_ok", default: 0] > 0)
    }

    @Test("one frame over 16 MiB gets TOO_LARGE naming the limit; the connection stays and the reply it was waiting for arrives")
    func oversizedFrame() async throws {
        try await ProcessCluster.withPool(
            workers: ["w1"], workerArguments: ["--input-width", "2", "--batch-wait-us", "300000"]) { cluster, client in
            let endpoint = cluster.endpoints.frontend
            let peer = try await DedicatedThread.run(name: "oversize") { () -> RawPeer? in
                guard let peer = try? RawPeer(endpoint: endpoint) else { return nil }
                let limit = WireLimits.standard.maxMessageBytes
                // 1: a request the worker holds for 300 ms; 2: one frame over the limit; 3: the same
                // bytes in several frames; 4: nine frames; 5: a request after them all.
                _ = try? peer.socket.send([Header(command: .score, requestId: 1).encoded(), LimitsTests.tensor(rows: 1, cols: 2)])
                _ = try? peer.socket.send([Header(command: .score, requestId: 2).encoded(), [UInt8](repeating: 0, count: limit + 1)])
                _ = try? peer.socket.send(
                    [Header(command: .score, requestId: 3).encoded()] + [[UInt8]](repeating: [UInt8](repeating: 0, count: limit / 4 + 1), count: 4))
                _ = try? peer.socket.send([Header(command: .score, requestId: 4).encoded()] + [[UInt8]](repeating: [1], count: 8))
                _ = try? peer.socket.send([Header(command: .score, requestId: 5).encoded(), LimitsTests.tensor(rows: 1, cols: 2)])
                _ = peer.wait(timeoutMs: 30_000) { peer in (1...5).allSatisfy { peer.replies[$0] != nil } }
                return peer
            }
            let raw = try #require(peer)
            let status = { (id: UInt64) in raw.replies[id]?.map(\.header.status) ?? [] }
            #expect(status(1) == [.ok])
            #expect(status(2) == [.tooLarge])
            #expect(status(3) == [.tooLarge])
            #expect(status(4) == [.tooLarge])
            #expect(status(5) == [.ok])
            #expect(raw.replies[2]?.first?.errorText?.contains("\(WireLimits.standard.maxMessageBytes)") == true)
            #expect(raw.replies[4]?.first?.errorText?.contains("limit of 8") == true)
            let counters = try await client.status().counters
            #expect(counters["replies_undeliverable", default: 0] == 0)
            #expect(counters["dropped_too_large"] == 3)
        }
    }

    @Test("a request whose deadline has passed is EXPIRED on a warm broker, never BUSY; header fields a request may not set are BAD_REQUEST")
    func expiredOnWarmBroker() async throws {
        try await ProcessCluster.withPool(workers: ["w1"], workerArguments: ["--input-width", "2"]) { cluster, client in
            for _ in 0..<3 { _ = try await client.score(rows: [[0.5, 0.5]]) }  // the broker now knows the service's latency
            let rows = LimitsTests.tensor(rows: 1, cols: 2)
            for deadline: UInt64 in [Clocks.epochMillis() - 1000, 1] {
                let reply = try await client.roundTrip(
                    WireMessage(header: Header(command: .score, deadlineMs: deadline), payload: [rows]))
                #expect(reply.header.status == .expired, "deadline \(deadline): \(reply.header.status)")
                #expect(reply.header.retryAfterMs == 0)
            }
            var flags = Header(command: .score)
            flags.flags = Header.Flags(rawValue: 0x0004)
            var status = Header(command: .score)
            status.status = .ok
            status.status = .notFound
            var pin = Header(command: .score)
            pin.flags = .exactVersion
            for (header, field) in [(flags, "flags"), (status, "status"), (pin, "model_version")] {
                let reply = try await client.roundTrip(WireMessage(header: header, payload: [rows]))
                #expect(reply.header.status == .badRequest, "\(field)")
                #expect(reply.errorText?.contains(field) == true, "\(reply.errorText ?? "")")
            }
            let counters = try await client.status().counters
            #expect(counters["dropped_busy", default: 0] == 0)
        }
    }

    @Test("a pipelined flood of 16 MiB requests: one reply each, broker RSS stays bounded and returns after the burst")
    func floodOfLargeRequests() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let hwm = ProcessInfo.processInfo.environment["RECPOOL_TEST_RCVHWM"]
        try cluster.startBroker(extra: hwm.map { ["--client-receive-hwm", $0] } ?? [])
        let client = try await cluster.client()
        defer { client.close() }
        _ = try await client.status()
        let broker = try #require(cluster.pid("broker"))
        let warm = try #require(residentBytes(pid: broker))
        let endpoint = cluster.endpoints.frontend
        // 1,024 × 4,095 floats: 16,773,128 bytes, with the header just under the 16 MiB limit.
        let tensor = Self.tensor(rows: 1024, cols: 4095)
        #expect(tensor.count + Header.size <= WireLimits.standard.maxMessageBytes)
        let count = 96
        let (peak, raw) = await DedicatedThread.run(name: "flood") { () -> (Int, RawPeer?) in
            guard let peer = try? RawPeer(endpoint: endpoint, sendHighWaterMark: 2) else { return (0, nil) }
            var peak = 0
            for id in 1...count {
                _ = try? peer.socket.send([Header(command: .score, requestId: UInt64(id)).encoded(), tensor])
                peer.drain()
                peak = max(peak, residentBytes(pid: broker) ?? 0)
            }
            _ = peer.wait(timeoutMs: 60_000) { peer in
                peak = max(peak, residentBytes(pid: broker) ?? 0)
                return (1...count).allSatisfy { peer.replies[UInt64($0)] != nil }
            }
            return (peak, peer)
        }
        let peer = try #require(raw)
        var statuses: [Status: Int] = [:]
        for id in 1...count {
            let replies = peer.replies[UInt64(id)] ?? []
            #expect(replies.count == 1, "request \(id)")
            for reply in replies { statuses[reply.header.status, default: 0] += 1 }
        }
        #expect(Set(statuses.keys).isSubset(of: [.noWorker, .busy]), "\(statuses)")
        // Memory returns once the queue is empty (malloc_trim after the burst, within a second).
        _ = try await cluster.waitForStatus(client) { $0.queues.allSatisfy { $0.depth == 0 } }
        var after = Int.max
        try? await eventually(timeoutMs: 4000, pollMs: 100) {
            after = residentBytes(pid: broker) ?? Int.max
            return after - warm < 64 << 20
        }
        print("flood: \(count) × 16 MiB, \(statuses); broker RSS warm \(warm >> 20) MiB, peak \(peak >> 20) MiB, after \(after >> 20) MiB")
        #expect(after - warm < 64 << 20, "RSS after the flood \(after >> 20) MiB from \(warm >> 20) MiB")

        // Then four at a time through a worker (which refuses their width), 32 in all.
        try cluster.startWorker("w1", extra: ["--input-width", "2"])
        _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        let steady = await DedicatedThread.run(name: "four-at-a-time") { () -> [Status: Int] in
            guard let peer = try? RawPeer(endpoint: endpoint, sendHighWaterMark: 2) else { return [:] }
            var next: UInt64 = 1000
            for _ in 0..<8 {
                let batch = (0..<4).map { _ in
                    next += 1
                    return next
                }
                for id in batch { _ = try? peer.socket.send([Header(command: .score, requestId: id).encoded(), tensor]) }
                _ = peer.wait(timeoutMs: 30_000) { peer in batch.allSatisfy { peer.replies[$0] != nil } }
            }
            return peer.replies.values.reduce(into: [:]) { counts, replies in
                for reply in replies { counts[reply.header.status, default: 0] += 1 }
            }
        }
        #expect(steady.values.reduce(0, +) == 32, "\(steady)")
        var settled = Int.max
        try? await eventually(timeoutMs: 4000, pollMs: 100) {
            settled = residentBytes(pid: broker) ?? Int.max
            return settled - warm < 64 << 20
        }
        print("four at a time: 32 × 16 MiB, \(steady); broker RSS after \(settled >> 20) MiB")
        #expect(settled - warm < 64 << 20, "RSS after four at a time \(settled >> 20) MiB from \(warm >> 20) MiB")
        // What may be held: the client's 64 MiB of requests, 16 + 1 messages of 16 MiB read ahead
        // by libzmq (--client-receive-hwm), a copy in hand: about 400 MiB; the unbounded broker
        // reached 1.5 GiB.
        #expect(peak - warm < 512 << 20, "peak RSS \(peak >> 20) MiB from \(warm >> 20) MiB")
    }

    /// A client reading its replies lost part of a burst: the broker answered every queued request NO_WORKER in one
    /// timer pass, faster than libzmq's I/O thread handed the replies to the connection, and each send past the
    /// frontend's high-water mark was dropped (the helper's run: 4,096 sent, 2,555 answered). Such replies now wait in
    /// the broker (`ReplyBacklog`) for the queue to drain. A reply budget of 1 MiB makes the high-water mark 31
    /// messages, so the burst passes it many times over.
    @Test("a client that reads its replies gets every reply of a burst past its send queue: none is dropped")
    func burstPastSendQueue() async throws {
        try await ProcessCluster.withPool(
            brokerArguments: ["--client-reply-bytes", "1048576", "--no-worker-timeout-ms", "500"], workers: []
        ) { cluster, client in
            let endpoint = cluster.endpoints.frontend
            let count = 1_500
            let tensor = Self.tensor(rows: 1, cols: 1)
            let statuses = await DedicatedThread.run(name: "burst") { () -> [Status: Int] in
                guard let peer = try? RawPeer(endpoint: endpoint, sendHighWaterMark: 10_000) else { return [:] }
                for id in 1...count {
                    _ = try? peer.socket.send([Header(command: .score, requestId: UInt64(id)).encoded(), tensor])
                }
                _ = peer.wait(timeoutMs: 60_000) { $0.replies.count == count }
                #expect(peer.replies.values.allSatisfy { $0.count == 1 }, "a request answered twice")
                return peer.replies.values.reduce(into: [:]) { counts, replies in
                    for reply in replies { counts[reply.header.status, default: 0] += 1 }
                }
            }
            #expect(statuses == [.noWorker: count], "\(statuses)")
            let counters = try await client.status(timeoutMs: 5000).counters
            #expect(counters["replies_dropped_hwm", default: 0] == 0, "\(counters)")
            #expect(counters["replies_no_worker", default: 0] == UInt64(count), "\(counters)")
        }
    }

    @Test("a client that never reads: replies beyond its buffer are dropped and counted apart from replies_ok, warnings are rate-limited, RSS bounded")
    func clientThatNeverReads() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let temporary = try TemporaryDirectory("slow-client")
        defer { temporary.remove() }
        let log = temporary.file("slow-client.log")
        cluster.brokerLog = log
        let client = try await cluster.startPool(workers: ["w1"], workerArguments: ["--input-width", "1"])
        defer { client.close() }
        let broker = try #require(cluster.pid("broker"))
        let warm = try #require(residentBytes(pid: broker))
        let endpoint = cluster.endpoints.frontend
        let count = 10_000
        let request = Self.tensor(rows: 8192, cols: 1)
        let done = LockedBox(false)
        async let sampled = DedicatedThread.run(name: "slow-client") { () -> Int in
            guard let peer = try? RawPeer(endpoint: endpoint, sendHighWaterMark: 64) else { return 0 }
            var peak = 0
            for id in 1...count {
                _ = try? peer.socket.send([Header(command: .score, requestId: UInt64(id)).encoded(), request])
                if id % 100 == 0 { peak = max(peak, residentBytes(pid: broker) ?? 0) }
            }
            // Never reads; stays connected, sampling the broker's RSS, until every request is accounted for.
            while !done.withLock({ $0 }) {
                peak = max(peak, residentBytes(pid: broker) ?? 0)
                usleep(50_000)
            }
            return peak
        }
        // Every SCORE is answered or dropped: what reached libzmq is in replies_<status>, what did
        // not is in replies_dropped_hwm. The STATUS replies (one per earlier STATUS request) are OK.
        func accounted(_ counters: [String: UInt64]) -> (delivered: UInt64, dropped: UInt64) {
            let replies = counters.filter {
                $0.key.hasPrefix("replies_") && $0.key != "replies_dropped_hwm" && $0.key != "replies_undeliverable"
            }.values.reduce(0, +)
            let statusReplies = counters["requests_status", default: 1] - 1
            return (replies - statusReplies, counters["replies_dropped_hwm", default: 0] + counters["replies_undeliverable", default: 0])
        }
        var counters: [String: UInt64] = [:]
        try? await eventually(timeoutMs: 240_000, pollMs: 250) {
            counters = try await client.status(timeoutMs: 5000).counters
            let (delivered, dropped) = accounted(counters)
            return delivered + dropped >= UInt64(count)
        }
        done.withLock { $0 = true }
        let peak = await sampled
        let (delivered, dropped) = accounted(counters)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let warnings = text.split(separator: "\n").filter { $0.contains("reply dropped") }
        print(
            "slow client: \(count) SCOREs of 8,192 rows; delivered \(delivered), dropped \(dropped), "
                + "replies_ok \(counters["replies_ok", default: 0]), busy \(counters["replies_busy", default: 0]); "
                + "\(warnings.count) warning lines; broker RSS warm \(warm >> 20) MiB, peak \(peak >> 20) MiB")
        #expect(delivered + dropped == UInt64(count), "\(counters)")
        #expect(dropped > 0)
        #expect(counters["replies_ok", default: 0] < UInt64(count))
        #expect(warnings.count <= 30, "\(warnings.count) warning lines")
        #expect(peak - warm < 256 << 20, "peak RSS \(peak >> 20) MiB from \(warm >> 20) MiB")
    }
}
