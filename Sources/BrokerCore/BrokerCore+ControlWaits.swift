import RecWire

/// A client request the control plane is to answer: the client, the request id and the command.
struct ControlWaitKey: Hashable, Sendable {
    var client: [UInt8]
    var requestId: UInt64
    var command: Command
}

extension BrokerCore {
    /// A request handed to the control plane (a CONTROL or FEEDBACK, or a RECOMMEND whose policy slate waits for its
    /// impression's commit): outstanding until ``controlAnswered(identity:frames:)`` sees its reply, so a shutdown
    /// waits for it, and answered BUSY by ``abandonOutstanding(into:)`` when the bound runs out first.
    mutating func awaitControl(client: [UInt8], header: Header) {
        var request = header
        request.isReply = false
        controlWaits[ControlWaitKey(client: client, requestId: header.requestId, command: header.command), default: []]
            .append(request)
        controlWaitCount += 1
    }

    /// The control plane (or the reactor on its behalf) sent `frames` to `identity`: if they answer a request that
    /// waits for it, that request is no longer outstanding. Anything else is ignored.
    /// A BAD_REQUEST the control plane gave (a CONTROL or FEEDBACK document that is missing or invalid) is counted in
    /// `invalid_requests`, as the core's own are.
    public mutating func controlAnswered(identity: [UInt8], frames: [[UInt8]]) {
        guard let first = frames.first, let header = try? Header(decoding: first) else { return }
        if header.isReply && header.status == .badRequest { counters.add(.invalidRequests) }
        let key = ControlWaitKey(client: identity, requestId: header.requestId, command: header.command)
        guard var waiting = controlWaits[key], !waiting.isEmpty else { return }
        waiting.removeFirst()
        controlWaits[key] = waiting.isEmpty ? nil : waiting
        controlWaitCount -= 1
    }

    /// The control plane answered a held RECOMMEND INTERNAL because the worker's slate is invalid
    /// (``ControlOutput/invalidSlateReply(identity:frames:worker:)``): as ``controlAnswered(identity:frames:)``, counted
    /// in `invalid_worker_replies` and in the `errors` of the worker whose id is `worker` (a refused reply is an error
    /// reply the worker returned, as one the core refuses is).
    public mutating func invalidSlateAnswered(identity: [UInt8], frames: [[UInt8]], worker: String) {
        counters.add(.invalidWorkerReplies)
        if let index = workers.firstIndex(where: { $0.value.hello.workerId == worker }) {
            workers.values[index].errors += 1
        }
        controlAnswered(identity: identity, frames: frames)
    }

    /// For a CANCEL of a request the control plane holds (a policy slate waiting for its impression's commit, a
    /// CONTROL or a FEEDBACK), why it can no longer be cancelled; `nil` when the control plane holds no such request.
    /// Such a request is past the point of cancel: its reply will come (the slate, once logged, or the operation's
    /// answer), so the CANCEL is answered CONFLICT with this text, never NOT_FOUND.
    func controlHeld(client: [UInt8], requestId: UInt64) -> String? {
        for command in [Command.recommend, .control, .feedback] {
            guard controlWaits[ControlWaitKey(client: client, requestId: requestId, command: command)]?.isEmpty == false
            else { continue }
            switch command {
            case .recommend:
                return "request \(requestId) is past the point of cancel: its slate was served and waits for its "
                    + "impression to be logged; the reply follows"
            case .feedback:
                return "request \(requestId) is past the point of cancel: the feedback is being stored; the reply follows"
            default:
                return "request \(requestId) is past the point of cancel: the control plane is carrying it out; "
                    + "the reply follows"
            }
        }
        return nil
    }

    /// Answers BUSY every request still waiting for the control plane (``abandonOutstanding(into:)``).
    mutating func abandonControlWaits(into actions: inout [BrokerAction]) {
        let keys = controlWaits.keys.sorted {
            ($0.client.lexicographicallyPrecedes($1.client)) || ($0.client == $1.client && $0.requestId < $1.requestId)
        }
        for key in keys {
            for header in controlWaits[key] ?? [] {
                counters.add(.abandonedAtShutdown)
                let text: String
                switch header.command {
                case .recommend:
                    text =
                        "the broker shut down before the slate's impression was logged: nothing was served; retry against its successor"
                case .feedback:
                    text =
                        "the broker shut down before the feedback was acknowledged; retry against its successor (a repeat is answered duplicate)"
                default:
                    text =
                        "the broker shut down before the control plane answered; the operation may have taken effect: check (jobs, models, catalogues, online) before retrying one that is not safe to repeat"
                }
                // A held slate's header carries the dispatch's attempt: the reply keeps it, as for any RECOMMEND.
                let pending = PendingRequest(
                    client: key.client, header: header, acceptedAt: 0, attempts: header.attempt)
                reply(
                    to: pending, status: .busy, message: text, retryAfterMs: configuration.busyRetryAfterMs,
                    into: &actions)
            }
        }
        controlWaits.removeAll()
        controlWaitCount = 0
    }
}
