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
            guard workers[identity] != nil else {
                // A peer that is no registered worker (a READY of another protocol version, a header that does not
                // decode) was only counted and left to retry in silence: it is told to register again, as an unknown
                // worker is, which a worker of this protocol answers with a READY it can decode.
                disconnectUnknown(identity, now: now, into: &actions)
                return
            }
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
            disconnectUnknown(identity, now: now, into: &actions)
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
            if let worker = workers[identity], worker.modelVersion != header.modelVersion {
                // What it served, verified, stays admitted in its replies for a while: one computed across the swap
                // arrives after this heartbeat.
                if worker.modelVersion != 0, holdsClaimedVersion(worker) { workers[identity]?.admit(worker.modelVersion) }
                // It swapped models (only WEIGHTS do that): until it reports the hash, take the rollout's, when that
                // version's WEIGHTS were sent to it; a number never sent to it has no hash to take (unverified).
                let sent = worker.admittedVersions.contains(header.modelVersion)
                workers[identity]?.modelSHA256 =
                    header.modelVersion == 0 || !sent ? nil : rolledOutSHA[header.modelVersion]
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
            removeWorker(identity, reason: .workersDisconnected, saidGoodbye: true, now: now, into: &actions)
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
            // INTERNAL now, as a reply of the other service is, and the worker's credit is freed. So is a message
            // without the reply bit of a command that is no worker's own message (a STATUS, a WEIGHTS): it was only
            // counted, and its client waited for its deadline, where the same message damaged was INTERNAL at once.
            if header.isReply || !Self.workerMessageCodes.contains(header.command.rawValue),
                let entry = inflight[header.requestId], entry.worker == identity
            {
                let service = entry.request.service.name
                abandonDispatch(
                    header.requestId, from: identity,
                    problem: header.isReply
                        ? "sent a \(header.command.name) reply to a \(service) request"
                        : "sent a \(header.command.name) without the reply bit for a \(service) request",
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

    mutating func register(
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
            identity: identity, hello: hello, address: Self.displayAddress(peerAddress) ?? hello.host,
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
        if let resumed = drainsToResume.firstIndex(where: {
            $0.host == hello.host && $0.pid == hello.pid && $0.instance == hello.instance
        }) {
            drainsToResume.remove(at: resumed)
            drain(identity, into: &actions)
            return
        }
        sendWeightsIfStale(identity, now: now, into: &actions, force: true)
        if services.contains(.score) { judgeQueuedWidths(into: &actions) }
        for service in services where service.isWorkerService { pump(service, now: now, into: &actions) }
    }


    /// Forgets a worker and re-dispatches what it held, at most `maxAttempts` dispatches a request.
    /// - Parameter saidGoodbye: the worker sent DISCONNECT, so a drain it was told of is finished; a draining worker
    ///   that left without it (expired, its connection reset, its session restarted) is told to drain again when the
    ///   same process registers again.
    mutating func removeWorker(
        _ identity: [UInt8], reason: BrokerCounter, saidGoodbye: Bool = false, now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        guard let worker = workers.removeValue(forKey: identity) else { return }
        counters.add(reason)
        // A drained worker that leaves before it finished (it never said DISCONNECT): its process is told to drain
        // again when it registers again, so the drain a client was told of is not lost to a partition.
        if worker.draining, !saidGoodbye {
            let process = (worker.hello.host, worker.hello.pid, worker.hello.instance)
            drainsToResume.removeAll { $0.host == process.0 && $0.pid == process.1 && $0.instance == process.2 }
            drainsToResume.append(process)
            if drainsToResume.count > Self.drainsRememberedLimit { drainsToResume.removeFirst() }
        }
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

}

extension BrokerCore {
    /// Sends DISCONNECT to a peer that is no registered worker, at most once per heartbeat interval: a worker answers
    /// each DISCONNECT with a READY.
    mutating func disconnectUnknown(_ identity: [UInt8], now: BrokerInstant, into actions: inout [BrokerAction]) {
        let last = disconnectsSent[identity]
        if last == nil || now.monotonicMicros >= last!.addingSaturating(configuration.heartbeatIntervalMicros) {
            disconnectsSent[identity] = now.monotonicMicros
            actions.append(.sendToWorker(identity: identity, frames: [Header(command: .disconnect).encoded()]))
        }
    }
}

extension BrokerCore {
    /// Where a worker connects from, as `status` shows it: libzmq's `Peer-Address` for tcp (`127.0.0.1`), and for an
    /// `ipc://` peer, whose `Peer-Address` is its credentials `localhost:UID:GID:PID` (read as a host and port by
    /// whoever saw `localhost:0:0:14838`), `ipc (pid PID)`.
    static func displayAddress(_ peer: String?) -> String? {
        guard let peer else { return nil }
        let parts = peer.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 4, parts[0] == "localhost", parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
            return "ipc (pid \(parts[3]))"
        }
        return peer
    }
}
