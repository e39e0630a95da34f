import BrokerCore
import RecWire

/// Sends each control-plane input to the coordinator that owns it: FEEDBACK, impressions, POLICY_STATE and
/// the online CONTROL operations to ``OnlineCoordinator`` (the shell of ``OnlineCore``); training and the
/// registry to ``JobCoordinator``; catalogue operations and CATALOGUE_STATE to ``CatalogueCoordinator``.
struct ControlRouter {
    let jobs: JobCoordinator
    let online: OnlineCoordinator?
    let catalogues: CatalogueCoordinator?
    /// Why online learning is off although the broker was started with `--online` (an `--online-catalogue` that
    /// cannot be served, a policy that could not start), or `nil`: online requests are refused naming it.
    var onlineOff: String? = nil

    func route(_ input: ControlInput, nowMs: UInt64) {
        switch input {
        case .client(let identity, let message, _):
            let header = message.header
            if header.command == .feedback {
                guard let online else { return refuse(identity, header) }
                online.handleFeedback(identity: identity, message: message, nowMs: nowMs)
                return
            }
            let call: ControlCall
            do {
                call = try ControlCall(identity: identity, message: message)
            } catch {
                return jobs.answer(identity, header, error.status, text: error.text)
            }
            switch call.operation.owner {
            case .online:
                guard let online else { return refuse(identity, header) }
                online.handleControl(
                    identity: identity, header: header, request: call.request, bytes: call.extraFrames.first,
                    nowMs: nowMs)
            case .catalogues:
                guard let catalogues else {
                    return jobs.answer(call, .internal, text: "the catalogue registry could not start; see the broker's log")
                }
                catalogues.handle(call, nowMs: nowMs)
            case .jobs, .reactor:
                // `drain` is answered by the reactor and never reaches the control plane.
                jobs.handle(call, nowMs: nowMs)
            }
        case .worker(let identity, let message):
            if message.header.command == .catalogueState {
                catalogues?.handleWorker(identity: identity, message: message, nowMs: nowMs)
            } else if message.header.command == .policyState {
                online?.handleWorker(identity: identity, message: message, nowMs: nowMs)
            } else {
                jobs.handleWorker(identity: identity, message: message, nowMs: nowMs)
            }
        case .workers(let live):
            jobs.updateWorkers(live, nowMs: nowMs)
            // CATALOGUE before POLICY: a newcomer gets the newest catalogue version first, so the POLICY that
            // names it (the usual case) installs at once.
            catalogues?.updateWorkers(live, nowMs: nowMs)
            online?.updateWorkers(live, nowMs: nowMs)
        case .heldImpression(let worker, let record, let client, let frames, let top):
            if let refusal = retiredItemRefusal(record: record, frames: frames) {
                // A replica that has not installed the retire yet: the client never sees the item.
                jobs.emit(.heldReply(identity: client, frames: refusal))
            } else if let online {
                online.handleImpression(worker: worker, record: record, reply: (client, frames), top: top, nowMs: nowMs)
            } else {
                // No online policy here: the impression cannot be logged, so the slate never reaches the client.
                jobs.emit(.heldReply(identity: client, frames: unloggedSlateRefusal(worker: worker, frames: frames)))
            }
        case .guardVerdict(let sync, let decision):
            online?.handleVerdict(sync: sync, decision: decision, nowMs: nowMs)
        }
    }

    func tick(nowMs: UInt64) {
        jobs.tick(nowMs: nowMs)
        online?.tick(nowMs: nowMs)
        catalogues?.tick(nowMs: nowMs)
    }

    /// The error reply (CONFLICT) that replaces a held slate holding an item its catalogue retired (the version the online
    /// policy serves; the registry's newest without one), or `nil`.
    private func retiredItemRefusal(record: [UInt8], frames: [[UInt8]]) -> [[UInt8]]? {
        guard let impression = try? WireJSON.decode(ImpressionRecord.self, from: record) else { return nil }
        // The served catalogue version's retirements when a policy serves one; the registry's newest otherwise.
        let reason = online.map { $0.retiredRefusal(forSlate: impression.slate) } ?? catalogues?.refusal(forSlate: impression.slate)
        guard let reason, let first = frames.first, let header = try? Header(decoding: first) else { return nil }
        return WireMessage.errorReply(to: header, status: .conflict, message: reason).frames()
    }

    /// Why online learning is not running on this broker.
    private var offline: OnlineUnavailable { onlineOff.map(OnlineUnavailable.failed) ?? .notConfigured }

    /// Refuses online work: BAD_REQUEST when the broker was not started to do it, INTERNAL when it was and its online
    /// learning could not start (a full disk, an `--online-catalogue` that cannot be served): the broker's failure,
    /// which a client's exit code (11, a client fault) blamed on the request.
    private func refuse(_ identity: [UInt8], _ header: Header) {
        let status: Status = onlineOff == nil ? .badRequest : .internal
        let reply = WireMessage.errorReply(to: header, status: status, message: offline.description)
        jobs.emit(.toClient(identity: identity, frames: reply.frames()))
    }

    /// The error reply (CONFLICT) that replaces a policy slate when the broker runs no online learning: a worker
    /// still serving a policy (from another broker, or from before a restart whose policy did not start) drew it,
    /// and the broker could neither log its impression nor take feedback on it.
    private func unloggedSlateRefusal(worker: String, frames: [[UInt8]]) -> [[UInt8]] {
        SlateRefusal.noOnlinePolicy(worker: worker, offline).reply(replacing: frames)
    }
}
