import RecWire

extension BrokerCore {
    /// Answers BUSY what the control plane's inbox refused (``BrokerEvent/controlBusy(_:heldBytes:limit:)``,
    /// ``BrokerEvent/controlBusyClientShare(_:clientBytes:share:)``), saying why in `waiting`: a client's CONTROL or
    /// FEEDBACK, or a policy slate held for its impression's commit (the slate is not sent, since its impression was
    /// not logged); either is no longer outstanding. Anything else is never refused and is ignored here.
    mutating func refuseControlBusy(_ input: ControlInput, waiting: String, into actions: inout [BrokerAction]) {
        switch input {
        case .client(let identity, let message, _):
            counters.add(.droppedBusyControl)
            controlAnswered(identity: identity, frames: [message.header.encoded()])
            let reply = WireMessage.errorReply(
                to: message.header, status: .busy, message: "\(waiting); nothing was done, retry later",
                retryAfterMs: configuration.busyRetryAfterMs)
            actions.append(.sendToClient(identity: identity, frames: reply.frames()))
        case .heldImpression(_, _, let client, let frames, _):
            counters.add(.droppedBusyControl)
            controlAnswered(identity: client, frames: frames)
            // The worker's reply header: the request id, the attempt and the broker's queue time stay as they were.
            let slate = frames.first.flatMap { try? Header(decoding: $0) } ?? Header(command: .recommend, isReply: true)
            var reply = WireMessage.errorReply(
                to: slate, status: .busy,
                message: "\(waiting); the slate was not logged, so feedback on it could not be taken: nothing was "
                    + "served, retry later",
                retryAfterMs: configuration.busyRetryAfterMs)
            reply.header.brokerQueueMicros = slate.brokerQueueMicros
            actions.append(.sendToClient(identity: client, frames: reply.frames()))
        case .worker, .workers, .guardVerdict:
            break
        }
    }
}
