import Testing

@testable import BrokerCore
@testable import RecWire

/// A worker's reply is forwarded without copying its bytes, but never trusted blindly: a version the worker does not
/// serve or the pin refuses, a score tensor of the wrong shape or with a NaN, an error without its message, or a
/// reply that does not decode but names the request, is answered INTERNAL, counted, and never reaches the client as
/// OK (and never leaves the request waiting for ever).
@Suite("Invalid worker replies")
struct InvalidWorkerReplyTests {
    static let client: [UInt8] = [0xC1]
    static let worker: [UInt8] = [0xA1]

    /// One SCORE from the client dispatched to a worker registered with version 1; returns the dispatch.
    static func dispatched(_ h: inout CoreHarness, version: UInt64 = 0, exact: Bool = false) throws -> (
        identity: [UInt8], message: WireMessage
    ) {
        h.registerWorker(worker, version: 1)
        h.score(from: client, id: 7, version: version, exact: exact)
        return try #require(h.dispatches.last)
    }

    static func send(
        _ h: inout CoreHarness, _ dispatch: (identity: [UInt8], message: WireMessage), status: Status = .ok,
        version: UInt64 = 1, payload: [[UInt8]]
    ) {
        let header = dispatch.message.header.reply(status: status, modelVersion: version)
        h.feed(.worker(identity: dispatch.identity, frames: [header.encoded()] + payload, peerAddress: nil))
    }

    static func onlyReply(_ h: CoreHarness) throws -> WireMessage {
        let replies = h.replies(to: client, id: 7)
        try #require(replies.count == 1)
        return replies[0]
    }

    @Test("a valid reply is forwarded as it came")
    func valid() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .ok && reply.header.modelVersion == 1)
        #expect(h.core.counters[.invalidWorkerReplies] == 0)
    }

    @Test("what a reply does not define (flags, a deadline, a retry hint) is passed on as 0, not as the worker set it")
    func undefinedFieldsCleared() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        var header = d.message.header.reply(status: .ok, modelVersion: 1)
        header.flags = Header.Flags(rawValue: 0x20).union(.drain).union(.exactVersion)
        header.deadlineMs = 12_345
        header.retryAfterMs = 999
        header.computeMicros = 17
        h.feed(
            .worker(
                identity: d.identity, frames: [header.encoded(), Tensor(rows: 1, cols: 1, values: [0.25]).encoded()],
                peerAddress: nil))
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .ok && reply.header.flags == [])
        #expect(reply.header.deadlineMs == 0 && reply.header.retryAfterMs == 0)
        // What a reply does carry is kept: the worker's own timing.
        #expect(reply.header.computeMicros == 17)
    }

    @Test("a heartbeat with an undefined flag or a status is counted and its load is not applied")
    func malformedHeartbeat() throws {
        var h = CoreHarness()
        h.registerWorker(Self.worker, slots: 4, version: 1)
        var header = Header(command: .heartbeat, modelVersion: 1)
        header.flags = Header.Flags(rawValue: 0x4)
        h.feed(
            .worker(
                identity: Self.worker, frames: [header.encoded(), WorkerLoad(slots: 99, queued: 0).encoded()],
                peerAddress: nil))
        #expect(h.core.counters[.malformedWorkerMessages] == 1)
        #expect(h.core.statusDocument(now: h.now).workers.first?.slots == 4)
        var withStatus = Header(command: .heartbeat, modelVersion: 1)
        withStatus.status = .internal
        h.feed(
            .worker(
                identity: Self.worker, frames: [withStatus.encoded(), WorkerLoad(slots: 99, queued: 0).encoded()],
                peerAddress: nil))
        #expect(h.core.counters[.malformedWorkerMessages] == 2)
        #expect(h.core.statusDocument(now: h.now).workers.first?.slots == 4 && h.core.liveWorkerCount == 1)
    }

    @Test(
        "a reply under a version the worker does not serve is INTERNAL, never forwarded under that number",
        arguments: [UInt64(0), 2, 99, 1 << 63])
    func versionNotServed(version: UInt64) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, version: version, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal)
        #expect(reply.errorText?.contains("model version \(version)") == true, "\(reply.errorText ?? "")")
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
    }

    @Test("a reply the request's exact pin refuses is INTERNAL, even under a version the broker rolled out")
    func pinRefuses() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h, version: 1, exact: true)
        h.core.rolledOutSHA[2] = String(repeating: "b", count: 64)
        Self.send(&h, d, version: 2, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains("exactly 1") == true)
    }

    static func weights(_ version: UInt64) -> [[UInt8]] {
        [Header(command: .weights, modelVersion: version).encoded(),
         WireJSON.encode(WeightsNotice(version: version, sha256: String(repeating: "\(version)", count: 64))), [1]]
    }

    @Test("a version whose WEIGHTS this broker sent to the worker is served while its heartbeat still names the old one")
    func rolledOutVersion() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        h.feed(.rollout(version: 2, frames: Self.weights(2)))
        Self.send(&h, d, version: 2, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        #expect(try Self.onlyReply(h).header.status == .ok)
    }

    @Test("a worker's error text reaches the client bounded and with its control characters escaped")
    func workerErrorTextBounded() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        let echoed = "unknown user feature \u{1B}[31m" + String(repeating: "x", count: 100_000)
        Self.send(&h, d, status: .badRequest, version: 0, payload: [Array(echoed.utf8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .badRequest)
        let text = reply.errorText ?? ""
        #expect(text.hasPrefix("unknown user feature \\u{1B}[31m") && text.hasSuffix("more bytes left out)"), "\(text.prefix(60))")
        #expect(reply.payload[0].count <= WireText.maximumErrorTextBytes)
    }

    /// A reviewer's case: after a broker restart a worker registers on version 1, is promoted to 2 and heartbeats it at
    /// once; a RECOMMEND its other thread computed on version 1 arrives after that heartbeat. It must still be taken.
    @Test("a reply under the version a worker served before its latest swap is still taken")
    func versionServedBeforeTheSwap() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        h.feed(.rollout(version: 2, frames: Self.weights(2)))
        h.feed(.worker(identity: Self.worker, frames: [Header(command: .heartbeat, modelVersion: 2).encoded()], peerAddress: nil))
        #expect(h.core.workers[Self.worker]?.modelVersion == 2)
        Self.send(&h, d, version: 1, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        #expect(try Self.onlyReply(h).header.status == .ok)
    }

    /// Promote 2, then 1 again, then a worker registers on 1: version 2 was rolled out, but never to it. Its reply
    /// under 2 was forwarded OK as version 2 (any version in the broker-wide rollout table passed), and a heartbeat of
    /// 2 took version 2's hash, so STATUS showed it as a verified replica of 2.
    @Test("a version rolled out before the worker came, never sent to it, is INTERNAL in a reply and unverified in a heartbeat")
    func versionNeverSentToThisWorker() throws {
        var h = CoreHarness()
        h.feed(.rollout(version: 2, frames: Self.weights(2)))
        h.feed(.rollout(version: 1, frames: Self.weights(1)))
        let d = try Self.dispatched(&h)
        #expect(!h.sentToWorkers.contains { $0.identity == Self.worker && $0.message.header.modelVersion == 2 })
        Self.send(&h, d, version: 2, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal, "\(reply.header.status)")
        #expect(reply.errorText?.contains("model version 2, which it does not serve (it serves 1)") == true, "\(reply.errorText ?? "")")
        h.feed(.worker(identity: Self.worker, frames: [Header(command: .heartbeat, modelVersion: 2).encoded()], peerAddress: nil))
        #expect(h.core.workers[Self.worker]?.modelSHA256 == nil)
    }

    @Test(
        "an OK SCORE reply that is not one finite rows × 1 tensor is INTERNAL",
        arguments: [
            [Tensor(rows: 2, cols: 1, values: [0.1, 0.2]).encoded()],
            [Tensor(rows: 1, cols: 3, values: [0.1, 0.2, 0.3]).encoded()],
            [Array("xyz".utf8)],
            [],
            [Tensor(rows: 1, cols: 1, values: [.nan]).encoded()],
            [Tensor(rows: 1, cols: 1, values: [0.5]).encoded(), Array("extra".utf8)],
        ])
    func badScores(payload: [[UInt8]]) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, payload: payload)
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.payload.count == 1)
        #expect(reply.errorText?.contains("worker w161 sent an invalid reply") == true, "\(reply.errorText ?? "")")
    }

    /// A worker's score of 1.5 or −2 was forwarded, and `recpool score` printed it with exit 0: a score is a
    /// probability (the model ends in a sigmoid).
    @Test(
        "an OK SCORE reply with a score outside [0, 1] is INTERNAL naming the row and value, and counted",
        arguments: [(Float(1.5), "1.5"), (-2, "-2.0"), (1.0000001, "1.0000001"), (-Float.leastNonzeroMagnitude, "-1e-45")])
    func scoresOutsideUnitInterval(_ bad: (value: Float, text: String)) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, payload: [Tensor(rows: 1, cols: 1, values: [bad.value]).encoded()])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal, "\(reply.errorText ?? "")")
        #expect(
            reply.errorText?.contains("the score of row 0 (0-based) is \(bad.text), not a probability in [0, 1]") == true,
            "\(reply.errorText ?? "")")
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
    }

    @Test("scores of exactly 0, −0 and 1 are probabilities, forwarded")
    func unitIntervalEdges() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, payload: [Tensor(rows: 1, cols: 1, values: [1]).encoded()])
        #expect(try Self.onlyReply(h).header.status == .ok)
        for edge: Float in [0, -0.0] {
            var g = CoreHarness()
            let e = try Self.dispatched(&g)
            Self.send(&g, e, payload: [Tensor(rows: 1, cols: 1, values: [edge]).encoded()])
            #expect(try Self.onlyReply(g).header.status == .ok, "\(edge)")
        }
    }

    @Test("an error reply without its one message frame is INTERNAL with a message")
    func errorWithoutMessage() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, status: .badRequest, payload: [])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains("BAD_REQUEST") == true)
        // With its message it is forwarded.
        var g = CoreHarness()
        let e = try Self.dispatched(&g)
        Self.send(&g, e, status: .badRequest, payload: [Array("wrong width".utf8)])
        #expect(try Self.onlyReply(g).header.status == .badRequest)
    }

    /// A worker's BAD_REQUEST under model version 999 (a number the registry never gave) reached the client as it
    /// came: an error was produced by no version, so it carries 0, as the broker's own errors do.
    @Test("a worker's error reply is forwarded with model_version 0, whatever version the worker wrote", arguments: [UInt64(999), 1])
    func errorReplyVersionCleared(version: UInt64) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, status: .badRequest, version: version, payload: [Array("worker says no".utf8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .badRequest && reply.header.modelVersion == 0)
        #expect(reply.errorText == "worker says no")
    }

    /// A worker's error message was forwarded as it came: bytes that are not UTF-8, or an empty message.
    @Test(
        "an error reply whose message is empty or not UTF-8 is INTERNAL, counted, naming the worker",
        arguments: [[UInt8](), [0xFF, 0xFE, 0x20, 0x62, 0x61, 0x64], [0x61, 0xC3]])
    func errorMessageNotText(_ message: [UInt8]) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, status: .internal, payload: [message])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal)
        let text = try #require(reply.errorText)
        #expect(text.contains("sent an invalid reply") && (text.contains("empty message") || text.contains("not UTF-8")), "\(text)")
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
    }

    @Test("a reply that does not decode but names the request answers it INTERNAL at once and frees the worker's slot")
    func undecodableReply() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        var frame = d.message.header.reply(status: .ok, modelVersion: 1).encoded()
        frame[52] = 1  // a reserved byte that is not zero
        h.feed(.worker(identity: d.identity, frames: [frame, Tensor(rows: 1, cols: 1, values: [0.5]).encoded()], peerAddress: nil))
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains("does not decode") == true)
        #expect(h.core.counters[.malformedWorkerMessages] == 1 && h.core.counters[.invalidWorkerReplies] == 1)
        #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true)
        // A frame naming no in-flight request is only counted.
        h.feed(.worker(identity: d.identity, frames: [Array("junk".utf8)], peerAddress: nil))
        #expect(h.replies(to: Self.client, id: 7).count == 1 && h.core.counters[.malformedWorkerMessages] == 2)
    }

    /// A reply with an undefined command code (0xff, 0x80: the reply bit on command 0, 0x87, 0xc0) did not decode and
    /// its command matched no service, so it was only counted: the client's request stayed in flight, and without a
    /// deadline was never answered. Without the reply bit, an undefined code (0x7f, a helper's case) left the client
    /// waiting too, where PROTOCOL.md answers INTERNAL any message that does not decode but names the request; only a
    /// worker's own messages (READY, HEARTBEAT, DISCONNECT, ROUND_RESULT, POLICY_STATE, CATALOGUE_STATE), whose ids
    /// number rounds and syncs, answer nothing.
    @Test("a reply whose command code is undefined but names the request answers it INTERNAL at once")
    func undefinedCommandCode() throws {
        for code: UInt8 in [0x20, 0x21, 0x22, 0x23, 0x24, 0x25] {
            var h = CoreHarness()
            let d = try Self.dispatched(&h)
            var frame = d.message.header.reply(status: .ok, modelVersion: 1).encoded()
            frame[4] = code
            frame[52] = 1  // damaged, so it does not decode as that worker message either
            h.feed(.worker(identity: d.identity, frames: [frame, Tensor(rows: 1, cols: 1, values: [0.5]).encoded()], peerAddress: nil))
            #expect(h.replies(to: Self.client, id: 7).isEmpty, "\(code)")
            #expect(h.core.workers[Self.worker]?.inflight.count == 1, "\(code)")
        }
        for code: UInt8 in [0xFF, 0x80, 0x87, 0xC0, 0x7F, 0x07, 0x00] {
            var h = CoreHarness()
            let d = try Self.dispatched(&h)
            var frame = d.message.header.reply(status: .ok, modelVersion: 1).encoded()
            frame[4] = code
            h.feed(.worker(identity: d.identity, frames: [frame, Tensor(rows: 1, cols: 1, values: [0.5]).encoded()], peerAddress: nil))
            let reply = try Self.onlyReply(h)
            #expect(reply.header.status == .internal && reply.errorText?.contains("does not decode") == true, "\(code)")
            #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true, "\(code)")
        }
    }

    /// A reviewer's case: a well-formed STATUS or WEIGHTS without the reply bit naming a dispatch was only counted, and
    /// its client waited for the deadline, where the same message damaged was INTERNAL at once.
    @Test("a message without the reply bit of a command no worker sends, naming the request, answers it INTERNAL")
    func clientCommandWithoutReplyBit() throws {
        for command in [Command.status, .weights, .control] {
            var h = CoreHarness()
            let d = try Self.dispatched(&h)
            let header = Header(command: command, requestId: d.message.header.requestId)
            h.feed(.worker(identity: d.identity, frames: [header.encoded()], peerAddress: nil))
            let reply = try Self.onlyReply(h)
            #expect(reply.header.status == .internal, "\(command)")
            #expect(
                reply.errorText?.contains("sent a \(command.name) without the reply bit for a SCORE request") == true,
                "\(reply.errorText ?? "")")
            #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true)
        }
    }

    @Test("a malformed message that is not a reply to the client's service never answers a request with the same id")
    func malformedNonReplyIgnored() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        // A ROUND_RESULT's id is its round: equal to the dispatch id here, and damaged (a reserved byte set).
        var frame = Header(command: .roundResult, requestId: d.message.header.requestId).encoded()
        frame[52] = 1
        h.feed(.worker(identity: d.identity, frames: [frame, Array("{}".utf8)], peerAddress: nil))
        #expect(h.replies(to: Self.client, id: 7).isEmpty)
        #expect(h.core.counters[.invalidWorkerReplies] == 0 && h.core.counters[.malformedWorkerMessages] == 1)
        // The real reply still arrives and is forwarded.
        Self.send(&h, d, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        #expect(try Self.onlyReply(h).header.status == .ok)
    }

    @Test("a reply whose command is not the request's is INTERNAL, and frees the request's queue")
    func wrongCommand() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        var header = d.message.header.reply(status: .ok, modelVersion: 1)
        header.command = .recommend
        h.feed(.worker(identity: d.identity, frames: [header.encoded(), Array("{}".utf8)], peerAddress: nil))
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.header.command == .score)
        #expect(reply.errorText?.contains("a RECOMMEND reply to a SCORE request") == true, "\(reply.errorText ?? "")")
        #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true)
    }

    @Test("a SCORE without the reply bit naming the request answers it INTERNAL at once, never leaves it waiting")
    func requestInsteadOfReply() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        let echoed = WireMessage(header: d.message.header, payload: [Tensor(rows: 1, cols: 1, values: [0.5]).encoded()])
        h.feed(.worker(identity: d.identity, frames: echoed.frames(), peerAddress: nil))
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains("without the reply bit") == true)
        #expect(h.core.counters[.invalidWorkerReplies] == 1 && h.core.counters[.unexpectedWorkerCommands] == 1)
        #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true)
        // The same message naming no dispatch of this worker is only counted.
        h.feed(.worker(identity: d.identity, frames: echoed.frames(), peerAddress: nil))
        #expect(h.replies(to: Self.client, id: 7).count == 1 && h.core.counters[.unexpectedWorkerCommands] == 2)
    }

    /// A RECOMMEND dispatched to a worker serving SCORE and RECOMMEND at version 3, pinned exactly to 3.
    static func recommendDispatched(_ h: inout CoreHarness, request: String = "{}") throws
        -> (identity: [UInt8], message: WireMessage)
    {
        let hello = WorkerHello(
            workerId: "r1", services: ["SCORE", "RECOMMEND"], slots: 4, inputWidth: 2, modelVersion: 3, host: "h", pid: 1)
        h.feed(
            .worker(
                identity: worker,
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
        let header = Header(command: .recommend, flags: .exactVersion, requestId: 7, modelVersion: 3)
        h.feed(.client(identity: client, frames: WireMessage(header: header, payload: [Array(request.utf8)]).frames(), userId: nil))
        return try #require(h.sentToWorkers.last { $0.message.header.command == .recommend && !$0.message.header.isReply })
    }

    @Test("a RECOMMEND ranked by the model is judged by the pin and the served version, as a SCORE is")
    func recommendVersion() throws {
        var h = CoreHarness()
        let d = try Self.recommendDispatched(&h)
        Self.send(&h, d, version: 8, payload: [Self.ranking(version: 8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains("exactly 3") == true, "\(reply.errorText ?? "")")
        // Under the version it serves, the ranking is forwarded.
        var g = CoreHarness()
        let e = try Self.recommendDispatched(&g)
        Self.send(&g, e, version: 3, payload: [Self.ranking(version: 3)])
        #expect(try Self.onlyReply(g).header.status == .ok)
    }

    @Test("a policy slate carries the policy's version, which a pin does not select: it goes on to be logged")
    func policySlateVersion() throws {
        var h = CoreHarness()
        let d = try Self.recommendDispatched(&h)
        Self.send(&h, d, version: 8, payload: [Array(#"{"items":[]}"#.utf8), Array("record".utf8)])
        #expect(h.replies(to: Self.client, id: 7).isEmpty)
        #expect(h.core.counters[.invalidWorkerReplies] == 0)
        #expect(h.toControl.contains { if case .heldImpression = $0 { true } else { false } })
    }

    /// On an online broker every RECOMMEND goes to a policy replica, whose slate comes with its impression record: a
    /// one-frame reply was judged as a model's ranking and refused as "model version 3, which it does not serve",
    /// naming the wrong fault.
    @Test("on an online broker, a one-frame RECOMMEND reply is refused as a slate without its impression record")
    func slateWithoutRecord() throws {
        var h = CoreHarness()
        h.feed(.policyReplicas([Self.worker]))
        let d = try Self.recommendDispatched(&h)
        Self.send(&h, d, version: 3, payload: [Array(#"{"items":[]}"#.utf8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && h.core.counters[.invalidWorkerReplies] == 1)
        #expect(reply.errorText?.contains("a policy slate comes with its impression record") == true, "\(reply.errorText ?? "")")
    }

    /// A three-frame reply was passed on and its last frame read as the impression record: the client was told the
    /// record did not decode, when the reply had a frame too many.
    @Test("a RECOMMEND reply of three frames is refused naming its frame count, never as a bad impression record")
    func slateWithAFrameTooMany() throws {
        var h = CoreHarness()
        h.feed(.policyReplicas([Self.worker]))
        let d = try Self.recommendDispatched(&h)
        Self.send(&h, d, version: 3, payload: [Array(#"{"items":[]}"#.utf8), Array("record".utf8), Array("x".utf8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && h.core.counters[.invalidWorkerReplies] == 1)
        #expect(reply.errorText?.contains("with 3 payload frames") == true, "\(reply.errorText ?? "")")
        #expect(!h.toControl.contains { if case .heldImpression = $0 { true } else { false } })
    }

    @Test("a held slate the control plane refuses as invalid is counted in invalid_worker_replies and the worker's errors")
    func refusedSlateCounted() throws {
        var h = CoreHarness()
        _ = try Self.recommendDispatched(&h)
        h.core.invalidSlateAnswered(
            identity: Self.client, frames: [Header(command: .recommend, isReply: true).encoded()], worker: "r1")
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
        #expect(h.core.workers[Self.worker]?.errors == 1)
    }

    /// A worker's `errors` left out the OK replies the broker refused (a SCORE tensor of the wrong shape, a NaN): a
    /// worker whose every reply reached its client as INTERNAL showed `errors 0`.
    @Test("an OK reply the broker refuses as invalid counts in the worker's errors, as an error reply does")
    func refusedReplyIsAnError() throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, payload: [Tensor(rows: 2, cols: 1, values: [0.1, 0.2]).encoded()])
        #expect(try Self.onlyReply(h).header.status == .internal)
        let worker = try #require(h.core.statusDocument(now: h.now).workers.first)
        #expect(worker.completed == 1 && worker.errors == 1)
    }

    /// A policy slate (slate and impression record) was logged and forwarded OK with more items than `top`, or items
    /// outside the request's candidates, or a source other than `policy`: its impression claimed propensities for a
    /// choice the policy was never offered.
    @Test("a policy slate that passes top, leaves the candidates or names another source is INTERNAL, never logged",
        arguments: [
            (#"{"top":1}"#, "[1,2,3]", "policy", "3 items, the request asked for at most 1"),
            (#"{"candidates":[5,6,7]}"#, "[5,2]", "policy", "shows item 2, which is not among the request's candidates"),
            ("{}", "[1]", "model", "source is 'model', not 'policy'"),
            // A worker answers these BAD_REQUEST: an OK slate to them was logged, however long.
            ("not json", "[1,2,3,4,5,6,7,8]", "policy", "answers OK a request whose document does not decode"),
            (#"{"top":1,"top":1}"#, "[1,2,3,4,5]", "policy", "answers OK a request whose document does not decode"),
        ])
    func policySlateShapeChecked(request: String, items: String, source: String, problem: String) throws {
        var h = CoreHarness()
        h.feed(.policyReplicas([Self.worker]))
        let d = try Self.recommendDispatched(&h, request: request)
        let slots = try WireJSON.decode([Int].self, from: Array(items.utf8)).enumerated().map {
            #"{"item":\#($0.element),"position":\#($0.offset),"score":0.5,"propensity":0.5}"#
        }
        let slate = Array(
            #"{"impression_id":"i1","items":[\#(slots.joined(separator: ","))],"model_version":3,"source":"\#(source)","#
                .utf8) + Array(#""exploration":{"kind":"epsilon_greedy","epsilon":0.1,"temperature":0.05}}"#.utf8)
        Self.send(&h, d, version: 3, payload: [slate, Array("{}".utf8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains(problem) == true, "\(reply.errorText ?? "")")
        #expect(h.toControl.isEmpty)
    }

    /// The control plane bounds a policy slate by what the request asked of its length, read here.
    @Test(
        "a held policy slate carries the request's top, slate_size when it names none",
        arguments: [(#"{"top":2}"#, RequestedTop.given(2)), ("{}", .slateSize), (#"{"candidates":[1,2]}"#, .slateSize)])
    func heldSlateCarriesTop(request: String, top: RequestedTop) throws {
        var h = CoreHarness()
        h.feed(.policyReplicas([Self.worker]))
        let d = try Self.recommendDispatched(&h, request: request)
        let slate = Array(
            #"{"impression_id":"i1","items":[{"item":1,"position":0,"score":0.5,"propensity":0.5}],"model_version":3,"source":"policy","#
                .utf8) + Array(#""exploration":{"kind":"epsilon_greedy","epsilon":0.1,"temperature":0.05}}"#.utf8)
        Self.send(&h, d, version: 3, payload: [slate, Array("{}".utf8)])
        let held = h.toControl.compactMap { input -> RequestedTop? in
            if case .heldImpression(_, _, _, _, let top) = input { return top }
            return nil
        }
        #expect(held == [top])
        #expect(RecommendDocument(nil).requestedTop == .slateSize)
        #expect(RecommendDocument(Array(repeating: UInt8(ascii: " "), count: 20_000)).requestedTop == .notRead)
        #expect(RecommendDocument(Array("not json".utf8)).requestedTop == .notRead)
        #expect(RecommendDocument(Array(#"{"top":4}"#.utf8)).requestedTop == .given(4))
    }

    /// A model-ranked RECOMMEND reply's document, as `RecommendHandler` writes it.
    static func ranking(version: UInt64, items: String = #"[{"item":4,"score":0.5},{"item":1,"score":0.25}]"#) -> [UInt8] {
        Array(#"{"items":\#(items),"source":"model","model_version":\#(version)}"#.utf8)
    }

    /// A ranking that breaks PROTOCOL.md's shape of a reply (best first, at most `top` items, each once, from the
    /// candidates, source `model` or `cold_start_fallback`) was forwarded OK.
    @Test("a model-ranked RECOMMEND reply that repeats an item, is not best first, passes top, leaves the candidates or names another source is INTERNAL",
        arguments: [
            (#"{"top":2}"#, #"[{"item":1,"score":0.5},{"item":1,"score":0.4}]"#, "model", "names item 1 twice"),
            (#"{"top":2}"#, #"[{"item":1,"score":0.1},{"item":2,"score":0.9}]"#, "model", "not best first: item 2 (0.9) after item 1 (0.1)"),
            (#"{"top":2}"#, #"[{"item":1,"score":0.5},{"item":2,"score":0.4},{"item":3,"score":0.3}]"#, "model",
             "3 items, the request asked for at most 2"),
            ("{}", (0..<11).map { #"{"item":\#($0),"score":0.5}"# }.joined(separator: ",").wrappedInBrackets, "model",
             "11 items, the request asked for at most 10"),
            (#"{"top":5,"candidates":[1,2]}"#, #"[{"item":1,"score":0.5},{"item":9,"score":0.4}]"#, "model",
             "names item 9, which is not among the request's candidates"),
            (#"{"top":2}"#, #"[{"item":1,"score":0.5}]"#, "zzz", "source is 'zzz'"),
            // A worker answers these BAD_REQUEST: a 20-item ranking to `not json` was forwarded OK.
            ("not json", (0..<20).map { #"{"item":\#($0),"score":0.5}"# }.joined(separator: ",").wrappedInBrackets, "model",
             "answers OK a request whose document does not decode"),
            (#"{"top":"3"}"#, #"[{"item":1,"score":0.5}]"#, "model", "answers OK a request whose document does not decode"),
        ])
    func rankingShapeChecked(request: String, items: String, source: String, problem: String) throws {
        var h = CoreHarness()
        let d = try Self.recommendDispatched(&h, request: request)
        let document = Array(#"{"items":\#(items),"source":"\#(source)","model_version":3}"#.utf8)
        Self.send(&h, d, version: 3, payload: [document])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.errorText?.contains(problem) == true, "\(reply.errorText ?? "")")
    }

    @Test("a ranking within the request's top and candidates, ties kept in order, is forwarded")
    func rankingShapeForwarded() throws {
        var h = CoreHarness()
        let d = try Self.recommendDispatched(&h, request: #"{"top":3,"candidates":[4,1,2]}"#)
        let items = #"[{"item":4,"score":0.5},{"item":1,"score":0.5},{"item":2,"score":0.1}]"#
        Self.send(&h, d, version: 3, payload: [Self.ranking(version: 3, items: items)])
        #expect(try Self.onlyReply(h).header.status == .ok)
    }

    /// The broker checked a SCORE reply's tensor but forwarded a ranking as it came: NaN, bytes that are not JSON, an
    /// empty frame, or a document naming another version than its header reached the client as OK.
    @Test("a model-ranked RECOMMEND reply that does not decode, holds a non-finite score or names another version is INTERNAL",
        arguments: [
            (Array(#"{"items":[{"item":1,"score":NaN}],"source":"model","model_version":3}"#.utf8), "does not decode"),
            (Array(#"{"items":[{"item":1,"score":1e400}],"source":"model","model_version":3}"#.utf8), "does not decode"),
            ([0xFF, 0xFE, 0x20, 0x67], "does not decode"),
            ([], "does not decode"),
            (Array(#"{"items":[]}"#.utf8), "does not decode"),
            (Array(#"{"items":[{"item":-2,"score":0.5}],"source":"model","model_version":3}"#.utf8), "item -2"),
            (Array(#"{"items":[],"source":"model","model_version":7}"#.utf8), "model version 7 under header version 3"),
            (Array(#"{"items":[{"item":1,"score":1.5}],"source":"model","model_version":3}"#.utf8),
             "gives item 1 the score 1.5, not a probability in [0, 1]"),
            (Array(#"{"items":[{"item":2,"score":-0.25}],"source":"cold_start_fallback","model_version":3}"#.utf8),
             "gives item 2 the score -0.25"),
        ])
    func rankingChecked(document: [UInt8], problem: String) throws {
        var h = CoreHarness()
        let d = try Self.recommendDispatched(&h)
        Self.send(&h, d, version: 3, payload: [document])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal, "\(reply.header.status)")
        #expect(reply.errorText?.contains(problem) == true, "\(reply.errorText ?? "")")
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
        #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true)
    }

    /// A reply of a command a worker never answers, or a RECOMMEND without the reply bit to a SCORE dispatch, was only
    /// counted: the client waited for ever and the worker's slot stayed taken.
    @Test("a reply of another command naming the dispatch answers it INTERNAL at once and frees the worker's slot",
        arguments: [
            (Command.status, true, "a STATUS reply to a SCORE request"),
            (Command.control, true, "a CONTROL reply to a SCORE request"),
            (Command.feedback, true, "a FEEDBACK reply to a SCORE request"),
            (Command.cancel, true, "a CANCEL reply to a SCORE request"),
            (Command.ready, true, "a READY reply to a SCORE request"),
            (Command.recommend, false, "a RECOMMEND without the reply bit for a SCORE request"),
        ])
    func otherCommandReply(command: Command, isReply: Bool, problem: String) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        var header = d.message.header.reply(status: .ok, modelVersion: 1)
        header.command = command
        header.isReply = isReply
        h.feed(
            .worker(
                identity: d.identity, frames: [header.encoded(), Tensor(rows: 1, cols: 1, values: [0.5]).encoded()],
                peerAddress: nil))
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal && reply.header.command == .score)
        #expect(reply.errorText?.contains(problem) == true, "\(reply.errorText ?? "")")
        #expect(h.core.workers[Self.worker]?.inflight.isEmpty == true)
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
    }

    /// A worker's BUSY, CANCELLED or WORKER_LOST reached the client as if the broker had said it: a client retries a
    /// BUSY as not executed, and reads CANCELLED as the answer to a CANCEL it never sent.
    @Test("an error reply with a status only the broker gives is INTERNAL", arguments: [
        Status.busy, .cancelled, .noWorker, .unauthorized, .unsupportedVersion, .workerLost,
    ])
    func brokerOnlyStatus(status: Status) throws {
        var h = CoreHarness()
        let d = try Self.dispatched(&h)
        Self.send(&h, d, status: status, payload: [Array("worker says so".utf8)])
        let reply = try Self.onlyReply(h)
        #expect(reply.header.status == .internal)
        #expect(reply.errorText?.contains("a \(status.name) reply, a status only the broker gives") == true, "\(reply.errorText ?? "")")
        // The statuses a worker does give are forwarded.
        for forwarded in [Status.badRequest, .conflict, .expired, .internal, .tooLarge, .notFound] {
            var g = CoreHarness()
            let e = try Self.dispatched(&g)
            Self.send(&g, e, status: forwarded, payload: [Array("worker says so".utf8)])
            #expect(try Self.onlyReply(g).header.status == forwarded)
        }
    }
}

extension String {
    /// The text between `[` and `]`.
    fileprivate var wrappedInBrackets: String { "[\(self)]" }
}

/// Two replies the broker forwarded or left waiting: a worker that heartbeat a version the registry never issued had
/// its scores forwarded under that number, and a broken reply naming its request under another client command (a
/// STATUS reply's code) left the request in flight until its deadline, or for ever.
@Suite("Worker replies under a claimed version or another command")
struct ClaimedReplyTests {
    @Test("an OK reply under a version the registry does not hold with the worker's weights is INTERNAL, not forwarded")
    func unverifiedClaim() throws {
        var h = CoreHarness()
        h.core.registeredModels = [:]
        h.registerWorker(InvalidWorkerReplyTests.worker, version: 0)
        h.score(from: InvalidWorkerReplyTests.client, id: 7)
        let d = try #require(h.dispatches.last)
        // The worker now claims version 7, which a registry of no model never issued.
        h.feed(
            .worker(
                identity: InvalidWorkerReplyTests.worker,
                frames: [Header(command: .heartbeat, modelVersion: 7).encoded(), WorkerLoad(slots: 4, queued: 1).encoded()],
                peerAddress: nil))
        InvalidWorkerReplyTests.send(&h, d, version: 7, payload: [Tensor(rows: 1, cols: 1, values: [0.25]).encoded()])
        let reply = try InvalidWorkerReplyTests.onlyReply(h)
        #expect(reply.header.status == .internal && reply.header.modelVersion == 0)
        #expect(reply.errorText?.contains("model version 7, which the registry does not hold") == true, "\(reply.errorText ?? "")")
        #expect(h.core.counters[.invalidWorkerReplies] == 1)
    }

    @Test("a reply that does not decode but names its SCORE under a STATUS or RECOMMEND reply code is INTERNAL at once",
          arguments: [Command.status, .recommend])
    func brokenReplyUnderAnotherCommand(command: Command) throws {
        var h = CoreHarness()
        let d = try InvalidWorkerReplyTests.dispatched(&h)
        var frame = d.message.header.reply(status: .ok, modelVersion: 1).encoded()
        frame[4] = command.rawValue | Header.replyBit
        frame[5] = 1  // a reserved byte set: the header does not decode, its magic and request id still read
        h.feed(.worker(identity: d.identity, frames: [frame, Tensor(rows: 1, cols: 1, values: [0.25]).encoded()], peerAddress: nil))
        let reply = try InvalidWorkerReplyTests.onlyReply(h)
        #expect(reply.header.status == .internal)
        #expect(h.core.inflightCount == 0)
    }
}
