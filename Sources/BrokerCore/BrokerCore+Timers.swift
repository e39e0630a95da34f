import DequeModule
import RecWire

extension BrokerCore {
    /// Heartbeats, worker liveness, deadlines of queued and dispatched requests, NO_WORKER timeouts.
    mutating func tick(now: BrokerInstant, into actions: inout [BrokerAction]) {
        let interval = configuration.heartbeatIntervalMicros
        if now.monotonicMicros >= lastHeartbeatAt.addingSaturating(interval) {
            lastHeartbeatAt = now.monotonicMicros
            let beat = Header(command: .heartbeat).encoded()
            for identity in workers.keys { actions.append(.sendToWorker(identity: identity, frames: [beat])) }
        }
        let expiry = configuration.workerExpiryMicros
        let dead = workers.values.filter { now.monotonicMicros > $0.lastSeen.addingSaturating(expiry) }.map(\.identity)
        for identity in dead {
            removeWorker(identity, reason: .workersExpired, now: now, into: &actions)
        }
        // An identity told DISCONNECT that never came back is forgotten after its expiry: the map stays bounded.
        if !disconnectsSent.isEmpty {
            disconnectsSent = disconnectsSent.filter { now.monotonicMicros <= $0.value.addingSaturating(expiry) }
        }
        expireQueued(now: now, into: &actions)
        expireInflight(now: now, into: &actions)
    }

    private mutating func expireQueued(now: BrokerInstant, into actions: inout [BrokerAction]) {
        let noWorkerMicros = configuration.noWorkerTimeoutMs.multipliedSaturating(by: 1000)
        // Every tick, queue or not: a pause that ended while nothing was queued must not date a later one.
        for service in Set(queues.keys).union(creditlessSince.keys) {
            let offering = takingWorkers(service)
            if offering.isEmpty || offering.contains(where: { $0.slots > 0 }) {
                creditlessSince[service] = nil
            } else if creditlessSince[service] == nil {
                creditlessSince[service] = now.monotonicMicros
            }
        }
        for (service, queue) in queues where !queue.isEmpty {
            let waitingSince = creditlessSince[service] ?? 0
            var kept = Deque<PendingRequest>()
            for request in queue {
                if request.isExpired(at: now) {
                    release(request)
                    locations[request.key] = nil
                    counters.add(.droppedExpired)
                    reply(
                        to: request, status: .expired, message: "the deadline passed while the request was queued",
                        into: &actions)
                } else if now.monotonicMicros >= max(request.acceptedAt, waitingSince).addingSaturating(noWorkerMicros),
                    let (reason, noWorker) = ineligibility(for: request)
                {
                    release(request)
                    locations[request.key] = nil
                    let taking = takingWorkers(service)
                    if !noWorker, taking.contains(where: { $0.slots > 0 }) {
                        counters.add(.droppedNoVersion)
                        reply(to: request, status: .conflict, message: reason, into: &actions)
                    } else {
                        // None at all, or only workers of no credit (0 slots), which take nothing: no worker.
                        counters.add(.droppedNoWorker)
                        reply(
                            to: request, status: .noWorker,
                            message: taking.isEmpty ? "no live worker offers \(service.name)" + drainingNote(service) : reason,
                            into: &actions)
                    }
                } else {
                    kept.append(request)
                }
            }
            queues[service] = kept
        }
    }

    private mutating func expireInflight(now: BrokerInstant, into actions: inout [BrokerAction]) {
        let grace = configuration.inflightGraceMs
        for (dispatchId, entry) in inflight where !entry.clientAnswered {
            let deadline = entry.request.header.deadlineMs
            // The deadline is the client's number: near 2⁶⁴ − 1, adding the grace must not trap.
            guard deadline != 0, now.epochMillis >= deadline.addingSaturating(grace) else { continue }
            guard let request = answerEarly(dispatchId) else { continue }
            locations[request.key] = nil
            counters.add(.droppedExpiredInflight)
            reply(
                to: request, status: .expired, message: "the worker did not answer before the deadline",
                into: &actions)
        }
    }
}
