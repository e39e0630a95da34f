import Foundation
import RecStore
import RecWire

extension OnlineCoordinator {
    /// Queues an impression record a worker attached to its RECOMMEND reply.
    /// Queues an impression record for the next group commit. With `reply` (the RECOMMEND reply it
    /// came with), the reply is sent only once the record is committed, or replaced by an error that
    /// says it was not stored.
    func handleImpression(worker: String, record bytes: [UInt8], reply: (client: [UInt8], frames: [[UInt8]])? = nil) {
        guard let record = try? WireJSON.decode(ImpressionRecord.self, from: bytes) else {
            logger.warning("a worker sent an impression record that does not decode", metadata: ["worker": "\(worker)"])
            if let reply { refuseSlate(reply, because: "the worker's impression record does not decode") }
            return
        }
        if let problem = record.problem {
            logger.warning(
                "a worker sent a malformed impression record",
                metadata: ["worker": "\(worker)", "impression_id": "\(record.impressionId)", "problem": "\(problem)"])
            if let reply { refuseSlate(reply, because: "the worker's impression record is malformed: \(problem)") }
            return
        }
        pendingImpressions.append(
            (record.impressionId, record.createdMs, worker, record.version, String(decoding: bytes, as: UTF8.self)))
        if let reply { pendingSlates.append(reply) }
    }

    /// Answers a held RECOMMEND with INTERNAL instead of its slate: the impression was not stored, so
    /// feedback on the slate could not be taken.
    func refuseSlate(_ held: (client: [UInt8], frames: [[UInt8]]), because why: String) {
        guard let first = held.frames.first, let header = try? Header(decoding: first) else {
            emit(.heldReply(identity: held.client, frames: held.frames))  // never: the core built these frames
            return
        }
        var request = header
        request.isReply = false
        var refusal = WireMessage.errorReply(
            to: request, status: .internal,
            message: "\(why); the slate was not logged, so feedback on it could not be taken: nothing was served")
        refusal.header.attempt = header.attempt
        refusal.header.brokerQueueMicros = header.brokerQueueMicros
        emit(.heldReply(identity: held.client, frames: refusal.frames()))
    }

    /// Commits queued impressions and feedback in one transaction (a group commit), then answers the
    /// feedback and hands new events to the learners. Runs at the end of every control-loop batch.
    func flushPending() {
        guard !pendingImpressions.isEmpty || !pendingFeedback.isEmpty else { return }
        let impressions = pendingImpressions
        let feedback = pendingFeedback
        let slates = pendingSlates
        pendingImpressions.removeAll(keepingCapacity: true)
        pendingFeedback.removeAll(keepingCapacity: true)
        pendingSlates.removeAll(keepingCapacity: true)
        let inserted: [Bool]
        do {
            inserted = try store.commitOnline(
                impressions: impressions, keep: settings.impressionLogSize,
                feedback: feedback.map {
                    RecStore.FeedbackEvent(
                        impressionId: $0.request.impressionId, item: $0.request.item, click: $0.request.click,
                        dwell: $0.request.dwellSeconds, createdMs: $0.receivedMs)
                })
        } catch {
            logger.error(
                "cannot store impressions and feedback",
                metadata: ["error": "\(error)", "impressions": "\(impressions.count)", "feedback": "\(feedback.count)"])
            for pending in feedback {
                reply(pending.identity, pending.header, .internal, text: "feedback not stored: \(error)")
            }
            for slate in slates { refuseSlate(slate, because: "the impression could not be stored (\(error))") }
            return
        }
        // Every held slate's impression is committed: the slates may go out.
        for slate in slates { emit(.heldReply(identity: slate.client, frames: slate.frames)) }
        impressionCount = min(impressionCount + impressions.count, settings.impressionLogSize)
        viewDirty = true
        for (pending, new) in zip(feedback, inserted) {
            let request = pending.request
            let answer = FeedbackReply(impressionId: request.impressionId, item: request.item, duplicate: !new)
            var ok = pending.header.reply(status: .ok, modelVersion: pending.record.version)
            ok.command = .feedback
            emit(.toClient(identity: pending.identity, frames: [ok.encoded(), WireJSON.encode(answer)]))
            guard new else {
                duplicates += 1
                continue
            }
            feedbackCount += 1
            let event = LearnEvent(
                impressionId: request.impressionId, userFeatures: pending.record.userFeatures, item: request.item,
                reward: Double(request.click), propensity: pending.record.propensities[pending.slot],
                version: pending.record.version)
            if !frozen { deliver(event, preferring: pending.worker) }
        }
    }

    /// Validates FEEDBACK against the impression log and queues it for the next group commit; the OK is
    /// sent only once the event is committed.
    func handleFeedback(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        let header = message.header
        let request: FeedbackRequest
        do {
            request = try WireJSON.decode(FeedbackRequest.self, from: try message.frame(0))
        } catch {
            reply(identity, header, .badRequest, text: "FEEDBACK: \(error.description)")
            return
        }
        if let problem = request.problem {
            reply(identity, header, .badRequest, text: "FEEDBACK: \(problem)")
            return
        }
        let found: (record: ImpressionRecord, createdMs: UInt64, worker: String)?
        do {
            found = try lookUp(request.impressionId)
        } catch {
            logger.error("cannot read the impression log", metadata: ["impression_id": "\(request.impressionId)", "error": "\(error)"])
            reply(identity, header, .internal, text: "the impression log cannot be read: \(error)")
            return
        }
        guard let (record, createdMs, worker) = found else {
            reply(
                identity, header, .notFound,
                text: "unknown impression \(request.impressionId): never served, or evicted from the log")
            return
        }
        if nowMs > createdMs.addingSaturating(settings.feedbackWindowMs) {
            reply(
                identity, header, .expired,
                text: "impression \(request.impressionId) expired: feedback is accepted for \(settings.feedbackWindowMs / 1000) s after it is served")
            return
        }
        guard let slot = record.slate.firstIndex(of: request.item) else {
            reply(
                identity, header, .badRequest,
                text: "item \(request.item) was not shown in impression \(request.impressionId) (slate \(record.slate))")
            return
        }
        pendingFeedback.append(
            PendingFeedback(
                identity: identity, header: header, request: request, record: record, worker: worker, slot: slot,
                receivedMs: nowMs))
    }

    /// An impression from the queue of uncommitted ones, or from the store.
    private func lookUp(_ id: String) throws -> (record: ImpressionRecord, createdMs: UInt64, worker: String)? {
        if let queued = pendingImpressions.last(where: { $0.id == id }),
            let record = try? WireJSON.decode(ImpressionRecord.self, from: Array(queued.record.utf8))
        {
            return (record, queued.createdMs, queued.worker)
        }
        guard let row = try store.impression(id),
            let record = try? WireJSON.decode(ImpressionRecord.self, from: Array(row.record.utf8))
        else { return nil }
        return (record, row.createdMs, row.worker)
    }

    /// Queues an event for the replica that served it (or the next live one); held while a sync is out.
    func deliver(_ event: LearnEvent, preferring worker: String?) {
        if sync != nil {
            held.append(event)
            return
        }
        guard !workers.isEmpty else {
            held.append(event)
            return
        }
        let target: [UInt8]
        if let worker, let match = workers.first(where: { $0.id == worker }) {
            target = match.identity
        } else {
            roundRobin = (roundRobin + 1) % workers.count
            target = workers[roundRobin].identity
        }
        outgoing[target, default: []].append(event)
        unsynced[target, default: []].append(event)
        eventsSinceSync += 1
    }

    /// Sends the queued LEARN batches.
    func flushLearn() {
        if sync == nil, !held.isEmpty, !workers.isEmpty {
            let events = held
            held.removeAll()
            for event in events { deliver(event, preferring: nil) }
        }
        for (identity, events) in outgoing where !events.isEmpty {
            emit(
                .toWorker(
                    identity: identity,
                    frames: [Header(command: .learn).encoded(), WireJSON.encode(LearnBatch(events: events))]))
        }
        outgoing.removeAll(keepingCapacity: true)
    }

    func reply(_ identity: [UInt8], _ request: Header, _ status: Status, text: String) {
        emit(.toClient(identity: identity, frames: WireMessage.errorReply(to: request, status: status, message: text).frames()))
    }
}
