import DequeModule
import RecWire

extension BrokerCore {
    mutating func handleClient(
        identity: [UInt8], frames: [[UInt8]], held: [any PayloadFrame] = [], userId: String?, now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        counters.add(.clientMessages)
        let message: WireMessage
        do {
            message = try WireMessage(decoding: frames, limits: configuration.limits)
        } catch {
            rejectMalformed(identity: identity, frames: frames, error: error, into: &actions)
            return
        }
        let header = message.header
        guard !header.isReply else {
            answer(identity, header, .badRequest, "clients may not send replies (\(header.command.name))", &actions)
            return
        }
        counters.request(header.command)
        if configuration.enforceRoles, let refusal = authorize(message, userId: userId) {
            counters.add(.unauthorizedRequests)
            answer(identity, header, .unauthorized, refusal, &actions)
            return
        }
        if let problem = header.requestProblem {
            // `answer` counts a BAD_REQUEST; any other refusal of the header is an invalid request too.
            if problem.status != .badRequest { counters.add(.invalidRequests) }
            answer(identity, header, problem.status, problem.description, &actions)
            return
        }
        switch header.command {
        case .score, .recommend:
            accept(identity: identity, message: message, held: held, now: now, into: &actions)
        case .status:
            let document = statusDocument(now: now)
            var reply = header.reply()
            reply.command = .status
            actions.append(
                .sendToClient(identity: identity, frames: [reply.encoded(), WireJSON.encode(document)]))
        case .cancel:
            cancel(identity: identity, message: message, now: now, into: &actions)
        case .feedback:
            if let refusal = arrivalRefusal(header, client: identity, payloadBytes: 0, now: now),
                refusal == .expired || refusal == .shuttingDown
            {
                shed(identity: identity, header: header, now: now, into: &actions)
                return
            }
            if refuseOversized(identity, header, message, limit: FeedbackRequest.maximumDocumentBytes, &actions) { return }
            if refuseOutstandingId(identity, header, &actions) { return }
            // Feedback is made durable by the control plane before it is acknowledged.
            awaitControl(client: identity, header: header)
            actions.append(.toControl(.client(identity: identity, message: message, userId: userId)))
        case .control:
            // A shutting-down broker starts nothing new: a CONTROL accepted now would hold the drain open and could
            // only end BUSY at its bound, perhaps after taking effect.
            if isShuttingDown {
                counters.add(.refusedShuttingDown)
                answer(
                    identity, header, .busy, "the broker is shutting down; nothing was done: retry against its successor",
                    retryAfterMs: configuration.busyRetryAfterMs, &actions)
                return
            }
            // The reactor reads a CONTROL document only to find a drain; one over the limit is refused unread.
            if refuseOversized(
                identity, header, message, limit: ControlRequest.maximumDocumentBytes,
                note: " (bytes to upload or import go in frame 2)", &actions)
            {
                return
            }
            if refuseOutstandingId(identity, header, &actions) { return }
            if let frame = message.payload.first,
                let request = try? WireJSON.decodeRequest(ControlRequest.self, from: frame),
                request.operation == .drain
            {
                drainRequest(identity: identity, header: header, worker: request.worker, into: &actions)
                return
            }
            awaitControl(client: identity, header: header)
            actions.append(.toControl(.client(identity: identity, message: message, userId: userId)))
        case .ready, .heartbeat, .disconnect, .roundResult, .weights, .trainRound, .policyState, .learn, .policy,
            .policyPull, .catalogue, .catalogueState:
            answer(identity, header, .badRequest, "\(header.command.name) is not a client command", &actions)
        }
    }

    /// Answers `BAD_REQUEST` to a request whose document (frame 1) is over `limit` bytes, unread, naming the limit and
    /// the size (and `note`); returns whether it did. The reactor reads a FEEDBACK or CONTROL document only within it.
    private mutating func refuseOversized(
        _ identity: [UInt8], _ header: Header, _ message: WireMessage, limit: Int, note: String = "",
        _ actions: inout [BrokerAction]
    ) -> Bool {
        guard let frame = message.payload.first, frame.count > limit else { return false }
        answer(
            identity, header, .badRequest,
            "a \(header.command.name) document is at most \(limit) bytes; this one has \(frame.count)\(note)", &actions)
        return true
    }

    /// Why the authenticated role may not send `message`, or `nil` when it may.
    private func authorize(_ message: WireMessage, userId: String?) -> String? {
        let role = PeerRole(userId: userId)
        let revoked = userId?.hasPrefix("revoked:") == true
        let name = role?.rawValue ?? (revoked ? "a key the allow-lists no longer admit" : "an unauthenticated peer")
        let command = message.header.command
        guard AccessPolicy.allows(role, command: command) else { return "\(name) may not send \(command.name)" }
        guard command == .control else { return nil }
        // A CONTROL frame that does not decode is left to the control plane, which answers BAD_REQUEST,
        // but only for roles that may use CONTROL at all.
        // A document over the size limit is refused BAD_REQUEST unread, whatever it asks.
        guard let frame = message.payload.first, frame.count <= ControlRequest.maximumDocumentBytes,
            let request = try? WireJSON.decodeRequest(ControlRequest.self, from: frame)
        else { return nil }
        // An op this build does not know is the control plane's to refuse (BAD_REQUEST naming it, nothing done), as
        // it is without roles: a typo is not a permission problem.
        guard ControlOperation(rawValue: request.op) != nil else { return nil }
        guard !AccessPolicy.allowsControl(role, op: request.op) else { return nil }
        // Which key may, so the refusal says what to use: an operator's op needs a key on --allow-trainers.
        let who = AccessPolicy.allowsControl(.trainer, op: request.op) ? "; a trainer's key (--allow-trainers) may" : ""
        return "\(name) may not run CONTROL \(request.op)\(who)"
    }

    /// The header of a client request that is refused on arrival whatever its payload holds (a
    /// SCORE, RECOMMEND or FEEDBACK whose deadline has passed, or one refused BUSY: while the broker
    /// shuts down, while its queue or a byte limit is full, or when its deadline falls before the
    /// queue ahead of it would drain), or `nil` when the request must be read in full.
    ///
    /// The reactor asks this with the header frame alone, before it copies the rest of the message
    /// out of libzmq: under overload most requests are refused, and refusing one then costs a
    /// header decode and a small reply instead of a copy of its rows. A peer whose role may not
    /// send the command is not shed: it gets UNAUTHORIZED on the full path; nor is a header with
    /// an undefined flag, a status or an exact pin without a version: it gets BAD_REQUEST.
    /// - Parameters:
    ///   - identity: the client's routing identity, for its byte limit.
    ///   - payloadBytes: the bytes of the frames after the header.
    ///
    /// It changes nothing; it is `mutating` so that the reactor's receive closure reaches the core in place, where a
    /// non-mutating call on the captured core copied all of its state per request.
    public mutating func requestToShed(
        headerFrame: [UInt8], identity: [UInt8] = [], payloadBytes: Int = 0, userId: String?, now: BrokerInstant
    ) -> Header? {
        guard let header = try? Header(decoding: headerFrame), !header.isReply, header.requestProblem == nil
        else { return nil }
        switch header.command {
        case .score, .recommend, .feedback: break
        default: return nil
        }
        if configuration.enforceRoles
            && !AccessPolicy.allows(PeerRole(userId: userId), command: header.command)
        {
            return nil
        }
        let refused = arrivalRefusal(header, client: identity, payloadBytes: payloadBytes, now: now) != nil
        return refused ? header : nil
    }

    /// Why a request is refused on arrival, whatever its payload holds.
    enum ArrivalRefusal {
        /// Its deadline has passed: EXPIRED, always (never BUSY, which would invite a retry that
        /// cannot succeed).
        case expired
        /// The broker is shutting down: BUSY.
        case shuttingDown
        /// The client's held bytes would pass ``BrokerConfiguration/clientBytesLimit``: BUSY.
        case clientBytes
        /// The service's held bytes would pass ``BrokerConfiguration/serviceBytesLimit``: BUSY.
        case serviceBytes
        /// The service's queue is full: BUSY.
        case queueFull
        /// The queue ahead would outlast the request's deadline: BUSY.
        case queueOutlastsDeadline
    }

    /// Why `header` (from `client`, with `payloadBytes` after it) is refused on arrival, or `nil`
    /// when it is not. FEEDBACK goes to the control plane, so only its deadline and a shutdown apply.
    func arrivalRefusal(_ header: Header, client: [UInt8], payloadBytes: Int, now: BrokerInstant) -> ArrivalRefusal? {
        if header.isExpired(atEpochMillis: now.epochMillis) { return .expired }
        if isShuttingDown { return .shuttingDown }
        guard header.command != .feedback else { return nil }
        if (clientBytes[client] ?? 0).addingSaturating(payloadBytes) > configuration.clientBytesLimit {
            return .clientBytes
        }
        if (serviceBytes[header.command] ?? 0).addingSaturating(payloadBytes) > configuration.serviceBytesLimit {
            return .serviceBytes
        }
        if queueIsFull(header.command) { return .queueFull }
        if queueOutlastsDeadline(header, now: now) { return .queueOutlastsDeadline }
        return nil
    }

    /// Whether `service`'s queue holds as many requests as it may.
    func queueIsFull(_ service: Command) -> Bool {
        (queues[service]?.count ?? 0) >= configuration.queueCapacity
    }

    /// How long a request for `service` admitted now would wait before a worker computes it, in ms: the requests
    /// queued for the service and those the live workers offering it already hold in their slots, over the drain
    /// rate, the live workers' slots for the service over its mean dispatch-to-reply time (``ServiceLatency``;
    /// Little's law). `nil` before the service's first reply or with no live slot.
    ///
    /// The requests the workers hold count: with `--slots 64` a worker takes the whole backlog, the broker's queue
    /// stays empty, and counting the queue alone said "no wait" while each admitted request waited about 0.6 s in
    /// the worker and expired there. With nothing queued and nothing held the wait is 0, whatever the mean: a mean
    /// left high by one slow reply never sheds requests that idle slots would answer (the mean moves only with
    /// replies, so shedding every request would keep it high for good).
    ///
    /// A SCORE goes only to workers of its width, so with `columns` (its rows' features) only the workers taking that
    /// width, each at its own mean pace, what they hold and, when the fleet serves several widths, the queued SCOREs of
    /// that width count: summed
    /// over every width, a slow width-7 worker's backlog was weighed against a fast width-8 fleet's slots, and a
    /// width-7 request was admitted and answered EXPIRED. Without `columns` in a fleet of several widths the wait is
    /// unknown (nil): the request is judged once its shape is read (``accept(identity:message:held:now:into:)``).
    func expectedQueueWaitMs(_ service: Command, columns: Int? = nil) -> Double? {
        guard let latency = latencies[service]?.meanMicros, latency > 0 else { return nil }
        var perSecond = 0.0
        var held = 0
        var width: Int?
        var mixed = false
        // Slots come from the workers' READY and HEARTBEAT. A SCORE worker drains at its own pace (its own mean), and
        // the fleet is of several widths when any worker offering SCORE, a draining one too (its queued requests wait
        // for its replacement), takes another width.
        for worker in workers.values where worker.services.contains(service) {
            if service == .score {
                if let seen = width, seen != worker.inputWidth { mixed = true } else { width = worker.inputWidth }
                if let columns, worker.inputWidth != columns { continue }
            }
            guard !worker.draining, worker.slots > 0 else { continue }
            let own = service == .score ? worker.scoreLatency.meanMicros : 0
            perSecond += Double(worker.slots) / ((own > 0 ? own : latency) / 1_000_000)
            held += worker.inflight.count
        }
        if mixed && columns == nil { return nil }
        guard perSecond > 0 else { return nil }
        var queued = queues[service]?.count ?? 0
        if mixed, let columns {
            queued = queues[service]?.reduce(0) { $1.columns == columns ? $0 + 1 : $0 } ?? 0
        }
        return Double(queued + held) / perSecond * 1000
    }

    /// Whether a request would still be waiting, in the queue or in a worker's slots, when its deadline passes:
    /// admitting it would only turn BUSY now into EXPIRED later, after it had held a place in the queue and in a
    /// worker. This is what keeps a queue, or workers' slots, sized too large for the workers' pace from filling
    /// with work that expires. `columns` is a SCORE's width once its shape is read (``expectedQueueWaitMs(_:columns:)``).
    func queueOutlastsDeadline(_ header: Header, columns: Int? = nil, now: BrokerInstant) -> Bool {
        guard header.deadlineMs != 0, let waitMs = expectedQueueWaitMs(header.command, columns: columns) else {
            return false
        }
        return Double(now.epochMillis) + waitMs >= Double(header.deadlineMs)
    }

    /// Refuses a request on arrival: EXPIRED when its deadline has passed; otherwise BUSY with a
    /// retry-after hint (the broker is shutting down, a byte limit or the request's queue is full,
    /// or the queue would outlast the request's deadline).
    mutating func shed(
        identity: [UInt8], header: Header, payloadBytes: Int = 0, columns: Int? = nil, now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        let text: String
        var refusal = arrivalRefusal(header, client: identity, payloadBytes: payloadBytes, now: now)
        if refusal == nil, queueOutlastsDeadline(header, columns: columns, now: now) { refusal = .queueOutlastsDeadline }
        switch refusal {
        case .expired:
            counters.add(.droppedExpired)
            answer(identity, header, .expired, "the deadline passed before the broker received the request", &actions)
            return
        case .shuttingDown:
            counters.add(.refusedShuttingDown)
            text = "the broker is shutting down; retry against its successor"
        case .clientBytes:
            counters.add(.droppedBusyBytes)
            text = "this client's requests already hold \(clientBytes[identity] ?? 0) bytes in the broker; "
                + "\(payloadBytes) more would pass the limit of \(configuration.clientBytesLimit) (--client-bytes)"
        case .serviceBytes:
            counters.add(.droppedBusyBytes)
            text = "the \(header.command.name) requests held already take \(serviceBytes[header.command] ?? 0) bytes; "
                + "\(payloadBytes) more would pass the limit of \(configuration.serviceBytesLimit) (--queue-bytes)"
        case .queueFull:
            counters.add(.droppedBusy)
            text = "the \(header.command.name) queue is full (\(configuration.queueCapacity) waiting)"
        case .queueOutlastsDeadline, nil:
            counters.add(.droppedBusy)
            let waitMs = (expectedQueueWaitMs(header.command, columns: columns) ?? 0).clampedToInt
            let ahead = columns.map { "\(header.command.name) requests of \($0) features" } ?? "\(header.command.name) requests"
            text = "the \(ahead) queued and held by the workers ahead would take about \(waitMs) "
                + "ms, past the request's deadline"
        }
        answer(identity, header, .busy, text, retryAfterMs: configuration.busyRetryAfterMs, &actions)
    }

    /// Answers a message over the frame or byte limit TOO_LARGE, naming the limit. Only its first
    /// frame was read; the request id is salvaged from it when the header does not decode.
    mutating func refuseTooLarge(
        identity: [UInt8], headerFrame: [UInt8], messageBytes: Int, frameCount: Int, into actions: inout [BrokerAction]
    ) {
        counters.add(.droppedTooLarge)
        let limits = configuration.limits
        let error: WireError =
            frameCount > limits.maxFrames
            ? .tooManyFrames(count: frameCount, limit: limits.maxFrames)
            : .messageTooLarge(bytes: messageBytes, limit: limits.maxMessageBytes)
        var request: Header
        if let header = try? Header(decoding: headerFrame) {
            counters.request(header.command)
            request = header
        } else {
            request = Header(command: .control, requestId: Header.salvageRequestId(headerFrame) ?? 0)
            if let known = Header.salvageCommand(headerFrame) { request.command = known }
        }
        answer(identity, request, .tooLarge, error.description, &actions)
    }

    private mutating func rejectMalformed(
        identity: [UInt8], frames: [[UInt8]], error: WireError, into actions: inout [BrokerAction]
    ) {
        counters.add(.malformedClientMessages)
        let first = frames.first ?? []
        let requestId = Header.salvageRequestId(first) ?? 0
        let request = Header(command: Header.salvageCommand(first) ?? .control, requestId: requestId)
        // A message that does not decode is no request: counted in `malformed_client_messages` alone.
        answer(identity, request, error.status, error.description, counted: false, &actions)
    }

    /// Every BAD_REQUEST it gives is counted in `invalid_requests` here, whichever check refused the request (a reply
    /// sent by a client, a CANCEL payload, a CONTROL document over its limit, a missing frame), so none is left out;
    /// `counted: false` for a message that is not a request (counted as malformed instead).
    private mutating func answer(
        _ identity: [UInt8], _ request: Header, _ status: Status, _ text: String, retryAfterMs: UInt32 = 0,
        counted: Bool = true, _ actions: inout [BrokerAction]
    ) {
        if counted && status == .badRequest { counters.add(.invalidRequests) }
        let pending = PendingRequest(client: identity, header: request, acceptedAt: 0)
        reply(to: pending, status: status, message: text, retryAfterMs: retryAfterMs, into: &actions)
    }

    /// Answers CONFLICT, and returns true, when a CONTROL or FEEDBACK names a request id the client already has
    /// outstanding (a SCORE or RECOMMEND queued or in flight, or a CONTROL, FEEDBACK or held slate the control plane
    /// has not answered): a request id is unique among a client's outstanding requests (docs/PROTOCOL.md, "Frame 0"),
    /// or two replies would carry it and a CANCEL of it could not say which request it meant.
    private mutating func refuseOutstandingId(
        _ identity: [UInt8], _ header: Header, _ actions: inout [BrokerAction]
    ) -> Bool {
        let key = ClientRequestKey(client: identity, requestId: header.requestId)
        guard locations[key] != nil
            || (controlWaitCount > 0 && controlHeld(client: identity, requestId: header.requestId) != nil)
        else { return false }
        counters.add(.duplicateRequestIds)
        answer(identity, header, .conflict, "request id \(header.requestId) is already outstanding", &actions)
        return true
    }

    /// Accepts a SCORE or RECOMMEND: `held` are payload frames the reactor kept uncopied, after the
    /// message's own payload. The broker reads only the header and, for SCORE, the tensor's shape
    /// (in place): the rows are forwarded as they arrived.
    private mutating func accept(
        identity: [UInt8], message: WireMessage, held: [any PayloadFrame], now: BrokerInstant,
        into actions: inout [BrokerAction]
    ) {
        let header = message.header
        var payload: [any PayloadFrame] = []
        payload.reserveCapacity(message.payload.count + held.count)
        for frame in message.payload { payload.append(frame) }
        payload.append(contentsOf: held)
        let bytes = payload.reduce(0) { $0.addingSaturating($1.byteCount) }
        // Refuse first: an expired request is EXPIRED whatever else is wrong with it, and under
        // overload a full queue answers BUSY before the broker spends time checking a request it
        // would refuse anyway.
        if arrivalRefusal(header, client: identity, payloadBytes: bytes, now: now) != nil {
            shed(identity: identity, header: header, payloadBytes: bytes, now: now, into: &actions)
            return
        }
        var columns: Int?
        if header.command == .score {
            do throws(WireError) {
                guard let frame = payload.first else { throw .missingFrames(expected: 2, got: 1) }
                columns = try frame.tensorShape(maxRows: configuration.limits.maxRows, maxCols: configuration.limits.maxColumns).cols
            } catch {
                // More rows or columns than the limits is TOO_LARGE, counted with the other size refusals.
                if error.status == .tooLarge {
                    counters.add(.droppedTooLarge)
                } else if error.status != .badRequest {
                    counters.add(.invalidRequests)
                }
                answer(identity, header, error.status, error.description, &actions)
                return
            }
        } else if payload.isEmpty {
            answer(identity, header, .badRequest, "\(header.command.name) needs a payload frame", &actions)
            return
        }
        // In a fleet of several widths the wait ahead is known only per width, now that the shape is read.
        if let columns, queueOutlastsDeadline(header, columns: columns, now: now) {
            shed(identity: identity, header: header, payloadBytes: bytes, columns: columns, now: now, into: &actions)
            return
        }
        var request = PendingRequest(client: identity, header: header, payload: payload, acceptedAt: now.monotonicMicros)
        request.bytes = bytes
        // A CONTROL, FEEDBACK or held slate of this id is outstanding too: its reply would carry the same id.
        if controlWaitCount > 0, controlHeld(client: identity, requestId: header.requestId) != nil {
            counters.add(.duplicateRequestIds)
            reply(
                to: request, status: .conflict, message: "request id \(header.requestId) is already outstanding",
                into: &actions)
            return
        }
        // Recorded as queued and checked in one lookup; a duplicate puts the outstanding one's location back.
        let key = request.key
        if let outstanding = locations.updateValue(.queued, forKey: key) {
            locations[key] = outstanding
            counters.add(.duplicateRequestIds)
            reply(
                to: request, status: .conflict, message: "request id \(header.requestId) is already outstanding",
                into: &actions)
            return
        }
        // Its width is judged on arrival while any worker offers SCORE (``PendingRequest/widthJudged``): rows no live
        // worker's model takes are BAD_REQUEST now; rows accepted while a worker of their width was live wait, if
        // those workers leave, for the no-worker timeout (CONFLICT), wherever they are in the queue.
        if let columns, let problem = judgeWidth(&request, columns: columns) {
            locations[key] = nil
            counters.add(.invalidRequests)
            reply(to: request, status: .badRequest, message: problem, into: &actions)
            return
        }
        // Appended in place: copying the queue out and back would copy every waiting request.
        queues[header.command, default: Deque()].append(request)
        hold(request)
        pump(header.command, now: now, into: &actions)
    }

    /// Judges a SCORE's width (`columns`, read once with its shape) on arrival, when any live worker offers SCORE: marks it judged and returns nil when a
    /// worker of its width is live (the usual case: one pass over the workers, no allocation) or when
    /// ``widthProblem(_:)`` lets it wait; otherwise the BAD_REQUEST message. With no worker offering SCORE it stays
    /// unjudged, and the first pump that finds one judges it.
    private func judgeWidth(_ request: inout PendingRequest, columns: Int) -> String? {
        var offered = false
        for worker in workers.values where worker.services.contains(.score) {
            if worker.inputWidth == columns {
                request.widthJudged = true
                return nil
            }
            offered = true
        }
        guard offered else { return nil }
        if let problem = widthProblem(request) { return problem }
        request.widthJudged = true
        return nil
    }

    private mutating func cancel(
        identity: [UInt8], message: WireMessage, now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        let header = message.header
        let target: UInt64
        do {
            target = try CancelPayload.decode(try message.frame(0))
        } catch {
            answer(identity, header, error.status, error.description, &actions)
            return
        }
        let key = ClientRequestKey(client: identity, requestId: target)
        switch locations[key] {
        case nil:
            if let held = controlHeld(client: identity, requestId: target) {
                // Outstanding, but past the point of cancel: its answer will come, so NOT_FOUND would be untrue.
                answer(identity, header, .conflict, held, &actions)
            } else {
                answer(identity, header, .notFound, "no outstanding request with id \(target)", &actions)
            }
            return
        case .queued:
            for (service, var queue) in queues {
                if let index = queue.firstIndex(where: { $0.key == key }) {
                    let request = queue.remove(at: index)
                    queues[service] = queue
                    release(request)
                    reply(to: request, status: .cancelled, message: "cancelled by the client", into: &actions)
                    break
                }
            }
        case .inflight(let dispatchId):
            if let request = answerEarly(dispatchId) {
                reply(to: request, status: .cancelled, message: "cancelled by the client", into: &actions)
            }
        }
        locations[key] = nil
        counters.add(.cancelled)
        var ok = header.reply()
        ok.command = .cancel
        actions.append(.sendToClient(identity: identity, frames: [ok.encoded()]))
    }
}
