import BrokerCore
import RecWire

/// Sends each control-plane input to the coordinator that owns it: FEEDBACK, impressions, POLICY_STATE and
/// the online CONTROL operations to ``OnlineCoordinator`` (the shell of ``OnlineCore``); training and the
/// registry to ``JobCoordinator``.
struct ControlRouter {
    let jobs: JobCoordinator
    let online: OnlineCoordinator?

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
                online.handleControl(identity: identity, header: header, request: call.request, nowMs: nowMs)
            case .jobs, .reactor:
                // `drain` is answered by the reactor and never reaches the control plane.
                jobs.handle(call, nowMs: nowMs)
            }
        case .worker(let identity, let message):
            if message.header.command == .policyState {
                online?.handleWorker(identity: identity, message: message, nowMs: nowMs)
            } else {
                jobs.handleWorker(identity: identity, message: message, nowMs: nowMs)
            }
        case .workers(let live):
            jobs.updateWorkers(live, nowMs: nowMs)
            online?.updateWorkers(live, nowMs: nowMs)
        case .impression(let worker, let record):
            online?.handleImpression(worker: worker, record: record)
        case .heldImpression(let worker, let record, let client, let frames):
            if let online {
                online.handleImpression(worker: worker, record: record, reply: (client, frames))
            } else {
                jobs.emit(.heldReply(identity: client, frames: frames))
            }
        case .guardVerdict(let sync, let decision):
            online?.handleVerdict(sync: sync, decision: decision, nowMs: nowMs)
        }
    }

    func tick(nowMs: UInt64) {
        jobs.tick(nowMs: nowMs)
        online?.tick(nowMs: nowMs)
    }

    private func refuse(_ identity: [UInt8], _ header: Header) {
        let reply = WireMessage.errorReply(
            to: header, status: .badRequest,
            message: "this broker does not run online learning; start it with --online and --state-dir")
        jobs.emit(.toClient(identity: identity, frames: reply.frames()))
    }
}
