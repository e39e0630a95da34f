import DequeModule
import RecWire

extension BrokerCore {
    /// `id#n`, within ``WorkerHello/maximumNameBytes`` UTF-8 bytes: the id keeps as many whole characters as leave
    /// room for the suffix.
    static func renamed(_ id: String, _ n: Int) -> String {
        let suffix = "#\(n)"
        let room = WorkerHello.maximumNameBytes - suffix.utf8.count
        var kept = Substring(id)
        while kept.utf8.count > room { kept = kept.dropLast() }
        return kept + suffix
    }

    /// Handles one backend message; `userId` is ZAP's `User-Id` (its CURVE key is read from it only at READY, not for
    /// every reply on the reactor thread).
    mutating func handleWorker(
        identity: [UInt8], frames: [[UInt8]], peerAddress: String?, userId: String? = nil, now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        counters.add(.workerMessages)
        let message: WireMessage
        do {
            message = try WireMessage(decoding: frames, limits: configuration.limits)
        } catch {
            counters.add(.malformedWorkerMessages)
            abandonMalformedReply(identity: identity, frames: frames, error: error, now: now, into: &actions)
            return
        }
        let header = message.header
        if header.command == .ready && !header.isReply {
            disconnectsSent[identity] = nil
            register(identity: identity, message: message, peerAddress: peerAddress, now: now, into: &actions)
            workers[identity]?.curveKey = PeerRole.key(inUserId: userId)
            return
        }
        // One hash of the identity for both the check and the update.
        guard let known = workers.index(forKey: identity) else {
            // The goodbye of a worker already gone (a drained worker's DISCONNECT after its connection was found
            // closed): nothing to answer, and not an unknown worker.
            if header.command == .disconnect && !header.isReply { return }
            // Unknown (or forgotten, after a broker restart): tell it to register again.
            counters.add(.unknownWorkerMessages)
            if header.isReply && header.command.isWorkerService { counters.add(.droppedLateReplies) }
            // Once per heartbeat interval: the worker answers each DISCONNECT with a READY.
            let last = disconnectsSent[identity]
            if last == nil || now.monotonicMicros >= last!.addingSaturating(configuration.heartbeatIntervalMicros) {
                disconnectsSent[identity] = now.monotonicMicros
                actions.append(.sendToWorker(identity: identity, frames: [Header(command: .disconnect).encoded()]))
            }
            return
        }
        workers.values[known].lastSeen = now.monotonicMicros
        switch (header.command, header.isReply) {
        case (.heartbeat, false) where header.requestProblem != nil:
            // An undefined flag bit or a status on a heartbeat: its load frame is not applied (it keeps the worker
            // alive, as any message does), and it is counted.
            counters.add(.malformedWorkerMessages)
        case (.heartbeat, false) where header.flags.contains(.drain):
            // Its load frame still restates its credit (a draining worker reports slots 0): STATUS shows it.
            if let load = message.payload.first.flatMap({ try? WorkerLoad(decoding: $0) }) {
                workers[identity]?.slots = Int(load.slots)
            }
            drain(identity, into: &actions)
        case (.heartbeat, false):
            let load = message.payload.first.flatMap { try? WorkerLoad(decoding: $0) }
            // A load frame that does not decode leaves the worker's slots, width and model as they were: counted.
            if load == nil && !message.payload.isEmpty { counters.add(.malformedWorkerMessages) }
            if workers[identity]?.modelVersion != header.modelVersion {
                // It swapped models (only WEIGHTS do that): until it reports the hash, take the rollout's.
                workers[identity]?.modelSHA256 = header.modelVersion == 0 ? nil : rolledOutSHA[header.modelVersion]
                workers[identity]?.modelSeed = nil
            }
            workers[identity]?.modelVersion = header.modelVersion
            // Checked as READY's is (WorkerHello.problem): a width no model has makes the load frame malformed, counted,
            // and none of it is applied (its slots were taken while the frame was counted malformed; docs/PROTOCOL.md,
            // "HEARTBEAT": a malformed payload leaves `slots` unchanged).
            if let load, let width = load.inputWidth, !(1...WorkerHello.maximumInputWidth).contains(Int(width)) {
                counters.add(.malformedWorkerMessages)
            } else if let load {
                workers[identity]?.slots = Int(load.slots)
                if let width = load.inputWidth { workers[identity]?.inputWidth = Int(width) }
                if let sha = load.modelSHA256Hex {
                    // A checkpoint's hash: the worker serves no seeded model (STATUS's `model_seed` is null for it).
                    workers[identity]?.modelSHA256 = sha
                    workers[identity]?.modelSeed = nil
                }
            }
            sendWeightsIfStale(identity, now: now, into: &actions, force: false)
            if let service = workers[identity]?.services.first { pumpAll(now: now, into: &actions, hint: service) }
        case (.disconnect, false):
            removeWorker(identity, reason: .workersDisconnected, now: now, into: &actions)
        case (.roundResult, false), (.policyState, false), (.catalogueState, false):
            actions.append(.toControl(.worker(identity: identity, message: message)))
        case (let command, true) where command.isWorkerService:
            complete(identity: identity, message: message, now: now, into: &actions)
        case (let command, false) where command.isWorkerService:
            // A SCORE or RECOMMEND without the reply bit: if it names one of this worker's dispatches (of either
            // service), that request is answered INTERNAL now, never left waiting for a reply that will not come.
            counters.add(.unexpectedWorkerCommands)
            if let entry = inflight[header.requestId], entry.worker == identity {
                let service = entry.request.service
                abandonDispatch(
                    header.requestId, from: identity,
                    problem: service == command
                        ? "sent a \(command.name) without the reply bit for the request"
                        : "sent a \(command.name) without the reply bit for a \(service.name) request",
                    now: now, into: &actions)
            }
        default:
            counters.add(.unexpectedWorkerCommands)
            // A reply of a command a worker never answers (STATUS, CONTROL, FEEDBACK, …: a worker replies only to
            // SCORE and RECOMMEND) that names one of its dispatches cannot be that request's answer: it is answered
            // INTERNAL now, as a reply of the other service is, and the worker's credit is freed.
            if header.isReply, let entry = inflight[header.requestId], entry.worker == identity {
                abandonDispatch(
                    header.requestId, from: identity,
                    problem: "sent a \(header.command.name) reply to a \(entry.request.service.name) request",
                    now: now, into: &actions)
            }
        }
    }

    /// Marks a worker draining and tells it nothing more will come (a HEARTBEAT with the DRAIN flag).
    /// It keeps its in-flight requests; its DISCONNECT, once it has answered them, removes it.
    mutating func drain(_ identity: [UInt8], into actions: inout [BrokerAction]) {
        guard let worker = workers[identity] else { return }
        if !worker.draining { counters.add(.workersDraining) }
        workers[identity]?.draining = true
        actions.append(.sendToWorker(identity: identity, frames: [Header(command: .heartbeat, flags: .drain).encoded()]))
    }

    private mutating func register(
        identity: [UInt8], message: WireMessage, peerAddress: String?, now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        var hello: WorkerHello
        do {
            // An undefined flag bit or a status on the READY is a header no request may carry (docs/PROTOCOL.md,
            // "Frame 0"): refused as a READY that does not decode is, as a HEARTBEAT's is not applied.
            if let problem = message.header.requestProblem { throw problem }
            let frame = try message.frame(0)
            // Read on the reactor: a READY is a few hundred bytes, and a larger one is not read at all.
            guard frame.count <= WorkerHello.maximumDocumentBytes else {
                throw WireError.badDocument("a READY document is at most \(WorkerHello.maximumDocumentBytes) bytes")
            }
            hello = try WireJSON.decodeRequest(WorkerHello.self, from: frame)
        } catch {
            counters.add(.malformedWorkerMessages)
            actions.append(.sendToWorker(identity: identity, frames: [Header(command: .disconnect).encoded()]))
            return
        }
        // A READY that decodes but names no worker the broker could route to (slots −1, width −3, a SHA `zz`) is
        // answered as one that does not decode: registered, it would show in STATUS as a width no tensor has.
        if hello.problem != nil {
            counters.add(.malformedWorkerMessages)
            actions.append(.sendToWorker(identity: identity, frames: [Header(command: .disconnect).encoded()]))
            return
        }
        if workers[identity] != nil {
            // A READY from a registered worker means it restarted its session: what it held is lost.
            removeWorker(identity, reason: .workersReregistered, now: now, into: &actions)
        }
        let requestedId = hello.workerId
        if let other = workers.values.first(where: { $0.hello.workerId == requestedId }) {
            if other.hello.pid == hello.pid && other.hello.host == hello.host {
                // The same process on a new connection (it reconnected before its old one expired).
                removeWorker(other.identity, reason: .workersReregistered, now: now, into: &actions)
            } else {
                // Another live process has this id: ids stay unique, so this one gets `id#n`, the id cut short (at a
                // character) when the suffix would take it past the longest `worker_id` a READY may carry.
                let taken = Set(workers.values.map(\.hello.workerId))
                var n = 2
                while taken.contains(Self.renamed(requestedId, n)) { n += 1 }
                hello.workerId = Self.renamed(requestedId, n)
                counters.add(.workersRenamed)
            }
        }
        let services = Set(hello.services.compactMap { name in Command.allCases.first { $0.name == name } })
        workers[identity] = WorkerRecord(
            identity: identity, hello: hello, address: peerAddress ?? hello.host,
            services: services.filter(\.isWorkerService), slots: max(0, hello.slots),
            modelVersion: hello.modelVersion, inputWidth: hello.inputWidth,
            modelSHA256: hello.modelSha256,  // the worker's claim, checked against the registry
            lastSeen: now.monotonicMicros,
            trains: hello.services.contains(Command.trainRound.name), online: hello.services.contains(Command.policy.name))
        // Assigned, not passed to the initialiser, so its observer records the identity string.
        workers[identity]?.modelSeed = hello.modelSha256 == nil && hello.modelVersion == 0 ? hello.modelSeed : nil
        registrations += 1
        workers[identity]?.registration = registrations
        counters.add(.workersRegistered)
        let waits = hello.modelVersion == 0 || workers[identity].map { !holdsClaimedVersion($0) } ?? false
        let registration = WorkerRegistration(
            workerId: hello.workerId, requestedId: hello.workerId == requestedId ? nil : requestedId,
            waitingForVersion: waits ? rollout?.version : nil,
            servedPolicy: onlineView.flatMap {
                $0.enabled ? PolicyVersionReference(version: $0.version, weightsSha256: $0.weightsSha256) : nil
            }, heartbeatMs: configuration.heartbeatIntervalMs, liveness: configuration.liveness)
        let answer = [Header(command: .heartbeat).encoded(), WireJSON.encode(registration)]
        actions.append(.sendToWorker(identity: identity, frames: answer))
        sendWeightsIfStale(identity, now: now, into: &actions, force: true)
        if services.contains(.score) { judgeQueuedWidths(into: &actions) }
        for service in services where service.isWorkerService { pump(service, now: now, into: &actions) }
    }

    private mutating func complete(
        identity: [UInt8], message: WireMessage, now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        let dispatchId = message.header.requestId
        guard let entry = inflight[dispatchId], entry.worker == identity else {
            counters.add(.droppedLateReplies)
            return
        }
        inflight[dispatchId] = nil
        release(entry.request)
        // The worker is registered (handleWorker checked); one hash of its identity for the three updates.
        if let index = workers.index(forKey: identity) {
            workers.values[index].inflight.remove(dispatchId)
            workers.values[index].completed += 1
            if message.header.status != .ok { workers.values[index].errors += 1 }
        }
        if replyLatencies.count < 100_000 { replyLatencies.append(now.monotonicMicros &- entry.dispatchedAt) }
        latencies[entry.request.service, default: ServiceLatency()].record(now.monotonicMicros &- entry.dispatchedAt)
        if entry.clientAnswered {
            counters.add(.droppedLateReplies)
        } else if let problem = replyProblem(message, to: entry.request, from: identity) {
            // Never forwarded: a score under another version's number, a NaN, a shape the request did not ask for.
            // The client gets an error from this worker's reply: one of its `errors`, as an error status is.
            counters.add(.invalidWorkerReplies)
            if message.header.status == .ok, let index = workers.index(forKey: identity) { workers.values[index].errors += 1 }
            locations[entry.request.key] = nil
            let worker = workers[identity]?.hello.workerId ?? "?"
            reply(
                to: entry.request, status: .internal, message: "worker \(worker) sent an invalid reply: \(problem)",
                into: &actions)
        } else {
            locations[entry.request.key] = nil
            var header = message.header
            header.requestId = entry.request.header.requestId
            header.attempt = entry.request.attempts
            // A reply defines no flag, no deadline and (from a worker, which never answers BUSY) no retry hint: what
            // a worker set there is not passed on as if the broker had said it (docs/PROTOCOL.md, "Frame 0").
            header.flags = []
            header.deadlineMs = 0
            header.retryAfterMs = 0
            let queued = entry.dispatchedAt &- entry.request.acceptedAt
            header.brokerQueueMicros = UInt32(clamping: queued)
            var payload = message.payload
            if header.command == .recommend && payload.count >= 2 {
                // A policy reply's third frame is the impression record: it goes to the log, not the client. The
                // slate is always held: it goes out only once its impression is stored (so feedback on it is never
                // refused), and a broker that runs no online learning (or whose policy did not start) cannot store
                // it, so the control plane answers with an error naming why instead (never a slate it cannot log).
                let record = payload.removeLast()
                let worker = workers[identity]?.hello.workerId ?? ""
                awaitControl(client: entry.request.client, header: header)
                actions.append(
                    .toControl(
                        .heldImpression(
                            worker: worker, record: record, client: entry.request.client,
                            frames: [header.encoded()] + payload)))
                pump(entry.request.service, now: now, into: &actions)
                return
            }
            // One array sized for every frame: `[header] + payload` allocated twice per reply.
            var frames: [[UInt8]] = []
            frames.reserveCapacity(1 + payload.count)
            frames.append(header.encoded())
            frames.append(contentsOf: payload)
            actions.append(.sendToClient(identity: entry.request.client, frames: frames))
        }
        pump(entry.request.service, now: now, into: &actions)
    }

    /// Why a decoded reply cannot be the answer to `request`, or nil when it can. The broker forwards a reply's
    /// frames without copying them, but the few bytes it checks here decide whether a client may trust them:
    /// - it answers the request's command (a SCORE is not answered by a RECOMMEND reply);
    /// - an error reply carries exactly one payload frame, its message: non-empty UTF-8 text (docs/PROTOCOL.md, "Status
    ///   codes");
    /// - an OK SCORE reply is one `rows × 1` tensor of finite scores for the request's rows;
    /// - its model version is one the request's pin admits, and one the worker serves: its registered version, or one
    ///   this broker rolled out to it (WEIGHTS may swap it between a heartbeat and the reply). A version number is
    ///   the registry's, never a worker's own. A RECOMMEND answered from the model (one frame, the ranking) is judged
    ///   so too; one answered by the online policy (the slate and its impression record) carries the policy's
    ///   version, which a pin does not select.
    func replyProblem(_ message: WireMessage, to request: PendingRequest, from identity: [UInt8]) -> String? {
        let header = message.header
        guard header.command == request.service else {
            return "a \(header.command.name) reply to a \(request.service.name) request"
        }
        guard header.status == .ok else {
            // A status only the broker gives (or the client asks for): a client reads BUSY as "not executed, retry",
            // CANCELLED as its own CANCEL, WORKER_LOST as the broker's last attempt; from a worker each would be false.
            if Self.brokerOnlyStatuses.contains(header.status) {
                return "a \(header.status.name) reply, a status only the broker gives"
            }
            guard message.payload.count == 1 else {
                return "a \(header.status.name) reply with \(message.payload.count) payload frames instead of one message"
            }
            // The message is UTF-8 text naming the problem (docs/PROTOCOL.md, "Status codes"): a client would print
            // other bytes as they came, or an empty string as the whole explanation.
            if message.payload[0].isEmpty { return "a \(header.status.name) reply with an empty message" }
            if String(validating: message.payload[0], as: UTF8.self) == nil {
                return "a \(header.status.name) reply whose message is not UTF-8 text"
            }
            return nil
        }
        guard request.service == .score else {
            if message.payload.isEmpty { return "an OK reply with no payload" }
            // The request's `top` and `candidates` bound a slate as they bound a ranking (a request document past the
            // reactor's budget for a second read is not read again).
            let asked = request.payload.first.flatMap {
                $0.byteCount <= RankedItemsReply.requestReadLimitBytes ? $0.bytes : nil
            }
            guard message.payload.count == 1 else {
                // A policy slate: checked against the request here, against its impression record by OnlineCore.
                return message.payload.count == 2 ? PolicySlateReply.problem(message.payload[0], request: asked) : nil
            }
            if policyReplicas != nil {
                // An online broker routes RECOMMEND only to policy replicas, whose slate always comes with its
                // impression record: one frame is a slate without it, not a model's ranking to judge by its version.
                return "a RECOMMEND reply of one frame: a policy slate comes with its impression record (two frames)"
            }
            // The request's `top` and `candidates` bound the ranking; a request document past the reactor's budget
            // for a second read (a long candidate list) is not read again: its ranking is checked on its own terms.
            if let problem = RankedItemsReply.problem(message.payload[0], headerVersion: header.modelVersion, request: asked) {
                return problem
            }
            return versionProblem(header.modelVersion, to: request, from: identity)
        }
        guard message.payload.count == 1 else {
            return "an OK SCORE reply with \(message.payload.count) payload frames instead of one score tensor"
        }
        let shape: (rows: Int, cols: Int)
        do {
            // The shape only: the one scan below refuses NaN and ±∞ with the other values that are no probability.
            shape = try Tensor.validate(message.payload[0], requireFinite: false)
        } catch {
            return "its score tensor is invalid: \(error)"
        }
        if let rows = request.rows, shape.rows != rows || shape.cols != 1 {
            return "a \(shape.rows)×\(shape.cols) score tensor for a \(rows)-row request (expected \(rows)×1)"
        }
        // A score is a probability (the model ends in a sigmoid): 1.5 or −2 is no answer a client may trust.
        if let row = message.payload[0].withUnsafeBytes({ Tensor.firstOutsideUnitInterval(inEncoded: $0, count: shape.rows) }) {
            let value = message.payload[0].withUnsafeBytes {
                Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8 + 4 * row, as: UInt32.self)))
            }
            return WireError.scoreOutOfRange(row: row, value: value).description
        }
        return versionProblem(header.modelVersion, to: request, from: identity)
    }

    /// The statuses a worker's reply never carries (docs/PROTOCOL.md, "Status codes"): each describes what the broker
    /// did with a request (refused it on arrival, found no worker, lost one, cancelled it) or the client's credentials.
    static let brokerOnlyStatuses: Set<Status> = [
        .busy, .cancelled, .noWorker, .unauthorized, .unsupportedVersion, .workerLost,
    ]

    /// Why a reply's model `version` cannot be the answer to `request` from this worker, or nil: the request's pin
    /// refuses it, or the worker does not serve it (see ``replyProblem(_:to:from:)``).
    private func versionProblem(_ version: UInt64, to request: PendingRequest, from identity: [UInt8]) -> String? {
        let wanted = request.header.modelVersion
        if wanted > 0 {
            let exact = request.header.flags.contains(.exactVersion)
            if exact ? version != wanted : version < wanted {
                return "model version \(version), which the request's pin (\(exact ? "exactly" : "at least") \(wanted)) refuses"
            }
        }
        let registered = workers[identity]?.modelVersion
        if version != registered && rolledOutSHA[version] == nil {
            return "model version \(version), which it does not serve (it serves \(registered.map(String.init) ?? "none"))"
        }
        return nil
    }

    /// A worker's message that did not decode but whose header names one of its in-flight requests (magic and request
    /// id readable): that request is answered INTERNAL now, instead of waiting for its deadline or, without one,
    /// for ever. A message naming none is only counted.
    private mutating func abandonMalformedReply(
        identity: [UInt8], frames: [[UInt8]], error: WireError, now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        // Only a reply (the reply bit) can name a dispatch, and only as the request's own service or under an
        // undefined command code (0xff, 0x80: it was left in flight, without a deadline for ever): a ROUND_RESULT's
        // id is its round and a POLICY_STATE's its sync, and a message that is no reply is in no dispatch's id space.
        guard let first = frames.first, first.count > 4, first[4] & Header.replyBit != 0,
            let dispatchId = Header.salvageRequestId(first), let entry = inflight[dispatchId], entry.worker == identity
        else { return }
        if let command = Header.salvageCommand(first), command != entry.request.service { return }
        abandonDispatch(dispatchId, from: identity, problem: "sent a reply that does not decode: \(error)", now: now, into: &actions)
    }

    /// Answers this worker's dispatch `dispatchId` INTERNAL "worker W `problem`" now (counted in
    /// `invalid_worker_replies`), and forgets it: the worker's message named it but cannot be its answer.
    private mutating func abandonDispatch(
        _ dispatchId: UInt64, from identity: [UInt8], problem: String, now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        guard let entry = inflight[dispatchId], entry.worker == identity else { return }
        inflight[dispatchId] = nil
        release(entry.request)
        if let index = workers.index(forKey: identity) {
            workers.values[index].inflight.remove(dispatchId)
            workers.values[index].completed += 1
            workers.values[index].errors += 1
        }
        counters.add(.invalidWorkerReplies)
        if entry.clientAnswered {
            counters.add(.droppedLateReplies)
        } else {
            locations[entry.request.key] = nil
            let worker = workers[identity]?.hello.workerId ?? "?"
            reply(to: entry.request, status: .internal, message: "worker \(worker) \(problem)", into: &actions)
        }
        pump(entry.request.service, now: now, into: &actions)
    }

    /// Forgets a worker and re-dispatches what it held, at most `maxAttempts` dispatches a request.
    mutating func removeWorker(
        _ identity: [UInt8], reason: BrokerCounter, now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        guard let worker = workers.removeValue(forKey: identity) else { return }
        counters.add(reason)
        var touched = Set<Command>()
        // Re-queue in dispatch order, at the front, so re-dispatched work keeps its place.
        let held = worker.inflight.compactMap { id in inflight.removeValue(forKey: id).map { (id, $0) } }
            .sorted { $0.0 > $1.0 }
        for (_, entry) in held {
            if entry.clientAnswered {
                release(entry.request)
                continue
            }
            var request = entry.request
            if request.attempts >= configuration.maxAttempts {
                release(request)
                locations[request.key] = nil
                counters.add(.droppedWorkerLost)
                reply(
                    to: request, status: .workerLost,
                    message:
                        "worker \(worker.hello.workerId) died holding the request after \(request.attempts) attempt(s)",
                    into: &actions)
                continue
            }
            counters.add(.redispatched)
            request.acceptedAt = min(request.acceptedAt, now.monotonicMicros)
            queues[request.service, default: Deque()].prepend(request)
            locations[request.key] = .queued
            touched.insert(request.service)
        }
        for service in touched { pump(service, now: now, into: &actions) }
    }

    // MARK: Dispatch

    /// Sends queued requests of `service` to workers with free credit, least-loaded first.
    mutating func pump(_ service: Command, now: BrokerInstant, into actions: inout [BrokerAction]) {
        // Taken out of the dictionary while it changes, so that removing from it does not copy it
        // (and every request in it) on each call.
        guard var queue = queues.removeValue(forKey: service) else { return }
        defer { queues[service] = queue }
        guard !queue.isEmpty else { return }
        var index = queue.startIndex
        var skipped = 0
        while index < queue.endIndex && skipped < 64 {
            let request = queue[index]
            if request.isExpired(at: now) {
                queue.remove(at: index)
                release(request)
                locations[request.key] = nil
                counters.add(.droppedExpired)
                reply(
                    to: request, status: .expired, message: "the deadline passed while the request was queued",
                    into: &actions)
                continue
            }
            guard let worker = leastLoadedWorker(for: request) else {
                if !request.widthJudged {
                    if let problem = widthProblem(request) {
                        // No live worker's model takes rows this wide: say so now rather than at the timeout.
                        refuseWidth(queue.remove(at: index), problem, into: &actions)
                        continue
                    }
                    // Judged once a worker offering the service has seen it: a re-queued or long-queued request whose
                    // width's workers then leave waits for the no-worker timeout (CONFLICT), it is not BAD_REQUEST.
                    if workers.values.contains(where: { $0.services.contains(service) }) {
                        queue[index].widthJudged = true
                    }
                }
                if !hasFreeSlot(for: service) { break }
                index += 1
                skipped += 1
                continue
            }
            var taken = queue.remove(at: index)
            taken.widthJudged = true
            dispatch(taken, to: worker, now: now, into: &actions)
        }
    }

    /// Judges the width of every queued SCORE that arrived while no worker offered SCORE (``PendingRequest/widthJudged``),
    /// now that one does: rows no live worker takes are BAD_REQUEST, the rest judged. A pump stops at the first request
    /// it cannot place, so it would leave the rest of the queue unjudged, and a request behind it would be answered
    /// BAD_REQUEST later, once the workers of its width had come and gone, where the one before it got CONFLICT.
    private mutating func judgeQueuedWidths(into actions: inout [BrokerAction]) {
        guard var queue = queues.removeValue(forKey: .score) else { return }
        defer { queues[.score] = queue }
        var index = queue.startIndex
        while index < queue.endIndex {
            guard !queue[index].widthJudged else {
                index += 1
                continue
            }
            if let problem = widthProblem(queue[index]) {
                refuseWidth(queue.remove(at: index), problem, into: &actions)
                continue
            }
            queue[index].widthJudged = true
            index += 1
        }
    }

    /// Answers a SCORE taken out of its queue BAD_REQUEST for its width (`problem`, from ``widthProblem(_:)``): its
    /// bytes and its place are let go, and it counts as an invalid request.
    private mutating func refuseWidth(_ request: PendingRequest, _ problem: String, into actions: inout [BrokerAction]) {
        release(request)
        locations[request.key] = nil
        counters.add(.invalidRequests)
        reply(to: request, status: .badRequest, message: problem, into: &actions)
    }

    mutating func pumpAll(now: BrokerInstant, into actions: inout [BrokerAction], hint: Command) {
        for service in Array(queues.keys) { pump(service, now: now, into: &actions) }
    }

    private func hasFreeSlot(for service: Command) -> Bool {
        workers.values.contains { $0.services.contains(service) && $0.freeSlots > 0 }
    }

    /// Whether `worker` may take `request`: it offers the service and meets the version pin, its
    /// model takes rows of the request's width (SCORE), and it serves a registered model whenever
    /// one is promoted (a worker on the seeded or an unregistered file model takes no work then,
    /// until WEIGHTS bring it the promoted version).
    ///
    /// One version number names one model: a worker whose model differs from the one its version number is served
    /// by for such requests (``servingIdentities(for:)``) takes no work, so no two models answer under one number.
    func isEligible(
        _ worker: WorkerRecord, for request: PendingRequest, serving: [UInt64: String]? = nil,
        ignoringDrain: Bool = false
    ) -> Bool {
        // A draining worker never takes another request: counted eligible, it held queued requests without a limit.
        guard ignoringDrain || !worker.draining, worker.serves(request.header) else { return false }
        // An online broker's RECOMMEND is answered by the policy a replica installed, the same on every replica, and
        // its slate carries the policy's version: whose model the replica holds (a number from another registry, the
        // seeded model while a version is promoted) does not decide whether it may take one. Such replicas, left
        // running from another state directory, held every policy slate CONFLICT.
        // A pinned one is judged against the replica's model number (PROTOCOL.md), which must then be the registry's.
        if request.service == .recommend, let policyReplicas {
            return policyReplicas.contains(worker.identity)
                && (request.header.modelVersion == 0 || holdsClaimedVersion(worker))
        }
        guard holdsClaimedVersion(worker) else { return false }
        if let columns = request.columns, columns != worker.inputWidth { return false }
        if rollout != nil && worker.modelVersion == 0 { return false }
        if let chosen = (serving ?? servingIdentities(for: request))[worker.modelVersion],
            chosen != worker.modelIdentity(for: request.service)
        {
            return false
        }
        return true
    }

    /// The model each version number is served by for requests like `request` (its service and, for SCORE, its
    /// rows' width: models of two widths never take the same rows), keyed by version: the
    /// ``WorkerRecord/modelIdentity`` of the longest-registered live worker that could take such a request, reports
    /// the number (and holds it, ``holdsClaimedVersion(_:)``) and is not draining, or is draining but still holds
    /// requests (so the next model takes the number only after the last of them is answered). Version 0 is every unregistered
    /// model (each checkpoint file, the seeded model), and a broker without a registry checks no number's hash:
    /// without this choice two workers with different weights would answer such requests under one number, and a
    /// client could not tell their answers apart. A worker on the same number with another model takes no such
    /// request until the chosen one leaves (or WEIGHTS give it a registered version).
    ///
    /// Empty (no allocation: it runs at every dispatch) when every such worker reports the same version and model,
    /// the usual case: then no worker is benched.
    func servingIdentities(for request: PendingRequest) -> [UInt64: String] {
        servingIdentities(service: request.service, columns: request.columns)
    }

    /// ``servingIdentities(for:)`` for requests of `service` with rows of `columns` features (nil: any, RECOMMEND).
    func servingIdentities(service: Command, columns: Int?) -> [UInt64: String] {
        // An online broker's slates come from the served policy, the same on every replica whatever model it holds
        // (``policyReplicas``): no replica that installed it is benched for another's checkpoint.
        if service == .recommend && policyReplicas != nil { return [:] }
        // Walked by index, reading fields in place: iterating the records copied each one (a retain per field).
        func takes(_ index: [[UInt8]: WorkerRecord].Index) -> Bool {
            workers.values[index].services.contains(service)
                && (columns.map { $0 == workers.values[index].inputWidth } ?? true)
        }
        var first: (version: UInt64, identity: String)?
        var uniform = true
        for index in workers.indices where takes(index) {
            let version = workers.values[index].modelVersion
            guard let seen = first else {
                first = (version, workers.values[index].modelIdentity(for: service))
                continue
            }
            if seen.version != version || seen.identity != workers.values[index].modelIdentity(for: service) {
                uniform = false
                break
            }
        }
        if uniform { return [:] }
        var chosen: [UInt64: (registration: UInt64, identity: String)] = [:]
        // A draining worker keeps its number while it still holds requests: another model takes over only once its
        // last answer is in, so the two never answer under one number at the same time.
        for worker in workers.values
        where (!worker.draining || !worker.inflight.isEmpty) && worker.services.contains(service)
            && (columns.map { $0 == worker.inputWidth } ?? true) && holdsClaimedVersion(worker)
        {
            if let current = chosen[worker.modelVersion], current.registration < worker.registration { continue }
            chosen[worker.modelVersion] = (worker.registration, worker.modelIdentity(for: service))
        }
        return chosen.mapValues(\.identity)
    }

    /// Which kinds of request `worker` takes none of although it is live and holds its version, and why: another
    /// model serves its version number for them (``servingIdentities(service:columns:)``); nil when it may take every
    /// kind it offers.
    func idleReason(_ worker: WorkerRecord) -> String? {
        guard rollout == nil, !worker.draining, holdsClaimedVersion(worker) else { return nil }
        var held: [(service: String, by: String)] = []
        for service in worker.services.sorted(by: { $0.rawValue < $1.rawValue }) {
            let columns = service == .score ? worker.inputWidth : nil
            if let chosen = servingIdentities(service: service, columns: columns)[worker.modelVersion],
                chosen != worker.modelIdentity(for: service)
            {
                held.append((service.name, Self.describeModel(chosen)))
            }
        }
        guard !held.isEmpty else { return nil }
        // One model usually serves the number for both services: it is named once ("…, checkpoint X, checkpoint X").
        var servers: [String] = []
        for entry in held where !servers.contains(entry.by) { servers.append(entry.by) }
        return "takes no \(held.map(\.service).joined(separator: " or ")): model version \(worker.modelVersion) is served "
            + "there by \(servers.joined(separator: ", ")), and this worker serves "
            + "\(Self.describeModel(worker.modelIdentity)) under the same number"
    }

    /// How a model identity is named in messages.
    static func describeModel(_ identity: String) -> String {
        if identity.isEmpty { return "the seeded model" }
        if identity.hasPrefix("seed:") { return "the model seeded with \(identity.dropFirst(5))" }
        return "checkpoint sha256 \(identity.prefix(12))…"
    }

    /// Whether the version a worker claims is the registry's: its checkpoint hash is the one the
    /// registry holds under that number. A worker that claims a number with other weights (from
    /// another state directory, say) takes no work until WEIGHTS replace them. Always true for
    /// version 0 and for a broker without a registry.
    func holdsClaimedVersion(_ worker: WorkerRecord) -> Bool {
        guard worker.modelVersion != 0, let registeredModels else { return true }
        guard let registered = registeredModels[worker.modelVersion] else { return false }
        return worker.modelSHA256 == registered
    }

    /// The live workers that offer `service` and still take requests: a draining worker answers what it holds and
    /// takes nothing more, so no request waits for it.
    func takingWorkers(_ service: Command) -> [WorkerRecord] {
        workers.values.filter { $0.services.contains(service) && !$0.draining }
    }

    /// `" (N draining)"` when draining workers offer `service`, for a reply that says none takes it; else empty.
    func drainingNote(_ service: Command) -> String {
        let draining = workers.values.filter { $0.services.contains(service) && $0.draining }.count
        return draining == 0 ? "" : " (\(draining) draining, which take no new request)"
    }

    /// For a SCORE request whose rows no live worker's model takes (workers offer the service, none
    /// has the request's width), the BAD_REQUEST message; otherwise `nil`.
    ///
    /// Not while a promoted version is still rolling out to a worker offering the service: the promoted model's width
    /// may be the request's, so the request waits, and is answered CONFLICT after no-worker-timeout if no worker
    /// reaches the version (docs/PROTOCOL.md, "Status codes"), never told that rows of the promoted width are bad.
    func widthProblem(_ request: PendingRequest) -> String? {
        guard let columns = request.columns else { return nil }
        // A draining worker's width counts here: during a rolling restart its replacement is on its way, so the
        // request is queued, and answered after no-worker-timeout if none comes (`ineligibilityReason`).
        let offering = workers.values.filter { $0.services.contains(request.service) }
        guard !offering.isEmpty, !offering.contains(where: { $0.inputWidth == columns }) else { return nil }
        if let rollout, offering.contains(where: { $0.modelVersion != rollout.version }) {
            // Workers are moving to the promoted version: rows of its width wait for them; rows of another width no
            // live worker takes now could only wait for the no-worker timeout.
            guard let promotedWidth = rolloutInputWidth, promotedWidth != columns else { return nil }
            let widths = Set(offering.map(\.inputWidth)).sorted().map(String.init).joined(separator: ", ")
            return "rows have \(columns) features; no live worker takes them (served widths: \(widths)), and the "
                + "promoted model version \(rollout.version), which the workers are moving to, expects \(promotedWidth)"
        }
        let served = Dictionary(offering.map { ($0.inputWidth, $0.modelVersion) }, uniquingKeysWith: max)
        let expected = served.sorted { $0.key < $1.key }.map { "model version \($0.value) expects \($0.key)" }
        return "rows have \(columns) features; no live worker takes them (\(expected.joined(separator: "; ")))"
    }

    /// Why no live worker may take `request` (the NO_WORKER or CONFLICT reply's message), or `nil`
    /// when one may.
    func ineligibilityReason(for request: PendingRequest) -> String? {
        let service = request.service
        let offering = takingWorkers(service)
        let serving = servingIdentities(for: request)
        guard !offering.contains(where: { isEligible($0, for: request, serving: serving) }) else { return nil }
        // A draining worker that could take it still holds requests: it keeps its version number until the last of
        // them is answered (`servingIdentities`), and the worker benched behind it takes the request then. Not yet.
        if workers.values.contains(where: {
            $0.draining && !$0.inflight.isEmpty && $0.services.contains(service)
                && isEligible($0, for: request, serving: serving, ignoringDrain: true)
        }) {
            return nil
        }
        if offering.isEmpty { return "no live worker offers \(service.name)" + drainingNote(service) }
        if service == .recommend, let policyReplicas,
            !offering.contains(where: { policyReplicas.contains($0.identity) })
        {
            let online = offering.filter(\.online).count
            return "no live worker has installed the online policy yet (\(offering.count) offer RECOMMEND, "
                + "\(online) of them online learners): a slate comes only from the served policy"
        }
        let versioned = offering.filter { $0.serves(request.header) }
        if versioned.isEmpty {
            return "no live worker serves model version \(request.header.modelVersion) for \(service.name)"
        }
        if let columns = request.columns, !versioned.contains(where: { $0.inputWidth == columns }) {
            let widths = Set(versioned.map(\.inputWidth)).sorted().map(String.init).joined(separator: ", ")
            return "no live worker serves rows of \(columns) features (served widths: \(widths))"
        }
        let fitting = versioned.filter { request.columns == nil || $0.inputWidth == request.columns }
        if rollout == nil,
            let benched = fitting.first(where: { w in
                holdsClaimedVersion(w) && serving[w.modelVersion].map { $0 != w.modelIdentity(for: service) } == true
            }), let chosen = serving[benched.modelVersion]
        {
            return "no live worker may take it: model version \(benched.modelVersion) is served by "
                + "\(Self.describeModel(chosen)), and worker \(benched.hello.workerId) serves another model under the "
                + "same number (\(Self.describeModel(benched.modelIdentity(for: service)))), so it takes no work while that one is live"
        }
        guard let promoted = rollout?.version else {
            // Nothing is promoted: the workers left claim versions whose checkpoints are not the registry's.
            return "no live worker holds a registered model: workers that claim a version whose checkpoint is not "
                + "the registry's take no work until a promoted version's WEIGHTS replace it"
        }
        return "no live worker has the promoted model version \(promoted) yet "
            + "(workers on the seeded or an unregistered model take no work while a version is promoted)"
    }

    private func leastLoadedWorker(for request: PendingRequest) -> [UInt8]? {
        var bestLoad = Double.infinity
        // During a rollout, once any replica serves the new version, unpinned requests go only to
        // such replicas, so a client never sees the version go back.
        let serving = servingIdentities(for: request)
        // A policy slate does not come from the model being rolled out (``isEligible(_:for:serving:ignoringDrain:)``).
        let policySlate = request.service == .recommend && policyReplicas != nil
        let rolledOut = policySlate ? false : rollout.map { rollout in
            request.header.modelVersion == 0
                && workers.values.contains {
                    $0.modelVersion == rollout.version && isEligible($0, for: request, serving: serving)
                }
        } ?? false
        // Walked by index, the record copied only for a worker with a free slot, to check it in full.
        var bestIndex: [[UInt8]: WorkerRecord].Index?
        for index in workers.indices where workers.values[index].freeSlots > 0 {
            let version = workers.values[index].modelVersion
            if rolledOut && version != rollout?.version { continue }
            let load = Double(workers.values[index].inflight.count) / Double(workers.values[index].slots)
            if load < bestLoad && isEligible(workers.values[index], for: request, serving: serving) {
                bestLoad = load
                bestIndex = index
            }
        }
        return bestIndex.map { workers.keys[$0] }
    }

    private mutating func dispatch(
        _ request: PendingRequest, to worker: [UInt8], now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        var request = request
        request.attempts = request.attempts.addingSaturating(1)
        let dispatchId = nextDispatchId
        nextDispatchId &+= 1
        var header = request.header
        header.requestId = dispatchId
        header.attempt = request.attempts
        inflight[dispatchId] = InflightEntry(request: request, worker: worker, dispatchedAt: now.monotonicMicros)
        // Through the index: the optional-chained subscript copied the whole record out and back.
        if let index = workers.index(forKey: worker) { workers.values[index].inflight.insert(dispatchId) }
        locations[request.key] = .inflight(dispatchId: dispatchId)
        counters.add(.dispatched)
        actions.append(.sendToWorker(identity: worker, frames: [header.encoded()], payload: request.payload))
    }
}
