import RecWire

/// A worker's reply: matched to the dispatch it answers, checked against the request (version, shape, scores),
/// answered to the client exactly once; a reply that breaks the protocol abandons its dispatch.
extension BrokerCore {
    /// Completes the dispatch a worker's reply answers, or counts it as late when nothing waits for it.
    mutating func complete(
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
        let elapsed = now.monotonicMicros &- entry.dispatchedAt
        if let index = workers.index(forKey: identity) {
            workers.values[index].inflight.remove(dispatchId)
            workers.values[index].completed += 1
            if message.header.status != .ok { workers.values[index].errors += 1 }
            if entry.request.service == .score { workers.values[index].scoreLatency.record(elapsed) }
        }
        if replyLatencies.count < 100_000 { replyLatencies.append(elapsed) }
        // An OK RECOMMEND reply is checked against the request's document, and a held slate carries its `top`: the
        // document is decoded once for both, and not for a late reply, which is dropped unread.
        let document =
            !entry.clientAnswered && entry.request.service == .recommend && message.header.status == .ok
            ? RecommendDocument(entry.request.payload.first) : .absent
        latencies[entry.request.service, default: ServiceLatency()].record(elapsed)
        if entry.clientAnswered {
            counters.add(.droppedLateReplies)
        } else if let problem = replyProblem(message, to: entry.request, document: document, from: identity) {
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
            // No version produced an error: its `model_version` is 0, as in every error the broker makes. A worker's
            // BAD_REQUEST under 999, a number the registry never gave, went to the client as it came.
            if header.status != .ok { header.modelVersion = 0 }
            let queued = entry.dispatchedAt &- entry.request.acceptedAt
            header.brokerQueueMicros = UInt32(clamping: queued)
            var payload = message.payload
            // A worker's error text goes to the client as the broker's own would: bounded and its control characters
            // escaped (a worker echoing a client's field passed 900 KB or an ANSI escape on). Errors only: OK replies
            // are forwarded as they came.
            if header.status != .ok, payload.count == 1 {
                let text = String(decoding: payload[0], as: UTF8.self)
                let bounded = WireText.boundedErrorText(text)
                if bounded != text { payload[0] = Array(bounded.utf8) }
            }
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
                            frames: [header.encoded()] + payload, top: document.requestedTop)))
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
    /// - its model version is one the request's pin admits, and one the worker serves: its registered version, one
    ///   this broker sent it WEIGHTS of (they may swap it between a heartbeat and the reply), or one it served, verified,
    ///   before its latest swap (``WorkerRecord/admittedVersions``). A version number is
    ///   the registry's, never a worker's own. A RECOMMEND answered from the model (one frame, the ranking) is judged
    ///   so too; one answered by the online policy (the slate and its impression record) carries the policy's
    ///   version, which a pin does not select.
    ///
    /// `document` is the request's RECOMMEND document as read for an OK reply (``RecommendDocument``).
    func replyProblem(
        _ message: WireMessage, to request: PendingRequest, document: RecommendDocument, from identity: [UInt8]
    ) -> String? {
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
            guard message.payload.count == 1 else {
                // A policy slate: checked against the request here, against its impression record by OnlineCore.
                // Three frames or more were passed on, and the last was read as the record: the client was told the
                // record did not decode when the reply had a frame too many.
                guard message.payload.count == 2 else {
                    return "an OK RECOMMEND reply with \(message.payload.count) payload frames (a ranking is one frame, "
                        + "a policy slate two: the slate and its impression record)"
                }
                return PolicySlateReply.problem(message.payload[0], request: document)
            }
            if policyReplicas != nil {
                // An online broker routes RECOMMEND only to policy replicas, whose slate always comes with its
                // impression record: one frame is a slate without it, not a model's ranking to judge by its version.
                return "a RECOMMEND reply of one frame: a policy slate comes with its impression record (two frames)"
            }
            // The request's `top` and `candidates` bound the ranking; a request document past the reactor's budget
            // for a second read (a long candidate list) is not read again: its ranking is checked on its own terms.
            if let problem = RankedItemsReply.problem(message.payload[0], headerVersion: header.modelVersion, request: document) {
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
    /// refuses it, or the worker does not serve it (see ``replyProblem(_:to:document:from:)``).
    private func versionProblem(_ version: UInt64, to request: PendingRequest, from identity: [UInt8]) -> String? {
        let wanted = request.header.modelVersion
        if wanted > 0 {
            let exact = request.header.flags.contains(.exactVersion)
            if exact ? version != wanted : version < wanted {
                return "model version \(version), which the request's pin (\(exact ? "exactly" : "at least") \(wanted)) refuses"
            }
        }
        let registered = workers[identity]?.modelVersion
        // Another number than it reports is admitted only when this broker sent that version's WEIGHTS to this worker
        // (a reply may come before the heartbeat that reports the swap); a version rolled out to others, or rolled
        // out before this worker came, is not one it serves.
        if version != registered && workers[identity]?.admittedVersions.contains(version) != true {
            return "model version \(version), which it does not serve (it serves \(registered.map(String.init) ?? "none"))"
        }
        // The number it reported is its own claim: a number the registry does not hold with the weights it serves
        // (`unverified` in STATUS) is no registry version, whatever the worker says (a worker that heartbeat version 7
        // on a registry of none had its scores forwarded as version 7).
        if version == registered, let worker = workers[identity], !holdsClaimedVersion(worker) {
            return "model version \(version), which the registry does not hold with the weights it serves (its claim "
                + "is unverified)"
        }
        return nil
    }

    /// A worker's message that did not decode but whose header names one of its in-flight requests (magic and request
    /// id readable): that request is answered INTERNAL now, instead of waiting for its deadline or, without one,
    /// for ever. A message naming none is only counted.
    mutating func abandonMalformedReply(
        identity: [UInt8], frames: [[UInt8]], error: WireError, now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        // A worker's own messages (READY, HEARTBEAT, DISCONNECT, ROUND_RESULT, POLICY_STATE, CATALOGUE_STATE) carry
        // no reply bit and number other things: such a message never names a dispatch. Anything else does: a broken
        // reply under any command code (its own service's, another client command's such as a STATUS reply's, a
        // HEARTBEAT's, or an undefined one), and a message without the reply bit whose command is no worker message
        // (an undefined code such as 0x7f left its client waiting for its deadline, which the spec rules out). The
        // request is answered INTERNAL now, as a well-formed reply of another command is.
        guard let first = frames.first, first.count > 4,
            first[4] & Header.replyBit != 0 || !Self.workerMessageCodes.contains(first[4]),
            let dispatchId = Header.salvageRequestId(first), let entry = inflight[dispatchId], entry.worker == identity
        else { return }
        let what = first[4] & Header.replyBit != 0 ? "a reply" : "a message naming the request"
        abandonDispatch(dispatchId, from: identity, problem: "sent \(what) that does not decode: \(error)", now: now, into: &actions)
    }

    /// The command codes a worker sends of its own accord, never as a reply (docs/PROTOCOL.md, "Worker to broker").
    static let workerMessageCodes: Set<UInt8> = Set(
        [Command.ready, .heartbeat, .disconnect, .roundResult, .policyState, .catalogueState].map(\.rawValue))

    /// Answers this worker's dispatch `dispatchId` INTERNAL "worker W `problem`" now (counted in
    /// `invalid_worker_replies`), and forgets it: the worker's message named it but cannot be its answer.
    mutating func abandonDispatch(
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
}
