import BrokerCore
import DequeModule

/// The control plane's inbox: inputs waiting for the control thread, and the bytes they hold until each is handled.
///
/// A client that pipelines large CONTROL messages (or FEEDBACK, or RECOMMENDs whose slates wait to be logged) while
/// the control thread is busy would otherwise grow the broker's memory without bound. Inputs a client caused
/// (``ControlInput/isRefusable``) are refused once the bytes waiting would pass ``limit``, or once that client's own
/// would pass ``clientShare`` (half the limit: one client flooding FEEDBACK or CONTROL leaves the other half to the
/// rest); the reactor answers them BUSY. One input is always taken when nothing waits, and one of a client's when
/// none of its own waits, so a message at the wire limit still fits. Worker messages and the broker's own inputs are
/// always taken, and counted in ``heldBytes`` but not against the limit: a training round's results (a parameter
/// pack from each of hundreds of replicas) refused every client's FEEDBACK and slates BUSY while they were merged,
/// with a message that called them "requests" (docs/PROTOCOL.md, "Limits").
struct ControlInbox {
    /// Inputs in arrival order, with the bytes each holds.
    private(set) var queue = Deque<(input: ControlInput, bytes: Int)>()
    /// Bytes of the inputs queued or being handled, workers' and the broker's own included.
    private(set) var heldBytes = 0
    /// Of ``heldBytes``, those of refusable inputs (what clients sent): what the limit bounds.
    private(set) var requestBytes = 0
    /// Of ``heldBytes``, those of each client's inputs (``ControlInput/client``); a client holding none has no entry.
    private(set) var clientBytes: [[UInt8]: Int] = [:]
    /// The most bytes that may wait before a refusable input is refused.
    let limit: Int
    /// The most bytes one client's inputs may hold before its next refusable input is refused: half the limit.
    var clientShare: Int { limit / 2 }

    /// Creates an empty inbox bounded by `limit` bytes.
    init(limit: Int) { self.limit = limit }

    /// Queues `input` unless it is refusable and would pass the limit.
    mutating func admit(_ input: ControlInput) -> ControlAdmission {
        let bytes = input.byteCount
        if input.isRefusable, requestBytes > 0, requestBytes.addingReportingOverflow(bytes).partialValue > limit {
            return .refused(heldBytes: requestBytes, limit: limit)
        }
        let client = input.client
        if input.isRefusable, let client, let own = clientBytes[client], own > 0,
            own.addingReportingOverflow(bytes).partialValue > clientShare
        {
            return .refusedClientShare(clientBytes: own, share: clientShare)
        }
        queue.append((input, bytes))
        heldBytes += bytes
        if input.isRefusable { requestBytes += bytes }
        if let client { clientBytes[client, default: 0] += bytes }
        return .accepted
    }

    /// Takes every queued input; their bytes stay held until ``handled(_:)``.
    mutating func takeAll() -> [(input: ControlInput, bytes: Int)] {
        // Nothing to take is the common case (every wake-up asks); `[]` also keeps TSan quiet
        // about the stdlib writing a zero count into the shared empty-array storage.
        guard !queue.isEmpty else { return [] }
        defer { queue.removeAll() }
        return Array(queue)
    }

    /// Inputs taken by ``takeAll()`` were handled: their bytes are free, in the total and in their clients' shares.
    mutating func handled(_ inputs: [(input: ControlInput, bytes: Int)]) {
        for (input, bytes) in inputs {
            heldBytes = max(0, heldBytes - bytes)
            if input.isRefusable { requestBytes = max(0, requestBytes - bytes) }
            guard let client = input.client, let own = clientBytes[client] else { continue }
            clientBytes[client] = own > bytes ? own - bytes : nil
        }
    }
}
