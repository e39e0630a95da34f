import Foundation
import RecStore
import Shared

extension OnlineCoordinator {
    /// Queues an impression record a worker attached to its RECOMMEND reply.
    func handleImpression(worker: String, record bytes: [UInt8]) {
        guard let record = try? WireJSON.decode(ImpressionRecord.self, from: bytes) else {
            logger.warning("a worker sent an impression record that does not decode", metadata: ["worker": "\(worker)"])
            return
        }
        if let problem = record.problem {
            logger.warning(
                "a worker sent a malformed impression record",
                metadata: ["worker": "\(worker)", "impression_id": "\(record.impressionId)", "problem": "\(problem)"])
            return
        }
        pendingImpressions.append(
            (record.impressionId, record.createdMs, worker, record.version, String(decoding: bytes, as: UTF8.self)))
    }

    /// Commits queued impressions (before any feedback is looked up, and on every tick).
    func flushImpressions() {
        guard !pendingImpressions.isEmpty else { return }
        let batch = pendingImpressions
        pendingImpressions.removeAll(keepingCapacity: true)
        do {
            try store.appendImpressions(batch, keep: settings.impressionLogSize)
            impressionCount = min(impressionCount + batch.count, settings.impressionLogSize)
            viewDirty = true
        } catch {
            logger.error("cannot store impressions", metadata: ["error": "\(error)", "count": "\(batch.count)"])
        }
    }

    /// Answers FEEDBACK: validated, deduplicated and committed before the OK; then delivered to a learner.
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
        flushImpressions()
        do {
            guard let row = try store.impression(request.impressionId),
                let record = try? WireJSON.decode(ImpressionRecord.self, from: Array(row.record.utf8))
            else {
                reply(
                    identity, header, .notFound,
                    text: "unknown impression \(request.impressionId): never served, or evicted from the log")
                return
            }
            if nowMs > row.createdMs + settings.feedbackWindowMs {
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
            let inserted = try store.recordFeedback(
                impressionId: request.impressionId, item: request.item, click: request.click,
                dwell: request.dwellSeconds, createdMs: nowMs)
            let answer = FeedbackReply(impressionId: request.impressionId, item: request.item, duplicate: !inserted)
            var ok = header.reply(status: .ok, modelVersion: record.version)
            ok.command = .feedback
            emit(.toClient(identity: identity, frames: [ok.encoded(), WireJSON.encode(answer)]))
            viewDirty = true
            guard inserted else {
                duplicates += 1
                return
            }
            feedbackCount += 1
            let event = LearnEvent(
                impressionId: request.impressionId, userFeatures: record.userFeatures, item: request.item,
                reward: Double(request.click), propensity: record.propensities[slot], version: record.version)
            if !frozen { deliver(event, preferring: row.worker) }
        } catch {
            logger.error(
                "cannot store feedback", metadata: ["impression_id": "\(request.impressionId)", "error": "\(error)"])
            reply(identity, header, .internal, text: "feedback not stored: \(error)")
        }
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
