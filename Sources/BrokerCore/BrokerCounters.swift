import RecWire

/// A named broker counter. The raw value is the name in the STATUS document and, later, in metrics.
public enum BrokerCounter: String, CaseIterable, Sendable {
    /// Messages received from clients.
    case clientMessages = "client_messages"
    /// Messages received from workers.
    case workerMessages = "worker_messages"
    /// Client messages that did not decode.
    case malformedClientMessages = "malformed_client_messages"
    /// Worker messages that did not decode.
    case malformedWorkerMessages = "malformed_worker_messages"
    /// Worker replies that cannot be the answer to their request: a model version the worker does not serve or the
    /// request's pin refuses, a SCORE tensor of the wrong shape or with a value that is not finite, an error reply
    /// without its one message frame, or a reply that did not decode but named an in-flight request. The client is
    /// answered INTERNAL naming the problem instead.
    case invalidWorkerReplies = "invalid_worker_replies"
    /// Requests answered BAD_REQUEST by the broker: a header field a request may not set, or a
    /// payload that failed validation.
    case invalidRequests = "invalid_requests"
    /// Requests refused because the same id was outstanding.
    case duplicateRequestIds = "duplicate_request_ids"
    /// Requests sent to a worker (re-dispatches included).
    case dispatched
    /// Requests re-queued because their worker died.
    case redispatched
    /// Requests cancelled by their client.
    case cancelled
    /// Requests answered EXPIRED before or while queued.
    case droppedExpired = "dropped_expired"
    /// Dispatched requests answered EXPIRED by the broker because the worker was too late.
    case droppedExpiredInflight = "dropped_expired_inflight"
    /// Requests answered BUSY on arrival because their queue was full or the queue ahead would
    /// outlast their deadline.
    case droppedBusy = "dropped_busy"
    /// Requests answered BUSY on arrival because their payload would pass a byte limit (the
    /// client's or the service's held bytes).
    case droppedBusyBytes = "dropped_busy_bytes"
    /// CONTROL and FEEDBACK requests, and policy slates waiting to be logged, answered BUSY because the control
    /// plane's inbox already held its byte limit (`--control-inbox-bytes`).
    case droppedBusyControl = "dropped_busy_control"
    /// Messages answered TOO_LARGE on arrival: more frames or bytes than the limits allow.
    case droppedTooLarge = "dropped_too_large"
    /// Requests answered NO_WORKER.
    case droppedNoWorker = "dropped_no_worker"
    /// Requests answered CONFLICT because no worker serves the version they need.
    case droppedNoVersion = "dropped_no_version"
    /// Requests answered WORKER_LOST after their attempts were spent.
    case droppedWorkerLost = "dropped_worker_lost"
    /// Worker replies dropped because the client already had its answer or the worker was presumed dead.
    case droppedLateReplies = "dropped_late_replies"
    /// Replies that could not be routed to their client (it disconnected). Not in `replies_<status>`.
    case repliesUndeliverable = "replies_undeliverable"
    /// Replies dropped because the client's send queue was full. Not in `replies_<status>`.
    case repliesDroppedHighWaterMark = "replies_dropped_hwm"
    /// Workers that registered.
    case workersRegistered = "workers_registered"
    /// Workers declared dead after missing heartbeats.
    case workersExpired = "workers_expired"
    /// Workers that could not be routed to.
    case workersUnreachable = "workers_unreachable"
    /// Workers that said DISCONNECT.
    case workersDisconnected = "workers_disconnected"
    /// Workers removed because a reload of the allow-lists revoked their CURVE key (their work re-dispatched at once).
    case workersRevoked = "workers_revoked"
    /// Workers that sent READY again while registered.
    case workersReregistered = "workers_reregistered"
    /// Workers registered under another id (`id#n`) because a live worker already had theirs.
    case workersRenamed = "workers_renamed"
    /// Messages from workers the broker does not know.
    case unknownWorkerMessages = "unknown_worker_messages"
    /// WEIGHTS messages sent to stale replicas.
    case weightsSent = "weights_sent"
    /// Worker commands that make no sense from a worker.
    case unexpectedWorkerCommands = "unexpected_worker_commands"
    /// Client requests refused because the peer's authenticated role may not send them.
    case unauthorizedRequests = "unauthorized_requests"
    /// Backend messages dropped because the peer is not authenticated as a worker.
    case unauthorizedWorkerMessages = "unauthorized_worker_messages"
    /// Workers that started draining (on SIGTERM or `recpool drain`).
    case workersDraining = "workers_draining"
    /// Client requests refused because the broker is shutting down.
    case refusedShuttingDown = "refused_shutting_down"
    /// Requests still outstanding when the broker's shutdown bound ran out.
    case abandonedAtShutdown = "abandoned_at_shutdown"
    /// Incoming connections whose `accept(2)` failed (often `EMFILE`: the open-file limit), on either
    /// socket; libzmq retries a waiting connection, so one client may count more than once.
    case acceptFailures = "accept_failures"
    /// CURVE handshakes the ZAP handler refused (a key on no allow-list of that socket, or no CURVE).
    case refusedHandshakes = "refused_handshakes"
}

/// The broker's counters: fixed slots, so counting on the hot path is an array increment.
/// They appear in the STATUS document and, later, as Prometheus metrics.
public struct BrokerCounters: Sendable, Hashable {
    private var slots = [UInt64](repeating: 0, count: BrokerCounter.allCases.count)
    private var replies = [UInt64](repeating: 0, count: Status.allCases.count)
    private var requests = [UInt64](repeating: 0, count: 256)
    private static let index: [BrokerCounter: Int] = Dictionary(
        uniqueKeysWithValues: BrokerCounter.allCases.enumerated().map { ($1, $0) })

    /// Creates zeroed counters.
    public init() {}

    /// Adds `amount` to `counter`.
    public mutating func add(_ counter: BrokerCounter, _ amount: UInt64 = 1) {
        slots[Self.index[counter]!] &+= amount
    }

    /// Counts a reply handed to libzmq for a client, by status. The reactor calls it only once the
    /// send succeeded: a reply dropped at the high-water mark or for a gone client is counted in
    /// `replies_dropped_hwm` or `replies_undeliverable` instead.
    public mutating func reply(_ status: Status) {
        replies[Int(status.rawValue)] &+= 1
    }

    /// Counts a request received from a client, by command, whatever its outcome (a request whose
    /// header does not decode is counted in `malformed_client_messages` only). Only the client commands have a
    /// count (`requests_score` … `requests_cancel`, the `service` labels of `recpool_broker_requests_total`): a
    /// worker's command sent to the frontend is answered BAD_REQUEST and counted with the invalid requests.
    public mutating func request(_ command: Command) {
        guard Self.clientCommands.contains(command) else { return }
        requests[Int(command.rawValue)] &+= 1
    }

    /// The commands a client sends.
    static let clientCommands: Set<Command> = [.score, .recommend, .feedback, .status, .control, .cancel]

    /// A counter's value.
    public subscript(counter: BrokerCounter) -> UInt64 { slots[Self.index[counter]!] }

    /// Replies sent with `status`.
    public func replies(_ status: Status) -> UInt64 { replies[Int(status.rawValue)] }

    /// Every non-zero counter by name: `replies_<status>` (replies delivered to libzmq) and
    /// `requests_<command>` (requests received) included.
    /// Every name ``values`` may hold, counted or not yet: each counter, `replies_STATUS` for every status and
    /// `requests_COMMAND` for every client command. The metrics endpoint exports each at 0 from the start, so a
    /// counter's first increase (a first burst of BUSY) is an increase to Prometheus, not a series born at its value.
    public static var allNames: [String] {
        BrokerCounter.allCases.map(\.rawValue) + Status.allCases.map { "replies_\($0.name.lowercased())" }
            + clientCommands.sorted { $0.rawValue < $1.rawValue }.map { "requests_\($0.name.lowercased())" }
    }

    public var values: [String: UInt64] {
        var result: [String: UInt64] = [:]
        for counter in BrokerCounter.allCases where self[counter] > 0 { result[counter.rawValue] = self[counter] }
        for status in Status.allCases where replies(status) > 0 {
            result["replies_\(status.name.lowercased())"] = replies(status)
        }
        for command in Command.allCases where requests[Int(command.rawValue)] > 0 {
            result["requests_\(command.name.lowercased())"] = requests[Int(command.rawValue)]
        }
        return result
    }
}
