import Logging
import RecTransport
import RecWire

extension WorkerCore {
    /// Handles one message from the broker: control messages change the core's state or become work
    /// for another thread, SCORE requests join the micro-batch, other requests are answered at once.
    mutating func receive(
        _ frames: [[UInt8]], held: [ZMQFrame] = [], frameCount: Int? = nil, now: WorkerInstant,
        into actions: inout [WorkerAction]
    ) {
        // Counted over the whole message, a SCORE's held tensor and any frame past the 16 the shell keeps included:
        // a SCORE of 40 frames was scored, and a RECOMMEND of 40 was refused as "16 frames".
        let count = frameCount ?? frames.count + held.count
        if count > configuration.limits.maxFrames {
            refuseMalformed(frames, error: .tooManyFrames(count: count, limit: configuration.limits.maxFrames), into: &actions)
            return
        }
        let message: WireMessage
        do {
            message = try WireMessage(decoding: frames, limits: configuration.limits)
        } catch {
            refuseMalformed(frames, error: error, into: &actions)
            return
        }
        let header = message.header
        // A broker's backend never replies to READY or HEARTBEAT; its frontend answers both BAD_REQUEST ("not a client
        // command"), about once a second for ever, while the worker took the replies for the broker's heartbeats.
        // Before the registration is acknowledged that is what such an answer means; once the broker on this
        // connection registered the worker it is a malformed message, ignored (docs/PROTOCOL.md, Liveness): one
        // made a serving worker exit 64 as if misconfigured.
        if header.isReply && header.status != .ok && (header.command == .ready || header.command == .heartbeat) {
            let text = message.payload.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard registered else {
                actions.append(.exit(.notABackend(answer: "\(header.status.name) \"\(text)\"")))
                return
            }
            actions.append(
                .log(
                    .warning, "ignored a reply to \(header.command.name) from the broker that registered this worker",
                    ["status": "\(header.status.name)"]))
            return
        }
        // A broker's own message (HEARTBEAT, WEIGHTS, POLICY, …) whose header sets an undefined flag, a status or the
        // reply bit is malformed, as the broker judges a worker's (docs/PROTOCOL.md, "Header"): it is only a sign of
        // life, never applied. A HEARTBEAT with flags 0xFFFF made the worker drain and exit for good, and a WEIGHTS
        // with a status changed the model it serves.
        if let problem = Self.brokerMessageProblem(header) {
            actions.append(
                .log(.warning, "ignored a malformed \(header.command.name) from the broker", ["problem": "\(problem)"]))
            // A training round still gets its one answer, failed, so the broker sends it elsewhere.
            if header.command == .trainRound && !header.isReply { refuseRound(message, why: problem, into: &actions) }
            return
        }
        switch header.command {
        case .heartbeat:
            acknowledge(message, into: &actions)
        case .disconnect:
            // The broker does not know us (it restarted, or declared us dead): register again.
            actions.append(.log(.info, "broker asked us to register again", [:]))
            registered = false
            // As on a new connection: the broker it registers with now wants what is served until it sends WEIGHTS; a
            // build ordered before (by a broker since restarted, whose socket libzmq reconnected) is dropped.
            wantedWeights = (replica.version, replica.checkpointSHA256 ?? "")
            // A new registration: what the RECOMMEND thread answers for the last one is not sent to this broker, whose
            // request ids start again (a broker restarted faster than the silence window, on the same socket).
            registration &+= 1
            recommendsOutstanding = 0
            actions.append(.send(hello().frames(), .bestEffort))
        case .weights where !header.isReply:
            guard case .success(let notice) = Self.document(WeightsNotice.self, of: message, into: &actions) else {
                return
            }
            // The header names the version too (docs/PROTOCOL.md: `model_version = version`): two numbers for one
            // checkpoint say neither is sure, and the weights would be served under one of them.
            guard header.modelVersion == notice.version else {
                actions.append(
                    .log(
                        .error, "malformed WEIGHTS message ignored",
                        ["error": "its header names model version \(header.modelVersion), its notice \(notice.version)"]))
                return
            }
            // The broker's latest intent, even when it is the version served now: a build of another version still
            // running (a promotion since rolled back) is then dropped when it finishes.
            wantedWeights = (notice.version, notice.sha256)
            // A new number, or other weights under the same number (a claim the registry did not confirm).
            if notice.version != replica.version || notice.sha256 != replica.checkpointSHA256 {
                actions.append(
                    .background(.weights(notice: notice, bytes: message.payload[1], receivedAt: now.monotonicMicros)))
            }
        case .trainRound where !header.isReply:
            let decoded = Self.document(RoundAssignment.self, of: message, into: &actions)
            guard case .success(let assignment) = decoded else {
                if case .failure(let error) = decoded { refuseRound(message, why: error, into: &actions) }
                return
            }
            let dataset = assignment.datasetIncluded && message.payload.count >= 3 ? message.payload[2] : nil
            // A shop's log (the spec has a catalogue) brings its catalogue in frame 4.
            let catalogue = dataset != nil && message.payload.count >= 4 ? message.payload[3] : nil
            actions.append(
                .background(
                    .round(
                        assignment: assignment, state: message.payload[1], dataset: dataset, catalogue: catalogue,
                        request: header)))
        case .policy where !header.isReply:
            actions.append(.online(.install(message.payload)))
        case .catalogue where !header.isReply:
            installCatalogue(message, into: &actions)
        case .learn where !header.isReply:
            guard let batch = message.payload.first else {
                actions.append(.log(.error, "malformed LEARN message ignored", [:]))
                return
            }
            actions.append(.online(.learn(batch)))
        case .policyPull where !header.isReply:
            actions.append(.online(.pull(sync: header.requestId)))
        case .recommend where !header.isReply:
            recommendsOutstanding += 1
            actions.append(.recommend(message, registration: registration))
        case .score where !header.isReply:
            let request = ReceivedRequest(
                message: message, held: held, receivedAtMicros: now.monotonicMicros, limits: configuration.limits)
            if request.rows >= configuration.batchAloneRows {
                // Already a full batch: merging it would only make it, or the requests beside it, wait
                // (docs/BENCHMARKS.md, "Micro-batching"). What waits is answered first, in arrival order.
                flush(now: now, into: &actions)
                enqueue(request, now: now)
                flush(now: now, into: &actions)
            } else {
                enqueue(request, now: now)
            }
        default:
            if header.command.isWorkerService && !header.isReply {
                let reply = WireMessage.errorReply(
                    to: header, status: .badRequest, message: "this worker does not serve \(header.command.name)")
                actions.append(.countErrorReply)
                actions.append(
                    .log(
                        .debug, "request for a service this worker does not offer",
                        ["request_id": "\(header.requestId)", "command": "\(header.command.name)"]))
                actions.append(.send(reply.frames(), .bestEffort))
            } else {
                actions.append(.log(.debug, "ignored message", ["command": "\(header.command.name)"]))
            }
        }
    }

    /// Answers a TRAIN_ROUND whose assignment does not decode (a broker of another build, a damaged frame) with a
    /// failed ROUND_RESULT naming why, so the broker fails the job at once instead of waiting out `round_timeout_ms`
    /// and sending it again, as often, to replicas that cannot read it either. The report needs the job, round and
    /// shard it answers (docs/PROTOCOL.md: the broker takes it only as the answer to the request out for that
    /// round and shard); an assignment without even those is only logged (``document(_:of:into:)``).
    /// Why a broker's own message may not be applied, or nil: an undefined flag (any but `DRAIN` on HEARTBEAT, none on
    /// the others), a non-zero status, or the reply bit (a broker never replies to a worker's READY or HEARTBEAT with
    /// one: ``receive(_:held:frameCount:now:into:)`` handles the BAD_REQUEST of a client endpoint first).
    static func brokerMessageProblem(_ header: Header) -> WireError? {
        // The commands a broker sends a worker on its own; SCORE and RECOMMEND, which it forwards, are judged by
        // ``Header/requestProblem`` (a switch: this runs for every message, SCORE's included).
        let defined: Header.Flags
        switch header.command {
        case .heartbeat: defined = .drain
        case .disconnect, .weights, .trainRound, .policy, .catalogue, .learn, .policyPull: defined = []
        default: return nil
        }
        let undefined = header.flags.rawValue & ~defined.rawValue
        if undefined != 0 { return .undefinedFlags(bits: undefined, command: header.command.name) }
        if header.status != .ok { return .statusInRequest(header.status.rawValue) }
        if header.isReply { return .badDocument("a \(header.command.name) with the reply bit: the broker sends none") }
        return nil
    }

    func refuseRound(_ message: WireMessage, why: WireError, into actions: inout [WorkerAction]) {
        struct RoundIdentity: Decodable {
            var job: String
            var round: Int
            var shard: Int
        }
        guard let frame = message.payload.first,
            let identity = try? WireJSON.decode(RoundIdentity.self, from: frame)
        else { return }
        let report = RoundReport(
            job: identity.job, round: identity.round, shard: identity.shard, samples: 0, loss: nil, receivedStateSHA: "",
            metrics: nil, epoch: 0, step: 0, totalSteps: 0, datasetSHA: "",
            error: "this worker cannot read the round's assignment: \(why)")
        // The request's id and attempt are echoed, as for every round answered (`BackgroundWork`).
        var reply = Header(command: .roundResult, requestId: message.header.requestId, attempt: message.header.attempt)
        reply.status = .badRequest
        actions.append(.send([reply.encoded(), WireJSON.encode(report)], .bestEffort))
    }

    /// The JSON document (frame 1) of a broker message that carries bytes after it (frame 2: WEIGHTS' checkpoint,
    /// TRAIN_ROUND's state), or why it is missing or does not decode: logged at `error` with why, and ignored.
    static func document<T: Decodable>(_ type: T.Type, of message: WireMessage, into actions: inout [WorkerAction])
        -> Result<T, WireError>
    {
        do throws(WireError) {
            guard message.payload.count >= 2 else { throw .missingFrames(expected: 3, got: message.payload.count + 1) }
            return .success(try WireJSON.decode(type, from: message.payload[0]))
        } catch {
            actions.append(
                .log(.error, "malformed \(message.header.command.name) message ignored", ["error": "\(error)"]))
            return .failure(error)
        }
    }

    /// A heartbeat from the broker: the first one after READY acknowledges the registration (and may
    /// carry news about it); one with the drain flag says the broker will send nothing more.
    ///
    /// A registration starts what the worker holds from the broker afresh: the online thread forgets the catalogue
    /// version it received (``CatalogueReceiver/forget()``; the broker's
    /// registry sends its newest version to every newcomer, and a version held from another registry could share
    /// a number with another catalogue), and the online thread drops an installed policy unless it is exactly the
    /// (version, SHA-256) the broker serves (``WorkerRegistration/servedPolicy``), so a worker never serves slates
    /// of a policy the broker cannot log; an online broker sends its own with POLICY.
    mutating func acknowledge(_ message: WireMessage, into actions: inout [WorkerAction]) {
        if !registered {
            acknowledgeRegistration(message, into: &actions)
        }
        registered = true
        if message.header.flags.contains(.drain) {
            // The broker will send nothing more: either it answers our drain, or it orders one
            // (`recpool drain`). Everything it sent before this is already read.
            drainAcknowledged = true
            if !isStopping { actions.append(.log(.info, "the broker asked us to drain", [:])) }
            isStopping = true
            actions.append(.stopWorker)
        }
    }

    /// The registration's document (frame 1 of the first HEARTBEAT after READY). One that is missing or does not
    /// decode still starts what the worker holds afresh, as a registration naming no served policy (the broker sends
    /// its own with POLICY), and is logged with why: it was taken silently, and the old policy and catalogue kept.
    private mutating func acknowledgeRegistration(_ message: WireMessage, into actions: inout [WorkerAction]) {
        let registration: WorkerRegistration
        do throws(WireError) {
            guard let frame = message.payload.first else { throw .badDocument("the registration has no document") }
            registration = try WireJSON.decode(WorkerRegistration.self, from: frame)
        } catch {
            actions.append(
                .log(
                    .error, "the broker's registration does not decode; dropping what this worker held from a broker",
                    ["error": "\(error)"]))
            actions.append(.online(.registered(servedPolicy: nil)))
            return
        }
        actions.append(.online(.registered(servedPolicy: registration.servedPolicy)))
        adoptHeartbeat(of: registration, into: &actions)
        if let requested = registration.requestedId {
            actions.append(
                .log(
                    .warning, "another live worker has this id; the broker registered this one under another",
                    ["id": "\(requested)", "registered_as": "\(registration.workerId)"]))
        }
        if let promoted = registration.waitingForVersion {
            actions.append(
                .log(
                    .warning,
                    """
                    this worker serves no registered model while one is promoted: \
                    it takes no work until WEIGHTS bring it
                    """,
                    ["model_version": "\(promoted)"]))
        }
    }

    /// Takes the broker's heartbeat interval and liveness from its registration, warning when they differ from the
    /// worker's own flags. A registration without them (an older broker) keeps the worker's; a value outside what a
    /// broker accepts (10 ms … 1 h, liveness ``adoptableLiveness``) is logged and ignored.
    mutating func adoptHeartbeat(of registration: WorkerRegistration, into actions: inout [WorkerAction]) {
        guard let intervalMs = registration.heartbeatMs else { return }
        let liveness = registration.liveness ?? configuration.liveness
        guard (10...3_600_000).contains(intervalMs), Self.adoptableLiveness.contains(liveness) else {
            actions.append(
                .log(
                    .error, "the broker's registration names a heartbeat no broker accepts; keeping this worker's own",
                    ["heartbeat_ms": "\(intervalMs)", "liveness": "\(liveness)"]))
            return
        }
        if intervalMs != configuration.heartbeatIntervalMs || liveness != configuration.liveness {
            actions.append(
                .log(
                    .warning, "the broker's heartbeat differs from --heartbeat-ms; using the broker's",
                    [
                        "heartbeat_ms": "\(intervalMs)", "worker_heartbeat_ms": "\(configuration.heartbeatIntervalMs)",
                        "liveness": "\(liveness)", "worker_liveness": "\(configuration.liveness)",
                    ]))
        }
        brokerHeartbeat = (intervalMs, liveness)
        lastBeat = 0  // the first heartbeat at the broker's interval goes out now
    }

    /// The liveness a worker takes from a registration: 1…10 silent intervals (a broker declares a worker dead after
    /// 3; Majordomo's heartbeating uses 3 to 5). A broker naming more (2⁶³) left the worker waiting that many
    /// intervals for a broker gone silent before it reconnected, and as long for a drain's acknowledgement on SIGTERM.
    static let adoptableLiveness: ClosedRange<UInt64> = 1...10

    /// A message that does not decode: logged, and a request among them is refused, echoing its attempt.
    private func refuseMalformed(_ frames: [[UInt8]], error: WireError, into actions: inout [WorkerAction]) {
        actions.append(.log(.warning, "malformed message from broker", ["error": "\(error)"]))
        // A message whose command byte has the reply bit is no request, whatever its header's other faults: the broker
        // sends no replies, and a worker answers only SCORE and RECOMMEND requests (docs/PROTOCOL.md). A 0x81 with a
        // 40-byte header or an unknown version was answered BAD_REQUEST / UNSUPPORTED_VERSION.
        guard let first = frames.first, let id = Header.salvageRequestId(first),
            let command = Header.salvageCommand(first), command.isWorkerService, first[4] & Header.replyBit == 0
        else { return }
        // Even a request whose header does not decode gets its attempt echoed, when it has one.
        let attempt = Header.salvageAttempt(first) ?? 0
        let reply = WireMessage.errorReply(
            to: Header(command: command, requestId: id, attempt: attempt), status: error.status,
            message: error.description)
        actions.append(.send(reply.frames(), .bestEffort))
    }

    /// Adds a SCORE request to the micro-batch; the first one starts the batch's wait (`--batch-wait-us`), and a
    /// request with a deadline shortens it to half the time it has left, so a long wait at low traffic never holds a
    /// request past its deadline (a 10 s wait made every 5 s request EXPIRED).
    private mutating func enqueue(_ request: ReceivedRequest, now: WorkerInstant) {
        if pending.isEmpty { batchDeadline = request.receivedAtMicros.addingSaturating(configuration.batchWaitMicros) }
        let deadlineMs = request.message.header.deadlineMs
        if deadlineMs > 0 {
            let leftMicros = deadlineMs > now.epochMillis ? (deadlineMs - now.epochMillis).multipliedSaturating(by: 1000) : 0
            batchDeadline = min(batchDeadline ?? .max, now.monotonicMicros.addingSaturating(leftMicros / 2))
        }
        pending.append(request)
        pendingRows += request.rows
    }
}
