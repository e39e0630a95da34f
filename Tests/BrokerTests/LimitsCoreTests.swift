import RecTestKit
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// The broker core at the edges of its inputs (issues #13 and #14): integers at their extremes,
/// expired requests on a warm broker, header fields a request may not set, byte limits, messages
/// over the size limit, and the attempt on every reply.
@Suite("Broker core: limits and extremes")
struct LimitsCoreTests {
    let client: [UInt8] = [0xC1]
    let other: [UInt8] = [0xC2]
    let workerA: [UInt8] = [0xA]
    let workerB: [UInt8] = [0xB]

    /// A SCORE of `rows` × 2 from `identity`.
    static func score(_ header: Header, rows: Int = 1) -> [[UInt8]] {
        WireMessage(header: header, payload: [Tensor(rows: rows, cols: 2, values: [Float](repeating: 1, count: rows * 2)).encoded()])
            .frames()
    }

    @Test("a deadline of 2^64-1 still in flight at the timer check neither traps nor expires; the worker's reply is delivered")
    func maximumDeadlineInFlight() throws {
        for deadline in [UInt64.max, UInt64.max - 1, UInt64.max - 999, UInt64.max - 1000] {
            var h = CoreHarness()
            h.registerWorker(workerA)
            h.feed(.client(identity: client, frames: Self.score(Header(command: .score, requestId: 1, deadlineMs: deadline)), userId: nil))
            let dispatched = try #require(h.dispatches.first)
            for _ in 0..<5 {
                h.advance(ms: 400)
                // A worker's heartbeat names the version it serves (the one it registered with).
                h.feed(
                    .worker(
                        identity: workerA, frames: [Header(command: .heartbeat, modelVersion: 1).encoded()],
                        peerAddress: nil))
                h.feed(.tick)
            }
            #expect(h.replies(to: client, id: 1).isEmpty, "deadline \(deadline)")
            h.answer(dispatched)
            #expect(h.replies(to: client, id: 1).map(\.header.status) == [.ok], "deadline \(deadline)")
        }
    }

    @Test("NO_WORKER timeouts, heartbeats and expiry at configured extremes do not trap")
    func configurationExtremes() {
        var h = CoreHarness {
            $0.noWorkerTimeoutMs = .max
            $0.inflightGraceMs = .max
            $0.heartbeatIntervalMs = .max
            $0.liveness = .max
        }
        h.registerWorker(workerA)
        h.feed(.client(identity: client, frames: Self.score(Header(command: .score, requestId: 1, deadlineMs: .max)), userId: nil))
        h.now.monotonicMicros = .max - 1
        h.now.epochMillis = .max - 1
        h.feed(.tick)
        _ = h.core.nextTimerDelayMs(now: h.now)
        #expect(h.core.outstandingRequests == 1)
    }

    @Test("workers announcing the most slots a READY takes (UInt32.max) and UInt32.max in heartbeats are summed without trapping")
    func slotExtremes() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: Int(UInt32.max))
        h.registerWorker([0xB], slots: Int(UInt32.max))
        h.score(from: client, id: 1)
        h.advance(ms: 5)
        h.answer(try #require(h.dispatches.first))  // the latency is known: admission sums the slots
        h.score(from: client, id: 2, deadlineMs: h.now.epochMillis + 1000)
        #expect(h.dispatches.count == 2)
        let load = WorkerLoad(slots: .max, queued: .max)
        h.feed(.worker(identity: workerA, frames: WireMessage(header: Header(command: .heartbeat), payload: [load.encoded()]).frames(), peerAddress: nil))
        h.score(from: client, id: 3, deadlineMs: h.now.epochMillis + 1000)
        #expect(h.dispatches.count == 3)
    }

    /// A worker registered with 0 slots (not draining) offered SCORE but never took a request: a queued SCORE without a
    /// deadline waited for ever, the no-worker timeout never firing while that worker stayed.
    @Test("workers of 0 slots take nothing: a queued request is NO_WORKER after the timeout, naming the 0 slots")
    func zeroSlotWorkers() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        h.registerWorker(workerA, slots: 0)
        h.score(from: client, id: 1)
        h.feed(.tick)
        #expect(h.dispatches.isEmpty && h.replies(to: client, id: 1).isEmpty)
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .noWorker)
        #expect(reply.errorText?.contains("reports 0 slots") == true, "\(reply.errorText ?? "")")
        #expect(h.core.counters[.droppedNoWorker] == 1)
        // A worker with credit beside it takes the next one.
        h.registerWorker(workerB, slots: 1)
        h.score(from: client, id: 2)
        #expect(h.dispatches.map(\.identity) == [workerB])
    }

    /// A helper's case: beside a worker of another width with credit, the 0-slot worker of the request's width fell
    /// through to CONFLICT "no live worker holds a registered model", though nothing claimed a version.
    @Test("a 0-slot worker of the request's width is NO_WORKER naming the 0 slots, whatever other widths have credit")
    func zeroSlotWorkerBesideAnotherWidth() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        h.registerWorker(workerA, slots: 0, version: 0, inputWidth: 5)
        h.registerWorker(workerB, slots: 4, version: 0, inputWidth: 3)
        h.score(from: client, id: 1, cols: 5)
        h.feed(.tick)
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .noWorker)
        #expect(
            reply.errorText?.contains("every live worker that may take this SCORE for rows of 5 features (1) reports 0 slots") == true,
            "\(reply.errorText ?? "")")
        #expect(h.core.counters[.droppedNoWorker] == 1 && h.core.counters[.droppedNoVersion] == 0)
    }

    /// A reviewer's case: the worker holding the promoted version reported 0 slots beside a seeded one with credit, and
    /// the request was told CONFLICT "no live worker has the promoted model version 2 yet", though one had it.
    @Test("a 0-slot worker on the promoted version beside a seeded one is NO_WORKER naming the 0 slots")
    func zeroSlotWorkerOnThePromotedVersion() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        let v2 = [Header(command: .weights, modelVersion: 2).encoded(), WireJSON.encode(WeightsNotice(version: 2, sha256: "s2")), [2]]
        h.feed(.rollout(version: 2, frames: v2, inputWidth: 2))
        h.registerWorker(workerA, slots: 0, version: 2)
        h.registerWorker(workerB, slots: 4, version: 0)
        h.score(from: client, id: 1)
        h.feed(.tick)
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .noWorker, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains("(1) reports 0 slots") == true, "\(reply.errorText ?? "")")
    }

    /// A reviewer's case: the no-worker timeout counted from each request's arrival, so when every worker paused
    /// (0 slots) for one tick, every request already queued past the timeout was failed at once.
    @Test("a pause of every worker (0 slots) fails queued requests only once it lasts the no-worker timeout")
    func pauseDoesNotFailTheBacklog() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1)
        h.score(from: client, id: 2)
        #expect(h.dispatches.count == 1)
        // Request 2 waits behind 1 for two seconds, then the worker pauses.
        h.advance(ms: 2_000)
        h.feed(.tick)
        var load = WorkerLoad(slots: 0, queued: 0)
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, modelVersion: 1).encoded(), load.encoded()], peerAddress: nil))
        h.feed(.tick)
        #expect(h.replies(to: client, id: 2).isEmpty, "failed on the pause's first tick")
        h.advance(ms: 300)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 2).isEmpty)
        // Credit again before the timeout: request 2 is served once request 1 is answered.
        load = WorkerLoad(slots: 1, queued: 0)
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, modelVersion: 1).encoded(), load.encoded()], peerAddress: nil))
        h.answer(try #require(h.dispatches.first))
        #expect(h.dispatches.map(\.message.header.requestId).count == 2)
        #expect(h.core.counters[.droppedNoWorker] == 0)
    }

    @Test("an expired request is EXPIRED on a warm broker too: after a SCORE completed, with a full queue, and while shedding on the header")
    func expiredNeverBusy() throws {
        var h = CoreHarness { $0.queueCapacity = 1 }
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1)
        h.advance(ms: 10)
        h.answer(try #require(h.dispatches.first))  // the service's latency is now known
        h.score(from: client, id: 2)  // in flight
        h.score(from: client, id: 3)  // queued: the queue is full
        let past = h.now.epochMillis - 1
        h.score(from: client, id: 4, deadlineMs: past)
        let header = Header(command: .score, requestId: 5, deadlineMs: past)
        #expect(h.core.requestToShed(headerFrame: header.encoded(), identity: client, payloadBytes: 16, userId: nil, now: h.now) != nil)
        h.feed(.clientShed(identity: client, header: header, payloadBytes: 16))
        h.score(from: client, id: 6, deadlineMs: 1)  // the far past
        for id: UInt64 in [4, 5, 6] {
            let replies = h.replies(to: client, id: id)
            #expect(replies.map(\.header.status) == [.expired], "request \(id)")
            #expect(replies.first?.header.retryAfterMs == 0)
        }
        #expect(h.core.counters[.droppedBusy] == 0)
        #expect(h.core.counters[.droppedExpired] == 3)
        // During a shutdown as well.
        h.core.beginShutdown()
        h.score(from: client, id: 7, deadlineMs: past)
        #expect(h.replies(to: client, id: 7).map(\.header.status) == [.expired])
    }

    @Test("undefined flag bits, a status, a reserved byte or an exact pin without a version get BAD_REQUEST naming the field")
    func headerFieldsARequestMayNotSet() {
        var h = CoreHarness()
        h.registerWorker(workerA)
        var undefined = Header(command: .score, requestId: 1)
        undefined.flags = Header.Flags(rawValue: 0x8000)
        var drain = Header(command: .score, requestId: 2)
        drain.flags = .drain
        var status = Header(command: .score, requestId: 3)
        status.status = .busy
        var pin = Header(command: .score, requestId: 4)
        pin.flags = .exactVersion
        var reserved = Header(command: .score, requestId: 5).encoded()
        reserved[5] = 1
        var tail = Header(command: .score, requestId: 6).encoded()
        tail[55] = 1
        for header in [undefined, drain, status, pin] {
            #expect(h.core.requestToShed(headerFrame: header.encoded(), userId: nil, now: h.now) == nil)
            h.feed(.client(identity: client, frames: Self.score(header), userId: nil))
        }
        h.feed(.client(identity: client, frames: [reserved, Tensor(rows: 1, cols: 2, values: [1, 1]).encoded()], userId: nil))
        h.feed(.client(identity: client, frames: [tail, Tensor(rows: 1, cols: 2, values: [1, 1]).encoded()], userId: nil))
        let expected: [(UInt64, String)] = [(1, "flags"), (2, "flags"), (3, "status"), (4, "model_version"), (5, "reserved"), (6, "reserved")]
        for (id, field) in expected {
            let replies = h.replies(to: client, id: id)
            #expect(replies.map(\.header.status) == [.badRequest], "request \(id)")
            #expect(replies.first?.errorText?.contains(field) == true, "request \(id): \(replies.first?.errorText ?? "")")
        }
        #expect(h.dispatches.isEmpty)
        // A pin with a version, and the drain flag on a HEARTBEAT, are fine.
        h.score(from: client, id: 7, version: 1, exact: true)
        #expect(h.dispatches.count == 1)
    }

    @Test("a client past its byte limit gets BUSY naming the limit; another client is still served; bytes are released with the replies")
    func clientBytes() throws {
        // Each request carries 8 + 2 × 4 × rows bytes of tensor: 8,008 for 1,000 rows.
        var h = CoreHarness {
            $0.clientBytesLimit = 20_000
            $0.serviceBytesLimit = 30_000
        }
        h.registerWorker(workerA, slots: 1)
        for id in 1...3 {
            h.feed(.client(identity: client, frames: Self.score(Header(command: .score, requestId: UInt64(id)), rows: 1000), userId: nil))
        }
        let refused = h.replies(to: client, id: 3)
        #expect(refused.map(\.header.status) == [.busy])
        #expect(refused.first?.errorText?.contains("--client-bytes") == true)
        #expect(refused.first?.header.retryAfterMs ?? 0 > 0)
        #expect(h.core.heldBytes == 16_016)
        // The header alone tells the reactor, before the payload is copied.
        let next = Header(command: .score, requestId: 4).encoded()
        #expect(h.core.requestToShed(headerFrame: next, identity: client, payloadBytes: 8008, userId: nil, now: h.now) != nil)
        #expect(h.core.requestToShed(headerFrame: next, identity: other, payloadBytes: 8008, userId: nil, now: h.now) == nil)
        // The service limit: another client's request fits its own limit but not the service's.
        h.feed(.client(identity: other, frames: Self.score(Header(command: .score, requestId: 1), rows: 1000), userId: nil))
        h.feed(.client(identity: other, frames: Self.score(Header(command: .score, requestId: 2), rows: 1000), userId: nil))
        #expect(h.replies(to: other, id: 1).isEmpty)
        let service = h.replies(to: other, id: 2)
        #expect(service.map(\.header.status) == [.busy])
        #expect(service.first?.errorText?.contains("--queue-bytes") == true)
        #expect(h.core.counters[.droppedBusyBytes] == 2)
        // Served, the requests release their bytes.
        while h.core.heldBytes > 0, let next = h.dispatches.first {
            h.sentToWorkers.removeAll { $0.message.header.requestId == next.message.header.requestId }
            h.answer(next)
        }
        #expect(h.core.heldBytes == 0)
        #expect(h.core.peakHeldBytes == 24_024)
    }

    /// A client that cancelled its in-flight requests (or whose deadline passed while a worker held them) was answered,
    /// yet its bytes stayed counted until the worker answered: its next request got BUSY "already hold 16016 bytes"
    /// for requests it no longer had.
    @Test("bytes of an in-flight request are let go when its client is answered (CANCEL, expiry), not when its worker answers")
    func answeredInFlightReleasesBytes() throws {
        for expire in [false, true] {
            var h = CoreHarness { $0.clientBytesLimit = 20_000 }
            h.registerWorker(workerA, slots: 2)
            let deadline: UInt64 = expire ? h.now.epochMillis + 100 : 0
            for id in 1...2 {
                h.feed(
                    .client(
                        identity: client, frames: Self.score(Header(command: .score, requestId: UInt64(id), deadlineMs: deadline), rows: 1000),
                        userId: nil))
            }
            let held = h.dispatches
            #expect(held.count == 2 && h.core.heldBytes == 16_016)
            if expire {
                h.advance(ms: 10_000)
                h.feed(.tick)
                #expect(h.replies(to: client, id: 1).map(\.header.status) == [.expired])
            } else {
                for id in 1...2 {
                    let cancel = WireMessage(
                        header: Header(command: .cancel, requestId: 100 + UInt64(id)), payload: [CancelPayload.encode(UInt64(id))])
                    h.feed(.client(identity: client, frames: cancel.frames(), userId: nil))
                }
                #expect(h.replies(to: client, id: 1).map(\.header.status) == [.cancelled])
            }
            #expect(h.core.heldBytes == 0, "expire \(expire)")
            // The next request fits the client's budget again, though the worker still holds the two.
            h.feed(.client(identity: client, frames: Self.score(Header(command: .score, requestId: 3), rows: 1000), userId: nil))
            #expect(!h.replies(to: client, id: 3).contains { $0.header.status == .busy }, "expire \(expire)")
            #expect(h.core.heldBytes == 8_008)
            // The worker's late answers change nothing: no second reply, no bytes let go twice.
            for dispatched in held { h.answer(dispatched) }
            #expect(h.replies(to: client, id: 1).count == 1 && h.replies(to: client, id: 2).count == 1)
            #expect(h.core.heldBytes == 8_008, "expire \(expire)")
            #expect(h.core.counters[.droppedLateReplies] == 2)
        }
    }

    @Test("a message over the frame or byte limit is answered TOO_LARGE naming the limit, with its request id")
    func tooLarge() {
        var h = CoreHarness()
        let header = Header(command: .score, requestId: 9).encoded()
        h.feed(.clientTooLarge(identity: client, headerFrame: header, messageBytes: (16 << 20) + 57, frameCount: 2))
        let bytes = h.replies(to: client, id: 9)
        #expect(bytes.map(\.header.status) == [.tooLarge])
        #expect(bytes.first?.errorText?.contains("\(16 << 20)") == true)
        var broken = Header(command: .score, requestId: 10).encoded()
        broken[3] = 7
        h.feed(.clientTooLarge(identity: client, headerFrame: broken, messageBytes: 100, frameCount: 9))
        let frames = h.replies(to: client, id: 10)
        #expect(frames.map(\.header.status) == [.tooLarge])
        #expect(frames.first?.errorText?.contains("limit of 8") == true)
        #expect(h.core.counters[.droppedTooLarge] == 2)
        // The full path says the same about a message it did copy.
        let big = [Header(command: .score, requestId: 11).encoded()] + [[UInt8]](repeating: [0], count: 8)
        h.feed(.client(identity: client, frames: big, userId: nil))
        #expect(h.replies(to: client, id: 11).map(\.header.status) == [.tooLarge])
    }

    @Test("broker error replies carry the attempt: 0 before any dispatch, the dispatch count after")
    func attemptOnBrokerReplies() throws {
        var h = CoreHarness { $0.maxAttempts = 1 }
        h.registerWorker(workerA, slots: 1)
        var header = Header(command: .score, requestId: 1, deadlineMs: h.now.epochMillis + 50)
        header.attempt = 7  // a client's attempt field means nothing to the broker
        h.feed(.client(identity: client, frames: Self.score(header), userId: nil))
        h.advance(ms: 2000)
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat).encoded()], peerAddress: nil))
        h.feed(.tick)
        let expired = h.replies(to: client, id: 1)
        #expect(expired.map(\.header.status) == [.expired])
        #expect(expired.first?.header.attempt == 1)
        h.feed(.client(identity: client, frames: Self.score(Header(command: .score, requestId: 2, deadlineMs: 1)), userId: nil))
        #expect(h.replies(to: client, id: 2).first?.header.attempt == 0)
    }

    @Test("replies the broker makes to STATUS, CANCEL, CONTROL and FEEDBACK echo the request's attempt, errors included")
    func attemptEchoedOnOtherCommands() throws {
        var h = CoreHarness()
        var id: UInt64 = 100
        func send(_ command: Command, flags: UInt16 = 0, payload: [[UInt8]]) -> WireMessage? {
            id += 1
            var header = Header(command: command, requestId: id)
            header.attempt = 7
            header.flags = Header.Flags(rawValue: flags)
            h.feed(.client(identity: client, frames: WireMessage(header: header, payload: payload).frames(), userId: nil))
            return h.replies(to: client, id: id).first
        }
        // CANCEL of nothing (NOT_FOUND), STATUS with a flag it may not set, CONTROL drain of no worker.
        let cancel = try #require(send(.cancel, payload: [withUnsafeBytes(of: UInt64(99).littleEndian) { Array($0) }]))
        let status = try #require(send(.status, flags: 0x8000, payload: []))
        let drain = try #require(send(.control, payload: [WireJSON.encode(ControlRequest(op: "drain", worker: "nobody"))]))
        for reply in [cancel, status, drain] {
            #expect(reply.header.status != .ok, "\(reply.header)")
            #expect(reply.header.attempt == 7, "\(reply.header.command) \(reply.header.status)")
        }
    }

    @Test("a SCORE over the row or column limit is TOO_LARGE and counted with the size refusals, not as invalid")
    func tensorOverLimitsCountsAsTooLarge() throws {
        var h = CoreHarness { $0.limits.maxRows = 4; $0.limits.maxColumns = 2 }
        h.registerWorker(workerA)
        h.feed(.client(identity: client, frames: Self.score(Header(command: .score, requestId: 1), rows: 5), userId: nil))
        let wide = WireMessage(
            header: Header(command: .score, requestId: 2), payload: [Tensor(rows: 1, cols: 3, values: [1, 2, 3]).encoded()])
        h.feed(.client(identity: client, frames: wide.frames(), userId: nil))
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.tooLarge])
        #expect(h.replies(to: client, id: 2).map(\.header.status) == [.tooLarge])
        #expect(h.core.counters[.droppedTooLarge] == 2)
        #expect(h.core.counters[.invalidRequests] == 0)
    }

    @Test("seeded extremes in every header field: exactly one well-formed reply per request, and the core never traps")
    func seededExtremes() throws {
        var random = FuzzRandom(seed: FuzzSeed.seeds(count: 1, base: 0x5EED_0001)[0])
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4)
        let start = h.now.epochMillis
        let extremes64: [UInt64] = [0, 1, 2, .max, .max - 1, .max / 2, UInt64(Int64.max), UInt64(Int64.max) + 1]
        func extreme64() -> UInt64 {
            switch random.below(4) {
            case 0: return extremes64[random.below(extremes64.count)]
            case 1: return start &+ UInt64(random.below(2000)) &- 1000  // near now
            case 2: return start &+ (random.next() >> 1)  // far future
            default: return random.next()
            }
        }
        func extreme32() -> UInt32 { [0, 1, .max, .max - 1, UInt32(truncatingIfNeeded: random.next())][random.below(5)] }
        func extreme16() -> UInt16 { [0, 1, .max, .max - 1, UInt16(truncatingIfNeeded: random.next())][random.below(5)] }
        var sent: [UInt64] = []
        for index in 0..<2000 {
            let id = UInt64(index) &* 0x9E37_79B9_7F4A_7C15  // unique (an odd factor), spread over the range
            var header = Header(command: random.below(5) == 0 ? .recommend : .score, requestId: id)
            header.deadlineMs = extreme64()
            header.modelVersion = random.below(2) == 0 ? 0 : extreme64()
            header.flags = Header.Flags(rawValue: random.below(3) == 0 ? extreme16() : 0)
            if random.below(8) == 0 { header.status = Status.allCases[random.below(Status.allCases.count)] }
            header.attempt = extreme16()
            header.brokerQueueMicros = extreme32()
            header.workerQueueMicros = extreme32()
            header.computeMicros = extreme32()
            header.retryAfterMs = extreme32()
            var payload: [UInt8]
            if header.command == .recommend {
                payload = Array(#"{"user":1}"#.utf8)
            } else {
                payload = Tensor(rows: 1, cols: 2, values: [1, 2]).encoded()
                if random.below(6) == 0 {  // a shape at the edge of UInt32
                    let rows = [UInt32.max, UInt32.max - 1, 0, 1, 1 << 16][random.below(5)]
                    let cols = [UInt32.max, 2, 0, 1 << 16][random.below(4)]
                    payload.replaceSubrange(0..<4, with: withUnsafeBytes(of: rows.littleEndian, Array.init))
                    payload.replaceSubrange(4..<8, with: withUnsafeBytes(of: cols.littleEndian, Array.init))
                }
            }
            h.feed(.client(identity: client, frames: [header.encoded(), payload], userId: nil))
            sent.append(id)
            // The worker answers what it holds, echoing extremes in its own reply fields.
            for dispatched in h.dispatches.shuffledPrefix(random.below(3), using: &random) {
                h.sentToWorkers.removeAll { $0.message.header.requestId == dispatched.message.header.requestId }
                var reply = dispatched.message.header.reply(status: .ok, modelVersion: extreme64())
                reply.workerQueueMicros = extreme32()
                reply.computeMicros = extreme32()
                let frames = [reply.encoded(), Tensor(rows: 1, cols: 1, values: [0.5]).encoded()]
                h.feed(.worker(identity: workerA, frames: frames, peerAddress: nil))
            }
            if index % 50 == 0 {
                h.advance(ms: UInt64(random.below(3000)))
                h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, modelVersion: extreme64()).encoded()], peerAddress: nil))
                h.feed(.tick)
            }
        }
        // Drain: the worker answers everything left; time runs until every deadline that can pass has.
        while let dispatched = h.dispatches.first {
            h.sentToWorkers.removeAll { $0.message.header.requestId == dispatched.message.header.requestId }
            h.answer(dispatched)
        }
        h.core.beginShutdown()
        var actions: [BrokerAction] = []
        h.core.abandonOutstanding(into: &actions)
        for case .sendToClient(let identity, let frames) in actions {
            h.sentToClients.append((identity, try WireMessage(decoding: frames)))
        }
        for id in sent {
            let replies = h.replies(to: client, id: id)
            #expect(replies.count == 1, "request \(id): \(replies.map(\.header.status))")
            if let reply = replies.first {
                #expect(reply.header.isReply)
                #expect(reply.header.status == .ok || reply.errorText?.isEmpty == false)
            }
        }
    }
}

extension Array {
    /// Up to `count` elements, picked with `random`.
    func shuffledPrefix(_ count: Int, using random: inout FuzzRandom) -> [Element] {
        var copy = self
        var picked: [Element] = []
        while picked.count < count, !copy.isEmpty { picked.append(copy.remove(at: random.below(copy.count))) }
        return picked
    }
}
