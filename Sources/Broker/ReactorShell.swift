import BrokerCore
import Logging
import RecTransport
import RecWire

/// Performs the core's actions on the reactor's sockets.
struct ReactorShell {
    let frontend: ZMQSocket
    let backend: ZMQSocket
    let control: ControlPlane?
    let logger: Logger
    /// One line at once, then a summary per interval, however many replies a slow client loses.
    let droppedReplies = RepeatedWarning("client send queue full; reply dropped")
    /// Replies that met a client's full send queue, waiting for it to read (``ReplyBacklog``).
    let backlog: ReplyBacklog

    /// Logs the summaries of repeated warnings whose interval has ended.
    func flushWarnings(now: BrokerInstant) {
        droppedReplies.flush(nowMicros: now.monotonicMicros, logger: logger)
    }

    /// The status of a reply's header frame, or `nil` if the first frame is not a reply header: read in place (the
    /// core built the frame), not decoded a second time per reply.
    private static func replyStatus(_ frames: [[UInt8]]) -> Status? {
        frames.first.flatMap(Header.replyStatus)
    }

    /// At `debug`, one line per error reply the broker sends a client (BUSY, EXPIRED, NO_WORKER,
    /// WORKER_LOST, …), with its request id. Costs nothing at `info` and above.
    private func logErrorReply(_ frames: [[UInt8]]) {
        guard let header = frames.lazy.compactMap({ try? Header(decoding: $0) }).first,
            header.isReply, header.status != .ok
        else { return }
        logger.debug(
            "request answered with an error",
            metadata: [
                "request_id": "\(header.requestId)", "status": "\(header.status)",
                "command": "\(header.command.name)", "attempt": "\(header.attempt)",
            ])
    }

    /// Sends `frames` and then `payload` to a worker as one message: held frames go uncopied
    /// (``ZMQSocket/sendFrame(_:more:dontWait:)`` with a ``ZMQFrame``), byte frames as bytes.
    /// - Returns: `false` when the worker's queue is full (`EAGAIN` on the identity frame).
    private func send(to identity: [UInt8], _ frames: [[UInt8]], _ payload: [any PayloadFrame]) throws(ZMQError) -> Bool {
        guard payload.contains(where: { $0 is HeldFrame }) else {
            return try backend.send(to: identity, frames + payload.map { ($0 as? [UInt8]) ?? $0.bytes }, dontWait: true)
        }
        guard try backend.sendFrame(identity, more: true, dontWait: true) else { return false }
        let last = frames.count + payload.count - 1
        var index = 0
        for frame in frames {
            try backend.sendFrame(frame, more: index < last)
            index += 1
        }
        for frame in payload {
            if let held = frame as? HeldFrame {
                try backend.sendFrame(held.frame, more: index < last)
            } else {
                try backend.sendFrame((frame as? [UInt8]) ?? frame.bytes, more: index < last)
            }
            index += 1
        }
        return true
    }

    /// Counts what became of a reply: one handed to libzmq in `replies_<status>` (a reply is counted once delivered,
    /// never when it only waits), one dropped in `replies_dropped_hwm` with a rate-limited warning; a client found gone
    /// is the core's `clientUnreachable`.
    private func record(
        _ outcome: ReplyBacklog.Outcome, core: inout BrokerCore, now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        switch outcome {
        case .sent(let frames):
            if let status = Self.replyStatus(frames) { core.counters.reply(status) }
        case .dropped(let frames):
            core.counters.add(.repliesDroppedHighWaterMark)
            let requestId = frames.first.flatMap { try? Header(decoding: $0) }?.requestId
            droppedReplies.record(
                nowMicros: now.monotonicMicros,
                metadata: [
                    "request_id": "\(requestId.map { String($0) } ?? "?")",
                    "dropped_total": "\(core.counters[.repliesDroppedHighWaterMark])",
                ], logger: logger)
        case .waiting:
            break
        case .unreachable(let identity, let lost):
            // Every reply lost with the client is counted, as each is when a send finds it gone.
            for _ in 0..<lost { core.handle(.clientUnreachable(identity: identity), now: now, into: &actions) }
        }
    }

    /// Sends the replies waiting for clients whose queues have room again (``ReplyBacklog/flush(now:through:)``).
    func flushBacklog(core: inout BrokerCore, now: BrokerInstant) {
        guard !backlog.isEmpty else { return }
        var actions: [BrokerAction] = []
        for outcome in backlog.flush(now: now.monotonicMicros, through: { identity, frames in
            try frontend.send(to: identity, frames, dontWait: true)
        }) {
            record(outcome, core: &core, now: now, into: &actions)
        }
        if !actions.isEmpty { perform(&actions, core: &core, now: now) }
    }

    /// Drops what still waits when the broker stops: counted, as a reply dropped at a full queue is.
    func dropBacklog(core: inout BrokerCore, now: BrokerInstant) {
        var actions: [BrokerAction] = []
        for frames in backlog.removeAll() { record(.dropped(frames), core: &core, now: now, into: &actions) }
    }

    func perform(_ actions: inout [BrokerAction], core: inout BrokerCore, now: BrokerInstant) {
        var index = 0
        // Performing an action can produce more (an unreachable worker re-dispatches its requests).
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .sendToClient(let identity, let frames):
                if logger.logLevel <= .debug { logErrorReply(frames) }
                do {
                    let outcome = try backlog.send(frames, to: identity, now: now.monotonicMicros) { identity, frames in
                        try frontend.send(to: identity, frames, dontWait: true)
                    }
                    record(outcome, core: &core, now: now, into: &actions)
                } catch {
                    core.handle(.clientUnreachable(identity: identity), now: now, into: &actions)
                }
            case .sendToWorker(let identity, let frames, let payload):
                do {
                    if try !send(to: identity, frames, payload) {
                        core.handle(.workerUnreachable(identity: identity), now: now, into: &actions)
                    }
                } catch {
                    core.handle(.workerUnreachable(identity: identity), now: now, into: &actions)
                }
            case .toControl(let input):
                if let control {
                    switch control.submit(input) {
                    case .accepted: break
                    case .refused(let heldBytes, let limit):
                        core.handle(.controlBusy(input, heldBytes: heldBytes, limit: limit), now: now, into: &actions)
                    case .refusedClientShare(let clientBytes, let share):
                        core.handle(
                            .controlBusyClientShare(input, clientBytes: clientBytes, share: share), now: now,
                            into: &actions)
                    }
                } else if case .client(let identity, let message, _) = input {
                    let reply = WireMessage.errorReply(
                        to: message.header, status: .badRequest, message: BrokerReactor.statelessRefusal(message))
                    core.controlAnswered(identity: identity, frames: reply.frames())
                    actions.append(.sendToClient(identity: identity, frames: reply.frames()))
                } else if case .heldImpression(let worker, _, let client, let frames, _) = input {
                    // A policy slate held for a control plane this broker does not run: answered CONFLICT, as the
                    // control plane answers it without an online policy, never left for the client's deadline.
                    let refusal = SlateRefusal.noOnlinePolicy(worker: worker, .notConfigured).reply(replacing: frames)
                    core.controlAnswered(identity: client, frames: refusal)
                    actions.append(.sendToClient(identity: client, frames: refusal))
                }
            }
        }
        actions.removeAll(keepingCapacity: true)
    }
}

/// A payload frame the reactor holds inside libzmq (``ZMQFrame``), as the core sees it: a size and
/// bytes it may read in place. Dispatching it sends a reference to libzmq's buffer, not a copy.
struct HeldFrame: PayloadFrame {
    /// The received frame.
    let frame: ZMQFrame

    var byteCount: Int { frame.count }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        frame.withUnsafeBytes(body)
    }
}

extension BrokerReactor {
    /// Why a broker without `--state-dir` refuses what only its control plane answers, naming what the request needs:
    /// FEEDBACK and the online operations need online learning (`--online` with `--state-dir`); the rest (jobs,
    /// the registry, catalogues) need the state directory.
    static func statelessRefusal(_ message: WireMessage) -> String {
        var needsOnline = message.header.command == .feedback
        if message.header.command == .control {
            // Read as the control plane reads it, and refused for what is wrong with it whatever the broker keeps: a
            // document that does not decode, a missing one, or an op this build does not know (`drian`) is named, not
            // told to start the broker with --state-dir, which would not help.
            // (A document over the size limit never gets here: the core refuses it unread.)
            do {
                needsOnline = try ControlCall(identity: [], message: message).operation.owner == .online
            } catch {
                return error.text
            }
        }
        return needsOnline
            ? "this broker keeps no durable state, so it logs no impressions and takes no feedback: start it with "
                + "--online and --state-dir"
            : "this broker keeps no durable state; start it with --state-dir to train and manage models and to keep "
                + "catalogues"
    }
}
