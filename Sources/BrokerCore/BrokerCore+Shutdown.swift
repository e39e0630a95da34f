import DequeModule
import RecWire

extension BrokerCore {
    /// Starts a graceful shutdown: from now on SCORE, RECOMMEND and FEEDBACK are answered BUSY
    /// ("shutting down"), while queued and in-flight requests are still dispatched and answered.
    /// The reactor waits until ``outstandingRequests`` is 0, or its bound runs out and it calls
    /// ``abandonOutstanding(into:)``.
    public mutating func beginShutdown() {
        isShuttingDown = true
    }

    /// Answers every request still queued or in flight with BUSY, and every request the control plane has not
    /// answered yet, so no client is left waiting when the broker exits. Late worker and control-plane replies have
    /// nowhere to go afterwards.
    public mutating func abandonOutstanding(into actions: inout [BrokerAction]) {
        let text = "the broker shut down before the request was answered; retry against its successor"
        for (service, queue) in queues {
            for request in queue {
                release(request)
                counters.add(.abandonedAtShutdown)
                reply(to: request, status: .busy, message: text, retryAfterMs: configuration.busyRetryAfterMs, into: &actions)
            }
            queues[service] = Deque()
        }
        for (dispatchId, entry) in inflight where !entry.clientAnswered {
            guard let request = answerEarly(dispatchId) else { continue }
            counters.add(.abandonedAtShutdown)
            reply(to: request, status: .busy, message: text, retryAfterMs: configuration.busyRetryAfterMs, into: &actions)
        }
        locations.removeAll()
        abandonControlWaits(into: &actions)
    }

    /// CONTROL `drain`: tells the named worker to drain (finish what it holds, deregister, exit).
    mutating func drainRequest(identity: [UInt8], header: Header, worker id: String?, into actions: inout [BrokerAction]) {
        guard let id else {
            let request = PendingRequest(client: identity, header: header, acceptedAt: 0)
            counters.add(.invalidRequests)
            reply(to: request, status: .badRequest, message: "drain needs a `worker` id", into: &actions)
            return
        }
        guard let worker = workers.values.first(where: { $0.hello.workerId == id }) else {
            let request = PendingRequest(client: identity, header: header, acceptedAt: 0)
            reply(to: request, status: .notFound, message: "no live worker with id \(id)", into: &actions)
            return
        }
        drain(worker.identity, into: &actions)
        var ok = header.reply()
        ok.command = .control
        let document = DrainReply(worker: id, inflight: worker.inflight.count)
        actions.append(.sendToClient(identity: identity, frames: [ok.encoded(), WireJSON.encode(document)]))
    }
}
