import BrokerCore
import DequeModule

/// The control plane's inbox: inputs waiting for the control thread, and the bytes they hold until each is handled.
///
/// A client that pipelines large CONTROL messages (or FEEDBACK, or RECOMMENDs whose slates wait to be logged) while
/// the control thread is busy would otherwise grow the broker's memory without bound. Inputs a client caused
/// (``ControlInput/isRefusable``) are refused once the bytes waiting would pass ``limit``; the reactor answers them
/// BUSY. One input is always taken when nothing waits, so a message at the wire limit still fits. Worker messages and
/// the broker's own inputs are always taken (and counted).
struct ControlInbox {
    /// Inputs in arrival order, with the bytes each holds.
    private(set) var queue = Deque<(input: ControlInput, bytes: Int)>()
    /// Bytes of the inputs queued or being handled.
    private(set) var heldBytes = 0
    /// The most bytes that may wait before a refusable input is refused.
    let limit: Int

    /// Creates an empty inbox bounded by `limit` bytes.
    init(limit: Int) { self.limit = limit }

    /// Queues `input` unless it is refusable and would pass the limit.
    mutating func admit(_ input: ControlInput) -> ControlAdmission {
        let bytes = input.byteCount
        if input.isRefusable, heldBytes > 0, heldBytes.addingReportingOverflow(bytes).partialValue > limit {
            return .refused(heldBytes: heldBytes, limit: limit)
        }
        queue.append((input, bytes))
        heldBytes += bytes
        return .accepted
    }

    /// Takes every queued input; their bytes stay held until ``handled(bytes:)``.
    mutating func takeAll() -> [(input: ControlInput, bytes: Int)] {
        // Nothing to take is the common case (every wake-up asks); `[]` also keeps TSan quiet
        // about the stdlib writing a zero count into the shared empty-array storage.
        guard !queue.isEmpty else { return [] }
        defer { queue.removeAll() }
        return Array(queue)
    }

    /// An input taken by ``takeAll()`` was handled: its bytes are free.
    mutating func handled(bytes: Int) { heldBytes = max(0, heldBytes - bytes) }
}
