import Foundation
import RecClient
import RecTestKit
import RecTransport
import RecWire
import Testing

/// What a command does when the peer at `--broker` answers with something that is not a RecPool reply (another
/// service on the port, a broker of another protocol): exit 7 naming the broken reply, never "healthy", never a
/// crash. docs/OPERATIONS.md lists 7 for `recpool health` too.
@Suite("A reply that does not decode", .serialized)
struct UndecodableReplyTests {
    /// A ROUTER on a loopback port answering every message with `answer` on its own thread, until stopped.
    final class GarbageRouter: @unchecked Sendable {
        let context = ZMQContext()
        let socket: ZMQSocket
        let endpoint: String
        private let stopped = LockedBox(false)
        private let finished = DispatchSemaphore(value: 0)

        convenience init(answer: [[UInt8]]) throws {
            try self.init { _ in answer }
        }

        /// Answers each message's frames (without the identity) with `answer(frames)`.
        init(answering answer: @escaping @Sendable ([[UInt8]]) -> [[UInt8]]) throws {
            socket = try ZMQSocket(context, type: .router)
            try socket.bind("tcp://127.0.0.1:*")
            endpoint = try socket.lastEndpoint()
            Thread.detachNewThread { [self] in
                var poller = ZMQPoller([PollItem(socket: socket)])
                while !stopped.withLock({ $0 }) {
                    _ = try? poller.poll(timeoutMilliseconds: 20)
                    while let message = try? socket.receive(dontWait: true), let identity = message.frames.first {
                        _ = try? socket.send(to: identity, answer(Array(message.frames.dropFirst())), dontWait: true)
                    }
                }
                finished.signal()
            }
        }

        func stop() {
            stopped.withLock { $0 = true }
            finished.wait()
            socket.close()
        }
    }

    @Test("health and status exit 7 naming the reply, for a short frame and for a header of another magic")
    func exitsSeven() throws {
        var header = Header(command: .status).reply()
        header.status = .ok
        var otherMagic = header.encoded()
        otherMagic[0] = UInt8(ascii: "X")
        for answer in [[[UInt8]([1, 2, 3])], [otherMagic, Array("{}".utf8)]] {
            let router = try GarbageRouter(answer: answer)
            defer { router.stop() }
            for command in [["health"], ["health", "--service", "RECOMMEND"], ["status"]] {
                let run = try runTool("recpool", command + ["--broker", router.endpoint, "--timeout-ms", "3000"])
                #expect(run.code == 7, "\(command) \(answer.map(\.count)): \(run.code) \(run.stdout) \(run.stderr)")
                #expect(!run.stdout.contains("healthy"), "\(run.stdout)")
                #expect(!run.stderr.isEmpty)
            }
        }
    }

    @Test("callers waiting together all fail with a reply that names no request, as the Python clients do")
    func concurrentCallers() async throws {
        let router = try GarbageRouter(answer: [[7, 7]])
        defer { router.stop() }
        let client = try await RecPoolClient(endpoint: router.endpoint)
        defer { client.close() }
        @Sendable func call() async -> Result<StatusDocument, ClientError> {
            do throws(ClientError) { return .success(try await client.status(timeoutMs: 600)) } catch { return .failure(error) }
        }
        async let first = call()
        async let second = call()
        for result in await [first, second] {
            guard case .failure(.protocolViolation) = result else {
                Issue.record("expected a protocol violation, got \(result)")
                continue
            }
        }
    }

    @Test("score exits 7 naming the row when a SCORE reply holds a score outside [0, 1], NaN included",
          arguments: [(Float(1.5), "1.5"), (Float.nan, "nan"), (-Float.infinity, "-inf")])
    func scoreOutsideUnitInterval(_ bad: (value: Float, text: String)) throws {
        let router = try GarbageRouter { frames in
            guard let request = try? Header(decoding: frames.first ?? []) else { return [[1]] }
            return [
                request.reply(status: .ok, modelVersion: 0).encoded(),
                Tensor(rows: 2, cols: 1, values: [0.5, bad.value]).encoded(),
            ]
        }
        defer { router.stop() }
        let folder = try TemporaryDirectory("score-range")
        defer { folder.remove() }
        let input = folder.path + "/rows.csv"
        try "0.1,0.2,0.3\n0.4,0.5,0.6\n".write(toFile: input, atomically: true, encoding: .utf8)
        let run = try runTool("recpool", ["score", "--broker", router.endpoint, "--input", input, "--timeout-ms", "3000"])
        #expect(run.code == 7, "\(run.code) \(run.stdout) \(run.stderr)")
        #expect(
            run.stderr.contains("the score of row 1 (0-based) is \(bad.text), not a probability in [0, 1]"), "\(run.stderr)")
        #expect(run.stdout.isEmpty, "\(run.stdout)")
    }

    @Test("a bad score in a later request of a split call is named by its row among all the rows")
    func splitRowNamed() async throws {
        let perRequest = RecPoolClient.rowsPerRequest(columns: 1)
        let router = try GarbageRouter { frames in
            guard let request = try? Header(decoding: frames.first ?? []), frames.count == 2,
                let rows = try? Tensor.validate(frames[1]).rows
            else { return [[1]] }
            var values = [Float](repeating: 0.5, count: rows)
            if rows < perRequest { values[rows - 1] = 3 }  // the last request's last row
            return [request.reply(status: .ok, modelVersion: 0).encoded(), Tensor(rows: rows, cols: 1, values: values).encoded()]
        }
        defer { router.stop() }
        let client = try await RecPoolClient(endpoint: router.endpoint)
        defer { client.close() }
        let total = perRequest + 10
        do {
            _ = try await client.scoreSplit(rows: Array(repeating: [0.25], count: total), timeoutMs: 5_000)
            Issue.record("a score of 3 was returned")
        } catch .protocolViolation(.scoreOutOfRange(let row, let value)) {
            #expect(row == total - 1 && value == 3, "row \(row)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// A frame without the reply bit whose id could be read (a broker's backend sends id 0) was taken for a late reply
    /// when it did not decode, and every caller timed out.
    @Test("a garbled message without the reply bit fails every waiting call at once")
    func garbledNonReply() throws {
        var bytes = Header(command: .disconnect).encoded()
        bytes[3] = 2  // protocol version 2: it does not decode, but its request id can be read
        let router = try GarbageRouter(answer: [bytes])
        defer { router.stop() }
        let run = try runTool("recpool", ["status", "--broker", router.endpoint, "--timeout-ms", "20000"])
        #expect(run.code == 7, "\(run.code) \(run.stderr)")
        #expect(run.stderr.contains("protocol version 2"), "\(run.stderr)")
    }

    /// The broker's backend answers a stranger's message with a DISCONNECT (a worker it does not know): `health` and
    /// `status` pointed at it said "timed out" (exit 3), as if nothing had answered.
    @Test("health and status pointed at the broker's backend exit 7, saying it is the worker endpoint")
    func backendEndpoint() async throws {
        try await ProcessCluster.with { cluster in
            try cluster.startBroker()
            for command in [["health"], ["status"]] {
                let run = try runTool("recpool", command + ["--broker", cluster.endpoints.backend, "--timeout-ms", "3000"])
                #expect(run.code == 7, "\(command): \(run.code) \(run.stdout) \(run.stderr)")
                #expect(run.stderr.contains("the peer sent a DISCONNECT that is not a reply"), "\(run.stderr)")
                #expect(run.stderr.contains("backend"), "\(run.stderr)")
            }
        }
    }

    @Test("recommend exits 7 naming the item when a model's ranking holds a score outside [0, 1]")
    func rankingOutsideUnitInterval() throws {
        let router = try GarbageRouter { frames in
            guard let request = try? Header(decoding: frames.first ?? []) else { return [[1]] }
            let document = #"{"items":[{"item":4,"score":1.25}],"source":"model","model_version":0}"#
            return [request.reply(status: .ok, modelVersion: 0).encoded(), Array(document.utf8)]
        }
        defer { router.stop() }
        let run = try runTool("recpool", ["recommend", "--broker", router.endpoint, "--timeout-ms", "3000"])
        #expect(run.code == 7, "\(run.code) \(run.stdout) \(run.stderr)")
        #expect(run.stderr.contains("the model ranking gives item 4 the score 1.25, not a probability in [0, 1]"), "\(run.stderr)")
    }

    /// A rollback from 5 to 4 straddled by a split call: the parts answered by 4 were sent again pinned to 5, the
    /// highest number, which the pool was leaving (CONFLICT). They go to the promoted version now.
    @Test("a split call answered by two versions is sent again pinned to the promoted one, even a lower number")
    func splitRepinsToPromoted() async throws {
        let perRequest = RecPoolClient.rowsPerRequest(columns: 1)
        let pinned = LockedBox<[UInt64]>([])
        let router = try GarbageRouter { frames in
            guard let request = try? Header(decoding: frames.first ?? []) else { return [[1]] }
            if request.command == .status {
                let status = StatusDocument(
                    protocolVersion: 1, uptimeMs: 1, workers: [], queues: [], inflight: 0, counters: [:],
                    promotedVersion: 4)
                return [request.reply(status: .ok, modelVersion: 0).encoded(), WireJSON.encode(status)]
            }
            guard frames.count == 2, let rows = try? Tensor.validate(frames[1]).rows else { return [[1]] }
            let version: UInt64
            if request.flags.contains(.exactVersion) {
                pinned.withLock { $0.append(request.modelVersion) }
                version = request.modelVersion
            } else {
                version = rows == perRequest ? 5 : 4  // the first part from the version the pool leaves
            }
            return [
                request.reply(status: .ok, modelVersion: version).encoded(),
                Tensor(rows: rows, cols: 1, values: Array(repeating: 0.5, count: rows)).encoded(),
            ]
        }
        defer { router.stop() }
        let client = try await RecPoolClient(endpoint: router.endpoint)
        defer { client.close() }
        let scores = try await client.scoreSplit(rows: Array(repeating: [0.25], count: perRequest + 10), timeoutMs: 5_000)
        #expect(scores.modelVersion == 4 && scores.values.count == perRequest + 10)
        #expect(pinned.withLock { $0 } == [4])
    }

    /// Promotions flipping 5 ↔ 10 during a split call: the parts sent again pinned to 10 met a pool back on 5 and were
    /// refused CONFLICT naming a pin the caller never set. The call asks STATUS again and pins to 5; a rollout that
    /// never settles ends in CONFLICT naming the versions, after `rolloutRounds` rounds.
    @Test("a split call whose own pin meets the next rollout asks STATUS again; one that never settles names the versions")
    func splitFollowsAFlippingRollout() async throws {
        let perRequest = RecPoolClient.rowsPerRequest(columns: 1)
        for settles in [true, false] {
            let statusCalls = LockedBox(0)
            let router = try GarbageRouter { frames in
                guard let request = try? Header(decoding: frames.first ?? []) else { return [[1]] }
                if request.command == .status {
                    let calls = statusCalls.withLock { count in
                        count += 1
                        return count
                    }
                    let status = StatusDocument(
                        protocolVersion: 1, uptimeMs: 1, workers: [], queues: [], inflight: 0, counters: [:],
                        promotedVersion: settles && calls > 2 ? 5 : 10)
                    return [request.reply(status: .ok, modelVersion: 0).encoded(), WireJSON.encode(status)]
                }
                guard frames.count == 2, let rows = try? Tensor.validate(frames[1]).rows else { return [[1]] }
                if request.flags.contains(.exactVersion) && request.modelVersion == 10 {
                    return [
                        request.reply(status: .conflict, modelVersion: 5).encoded(),
                        Array("request pins model version 10; this worker serves 5".utf8),
                    ]
                }
                let version: UInt64 = request.flags.contains(.exactVersion) ? request.modelVersion : (rows == perRequest ? 5 : 10)
                return [
                    request.reply(status: .ok, modelVersion: version).encoded(),
                    Tensor(rows: rows, cols: 1, values: Array(repeating: 0.5, count: rows)).encoded(),
                ]
            }
            defer { router.stop() }
            let client = try await RecPoolClient(endpoint: router.endpoint)
            defer { client.close() }
            let rows = Array(repeating: [Float(0.25)], count: perRequest + 10)
            if settles {
                let scores = try await client.scoreSplit(rows: rows, timeoutMs: 5_000)
                #expect(scores.modelVersion == 5 && scores.values.count == perRequest + 10)
                // The STATUS before the parts go out and after they are in (which model serves the version), and
                // the two that chose the pin.
                #expect(statusCalls.withLock { $0 } == 4)
            } else {
                await #expect {
                    _ = try await client.scoreSplit(rows: rows, timeoutMs: 5_000)
                } throws: { error in
                    guard case ClientError.server(.conflict, let message, _) = error else { return false }
                    return message.contains("kept changing while this call's 2 requests were scored (versions 5, 10)")
                }
                #expect(statusCalls.withLock { $0 } == RecPoolClient.rolloutRounds + 2)
            }
        }
    }

    /// Version 0 names every unregistered model: the worker holding it drained mid-call, another model took the
    /// number over, and the call returned rows of both models as version 0's scores.
    @Test("a split call whose version changed model meanwhile is CONFLICT naming both; the same model is fine")
    func splitNoticesAModelChangeUnderOneNumber() async throws {
        let perRequest = RecPoolClient.rowsPerRequest(columns: 1)
        @Sendable func worker(
            _ id: String, seed: UInt64, draining: Bool = false, idle: String? = nil, version: UInt64 = 0
        ) -> StatusDocument.Worker {
            StatusDocument.Worker(
                id: id, address: "", slots: 1, inflight: 0, modelVersion: version, inputWidth: 1, heartbeatAgeMs: 0,
                services: ["SCORE"], completed: 0, errors: 0, pid: 1, modelSource: "seeded", modelSeed: seed,
                idleReason: idle, draining: draining)
        }
        // The third case: every worker moved on to version 3 once the parts were answered (a promotion), so nothing
        // serves 0 afterwards; the call was refused "a worker drained, left or joined" with an empty "after".
        for (changes, movedOn) in [(true, false), (false, false), (false, true)] {
            let statusCalls = LockedBox(0)
            let router = try GarbageRouter { frames in
                guard let request = try? Header(decoding: frames.first ?? []) else { return [[1]] }
                if request.command == .status {
                    let first = statusCalls.withLock { count in
                        count += 1
                        return count == 1
                    }
                    let workers =
                        movedOn && !first
                        ? [worker("s42", seed: 42, version: 3), worker("s7", seed: 7, version: 3)]
                        : first || !changes
                        ? [worker("s42", seed: 42), worker("s7", seed: 7, idle: "another model holds v0")]
                        : [worker("s42", seed: 42, draining: true), worker("s7", seed: 7)]
                    let status = StatusDocument(
                        protocolVersion: 1, uptimeMs: 1, workers: workers, queues: [], inflight: 0, counters: [:])
                    return [request.reply(status: .ok, modelVersion: 0).encoded(), WireJSON.encode(status)]
                }
                guard frames.count == 2, let rows = try? Tensor.validate(frames[1]).rows else { return [[1]] }
                return [
                    request.reply(status: .ok, modelVersion: 0).encoded(),
                    Tensor(rows: rows, cols: 1, values: Array(repeating: 0.5, count: rows)).encoded(),
                ]
            }
            defer { router.stop() }
            let client = try await RecPoolClient(endpoint: router.endpoint)
            defer { client.close() }
            let rows = Array(repeating: [Float(0.25)], count: perRequest + 10)
            if changes {
                await #expect {
                    _ = try await client.scoreSplit(rows: rows, timeoutMs: 5_000)
                } throws: { error in
                    guard case ClientError.server(.conflict, let message, _) = error else { return false }
                    return message.contains(
                        "the model serving version 0 changed while this call's 2 requests were scored (the model seeded "
                            + "with 42 before, the model seeded with 7 after")
                }
            } else {
                let scores = try await client.scoreSplit(rows: rows, timeoutMs: 5_000)
                #expect(scores.modelVersion == 0 && scores.values.count == perRequest + 10)
            }
            #expect(statusCalls.withLock { $0 } == 2)
        }
    }
}
