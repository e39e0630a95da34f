import RecClient
import RecWire

/// Sends SCORE or RECOMMEND requests to a RecPool broker through ``RecPoolClient``.
///
/// Request payloads are encoded once, up front, and used in turn, so the load generator spends
/// its time on the wire, not on building rows.
public struct RecPoolTarget: LoadTarget {
    /// The clients (one socket and I/O thread each) requests go through, in turn.
    public let clients: [RecPoolClient]
    /// What is sent.
    public let command: Command
    /// Encoded payload frames, used in turn.
    public let payloads: [[UInt8]]
    /// Rows answered per `OK` reply.
    public let rowsPerRequest: Int
    /// Each request's timeout (also its deadline), ms.
    public let timeoutMs: UInt64

    /// Creates a target.
    /// - Parameters:
    ///   - clients: connected clients, at least one.
    ///   - command: `.score` or `.recommend`.
    ///   - payloads: encoded tensors (SCORE) or JSON documents (RECOMMEND); at least one.
    ///   - rowsPerRequest: rows per request, for rows/s.
    ///   - timeoutMs: each request's timeout.
    public init(clients: [RecPoolClient], command: Command, payloads: [[UInt8]], rowsPerRequest: Int, timeoutMs: UInt64)
    {
        precondition(!payloads.isEmpty && !clients.isEmpty, "a target needs a client and a payload")
        self.clients = clients
        self.command = command
        self.payloads = payloads
        self.rowsPerRequest = rowsPerRequest
        self.timeoutMs = timeoutMs
    }

    /// Sends one request; an error status or client failure becomes ``LoadOutcome/failed(_:)``.
    public func send(index: Int) async -> LoadOutcome {
        let request = WireMessage(header: Header(command: command), payload: [payloads[index % payloads.count]])
        do {
            let reply = try await clients[index % clients.count].roundTrip(request, timeoutMs: timeoutMs)
            guard reply.header.status == .ok else {
                return .failed(reply.header.status.name, message: reply.errorText)
            }
            if command == .score, reply.payload.first?.count != 8 + rowsPerRequest * 4 {
                return .failed(
                    "PROTOCOL",
                    message: "a SCORE reply's tensor is not \(rowsPerRequest) rows × 1 (\(reply.payload.first?.count ?? 0) bytes "
                        + "in its first payload frame, \(8 + rowsPerRequest * 4) expected)")
            }
            let h = reply.header
            return .ok(
                rows: rowsPerRequest,
                timings: ServerTimings(
                    brokerQueueMicros: UInt64(h.brokerQueueMicros), workerQueueMicros: UInt64(h.workerQueueMicros),
                    computeMicros: UInt64(h.computeMicros)))
        } catch {
            return .failed(error.statusName, message: "\(error)")
        }
    }
}
