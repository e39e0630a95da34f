import Logging
import RecWire

extension WorkerCore {
    /// Time passed: scores the micro-batch when it is due, advances a drain, heartbeats and checks
    /// the broker's liveness, in that order (a batch is answered before the worker leaves).
    mutating func tick(now: WorkerInstant, into actions: inout [WorkerAction]) {
        if batchIsDue(now: now) { flush(now: now, into: &actions) }
        if isStopping {
            stepDrain(now: now, into: &actions)
            if exited { return }
        }
        let clock = now.monotonicMicros
        if clock >= lastBeat.addingSaturating(intervalMicros) {
            lastBeat = clock
            let load = WorkerLoad(
                slots: UInt32(clamping: configuration.slots), queued: 0, inputWidth: UInt32(clamping: replica.inputWidth),
                modelSHA256: replica.checkpointSHA256.flatMap(Self.rawDigest))
            let beat = WireMessage(
                header: Header(command: .heartbeat, modelVersion: replica.version), payload: [load.encoded()])
            actions.append(.send(beat.frames(), .ifRoom))
            if configuration.exitWithParent { actions.append(.checkParent) }
        }
        if clock > lastHeard.addingSaturating(silenceMicros) {
            if isStopping {
                // Stopping, and the broker is gone: there is nothing to reconnect for, and no acknowledgement will
                // come. The worker leaves unacknowledged, as the drain's own window would end it (a broker that is
                // only unheard still gets the DISCONNECT, best effort).
                flush(now: now, into: &actions)
                actions.append(.send([Header(command: .disconnect).encoded()], .ifRoomBestEffort))
                actions.append(.log(.info, "left the broker", ["drained": "false"]))
                finish(.stopped, into: &actions)
                return
            }
            // A registered connection that went silent starts the backoff afresh.
            if registered { backoffMs = configuration.reconnectInitialMs }
            let delay = backoffMs
            backoffMs = min(backoffMs.multipliedSaturating(by: 2), configuration.reconnectMaxMs)
            actions.append(.log(.warning, "broker silent; reconnecting", ["backoff_ms": "\(delay)"]))
            finish(.reconnect(afterMs: delay), into: &actions)
        }
    }

    /// Whether the waiting requests must be scored now: the batch is full, its wait is over, or
    /// there is no wait (`--batch-wait-us 0`).
    func batchIsDue(now: WorkerInstant) -> Bool {
        guard !pending.isEmpty else { return false }
        if configuration.batchWaitMicros == 0 || pendingRows >= configuration.batchMaxRows { return true }
        return now.monotonicMicros >= (batchDeadline ?? 0)
    }

    /// Scores the waiting requests in one forward pass and sends one reply per request.
    mutating func flush(now: WorkerInstant, into actions: inout [WorkerAction]) {
        guard !pending.isEmpty else { return }
        let outcome = ScoringBatch.answer(
            pending, replica: replica, nowEpochMillis: now.epochMillis, workspace: &scoring)
        pending.removeAll(keepingCapacity: true)
        pendingRows = 0
        batchDeadline = nil
        // A forward pass ran when a request was valid; rows scored are the rows answered with scores (an invalid or
        // expired request's rows are not computed, and a request whose rows score a non-finite value is answered
        // BAD_REQUEST).
        // The compute time is the pass's, recorded with every pass: taken from the first OK reply, a pass whose only
        // request was answered BAD_REQUEST counted in `batches_total` and not in `compute_seconds_count`.
        if outcome.rowsComputed > 0 {
            actions.append(
                .batchScored(
                    rows: outcome.rowsComputed, scoredRows: outcome.rowsScored, computeMicros: outcome.computeMicros))
        }
        for reply in outcome.replies {
            if reply.header.status != .ok {
                actions.append(.countErrorReply)
                actions.append(
                    .log(
                        .debug, "request answered with an error",
                        [
                            "request_id": "\(reply.header.requestId)", "status": "\(reply.header.status)",
                            "error": "\(reply.errorText ?? "")",
                        ]))
            }
            actions.append(.send(reply.frames(), .required))
        }
    }

    /// The graceful drain: tell the broker to send nothing more, answer everything it sent before its
    /// acknowledgement (a connection delivers in order), then deregister. Unregistered, or when the
    /// acknowledgement does not come within the liveness window, the worker leaves at once.
    mutating func stepDrain(now: WorkerInstant, into actions: inout [WorkerAction]) {
        let clock = now.monotonicMicros
        if registered && drainStartedAt == nil {
            drainStartedAt = clock
            actions.append(.log(.info, "draining", [:]))
            let notice = WireMessage(
                header: Header(command: .heartbeat, flags: .drain), payload: [WorkerLoad(slots: 0, queued: 0).encoded()]
            )
            actions.append(.send(notice.frames(), .ifRoomBestEffort))
        }
        // Acknowledged, the drain still waits for the RECOMMENDs the RECOMMEND thread is answering.
        let answered = drainAcknowledged && recommendsOutstanding == 0
        if !registered || answered || clock > (drainStartedAt ?? clock).addingSaturating(silenceMicros) {
            flush(now: now, into: &actions)
            actions.append(.send([Header(command: .disconnect).encoded()], .ifRoomBestEffort))
            actions.append(.log(.info, "left the broker", ["drained": "\(drainAcknowledged)"]))
            finish(.stopped, into: &actions)
        }
    }
}
