import DequeModule
import RecWire

/// The broker's whole routing logic as a value with no I/O: events in, actions out.
///
/// The reactor (``BrokerReactor``) decodes nothing and decides nothing: it feeds each message and
/// each timer tick to ``handle(_:now:into:)`` and performs the actions it gets back. Every promise
/// the broker makes — one reply per request, re-dispatch at most `maxAttempts − 1` times, EXPIRED
/// before dispatch, BUSY when a queue is full, NO_WORKER within a bounded time — is therefore
/// testable without sockets and with an injected clock, like grpc-swift-2's state machines.
public struct BrokerCore: Sendable {
    /// The configuration in force.
    public let configuration: BrokerConfiguration
    /// Counters by name.
    public var counters = BrokerCounters()

    let startedAt: UInt64
    var workers: [[UInt8]: WorkerRecord] = [:]
    var queues: [Command: Deque<PendingRequest>] = [:]
    var inflight: [UInt64: InflightEntry] = [:]
    var locations: [ClientRequestKey: RequestLocation] = [:]
    /// Each service's dispatch-to-reply time, for admission by deadline.
    var latencies: [Command: ServiceLatency] = [:]
    var nextDispatchId: UInt64 = 1
    /// Registrations so far: each new worker record gets the next number (``WorkerRecord/registration``).
    var registrations: UInt64 = 0
    /// Worker processes (host, pid and the instance number a process draws at its start) told to drain that left
    /// without finishing it (expired, or their session restarted): when the same process registers again it is told
    /// to drain again, so an acknowledged `recpool drain` survives a partition; a new process (a restarted container's
    /// pid 1) is not. The oldest goes past ``drainsRememberedLimit``.
    var drainsToResume: [(host: String, pid: Int32, instance: UInt64?)] = []
    /// At most this many drains are kept for workers that left unfinished.
    static let drainsRememberedLimit = 1_024
    /// When (monotonic µs) each unknown identity was last told DISCONNECT: one per heartbeat interval, so a worker
    /// that resumes after a stall with many messages queued registers again once, not once per queued message (each
    /// READY after the first read as a new session and dropped what it held). Cleared by its READY and by the tick.
    var disconnectsSent: [[UInt8]: UInt64] = [:]
    var lastHeartbeatAt: UInt64 = 0
    /// Dispatch-to-reply times (µs) since the reactor last took them, for the latency histogram.
    public internal(set) var replyLatencies: [UInt64] = []
    /// The promoted version every scoring replica should serve, and the WEIGHTS frames that carry it
    /// (empty when its checkpoint cannot be read: workers then wait, and none is sent).
    var rollout: (version: UInt64, frames: [[UInt8]])?
    /// The features per row the promoted version's model takes, when the control plane could read its checkpoint.
    var rolloutInputWidth: Int?
    /// The checkpoint SHA-256 of each version rolled out since the broker started, for the status document.
    var rolledOutSHA: [UInt64: String] = [:]
    /// Per service, since when (monotonic µs) every live worker offering it has reported 0 slots (a pause: "send me
    /// nothing more"); absent while one has credit or none offers it. A queued request's no-worker timeout counts from
    /// the later of its arrival and this, so a short pause does not fail the whole backlog at once.
    var creditlessSince: [Command: UInt64] = [:]
    /// Requests handed to the control plane and not yet answered (CONTROL, FEEDBACK, RECOMMENDs whose policy slate
    /// waits for its impression's commit), by client and request id (``awaitControl(client:header:)``).
    var controlWaits: [ControlWaitKey: [Header]] = [:]
    /// How many requests ``controlWaits`` holds.
    var controlWaitCount = 0
    /// Every registered version's checkpoint SHA-256, from the control plane; `nil` without a
    /// `--state-dir` (then versions are not checked).
    public var registeredModels: [UInt64: String]?
    /// The control plane's latest view of online learning, for the status document.
    public var onlineView: OnlineView?
    /// Why online learning is off on a broker started with `--online`, shown in the status document; nil otherwise.
    public var onlineOff: String?
    /// While the broker runs online learning, the workers that reported an installed policy version: only they take
    /// RECOMMEND (``isEligible(_:for:serving:)``), so a slate always comes from the served policy and carries an
    /// impression, never from the model path of a replica still waiting for its first POLICY. `nil` when the broker
    /// runs no online learning (every worker offering RECOMMEND answers it). Set by ``BrokerEvent/policyReplicas(_:)``.
    public internal(set) var policyReplicas: Set<[UInt8]>?
    /// Set by ``beginShutdown()``: new work is refused with BUSY while what is held drains.
    public internal(set) var isShuttingDown = false
    /// Payload bytes held per service for requests queued or in flight (``BrokerConfiguration/serviceBytesLimit``).
    var serviceBytes: [Command: Int] = [:]
    /// Payload bytes held per client for requests queued or in flight (``BrokerConfiguration/clientBytesLimit``).
    var clientBytes: [[UInt8]: Int] = [:]
    /// Payload bytes held for all requests queued or in flight.
    public internal(set) var heldBytes = 0
    /// The most ``heldBytes`` reached since the reactor last called ``resetPeakHeldBytes()``.
    public internal(set) var peakHeldBytes = 0

    /// Creates a core that starts at `now`.
    public init(configuration: BrokerConfiguration = BrokerConfiguration(), now: BrokerInstant) {
        self.configuration = configuration
        startedAt = now.monotonicMicros
        lastHeartbeatAt = now.monotonicMicros
    }

    /// Handles one event and appends the resulting actions to `actions`, in the order to perform them.
    public mutating func handle(_ event: BrokerEvent, now: BrokerInstant, into actions: inout [BrokerAction]) {
        switch event {
        case .client(let identity, let frames, let userId, let held):
            handleClient(identity: identity, frames: frames, held: held, userId: userId, now: now, into: &actions)
        case .clientShed(let identity, let header, let payloadBytes):
            counters.add(.clientMessages)
            counters.request(header.command)
            shed(identity: identity, header: header, payloadBytes: payloadBytes, now: now, into: &actions)
        case .clientTooLarge(let identity, let headerFrame, let messageBytes, let frameCount):
            counters.add(.clientMessages)
            refuseTooLarge(
                identity: identity, headerFrame: headerFrame, messageBytes: messageBytes, frameCount: frameCount,
                into: &actions)
        case .worker(let identity, let frames, let peerAddress, let userId):
            if configuration.enforceRoles && PeerRole(userId: userId) != .worker {
                // ZAP admits only worker keys on the backend (defence in depth), and a worker whose key was
                // revoked by a reload is ignored: it expires within the liveness window and its work is re-dispatched.
                counters.add(.unauthorizedWorkerMessages)
                return
            }
            handleWorker(
                identity: identity, frames: frames, peerAddress: peerAddress, userId: userId,
                now: now, into: &actions)
        case .tick:
            tick(now: now, into: &actions)
        case .workerKeysAllowed(let keys):
            for worker in workers.values where worker.curveKey.map({ !keys.contains($0) }) == true {
                // Told to leave (it is not served again under this key), and its work goes elsewhere now.
                actions.append(.sendToWorker(identity: worker.identity, frames: [Header(command: .disconnect).encoded()]))
                removeWorker(worker.identity, reason: .workersRevoked, now: now, into: &actions)
            }
        case .workerUnreachable(let identity):
            // A draining worker whose connection is gone has left as a drain ends, not failed: counted as its
            // DISCONNECT would be (it may arrive after the broker's heartbeat found the connection closed).
            let draining = workers[identity]?.draining == true
            removeWorker(identity, reason: draining ? .workersDisconnected : .workersUnreachable, now: now, into: &actions)
        case .clientUnreachable:
            counters.add(.repliesUndeliverable)
        case .controlBusy(let input, let heldBytes, let limit):
            refuseControlBusy(
                input,
                waiting: "the control plane is busy: \(heldBytes) bytes of requests already wait for it, and this one "
                    + "(\(input.byteCount) bytes) would pass the limit of \(limit) (--control-inbox-bytes)",
                into: &actions)
        case .controlBusyClientShare(let input, let clientBytes, let share):
            refuseControlBusy(
                input,
                waiting: "the control plane is busy with this client's requests: \(clientBytes) bytes of them already "
                    + "wait for it, and this one (\(input.byteCount) bytes) would pass a client's share of \(share), half "
                    + "of --control-inbox-bytes",
                into: &actions)
        case .rollout(let version, let frames, let inputWidth):
            rollout = (version, frames)
            rolloutInputWidth = inputWidth
            if frames.count >= 2, let notice = try? WireJSON.decodeRequest(WeightsNotice.self, from: frames[1]) {
                rolledOutSHA[version] = notice.sha256
            }
            // Every worker hears a new rollout, also one that reports its version already: it may be building
            // another (a promotion rolled back before its build finished) and must drop that build.
            for identity in workers.keys {
                sendWeightsIfStale(identity, now: now, into: &actions, force: true, evenIfCurrent: true)
            }
        case .policyReplicas(let replicas):
            policyReplicas = replicas
            // A replica that just installed the policy may take the RECOMMENDs waiting for one.
            pump(.recommend, now: now, into: &actions)
        }
    }

    /// The convenience form of ``handle(_:now:into:)`` for tests.
    public mutating func handle(_ event: BrokerEvent, now: BrokerInstant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        handle(event, now: now, into: &actions)
        return actions
    }

    /// How long the reactor may sleep before the next timer is due, in ms.
    public func nextTimerDelayMs(now: BrokerInstant) -> Int {
        let dueAt = lastHeartbeatAt.addingSaturating(configuration.heartbeatIntervalMicros)
        let untilHeartbeat = dueAt > now.monotonicMicros ? (dueAt - now.monotonicMicros) / 1000 : 0
        // Deadlines and NO_WORKER timeouts are checked at least every 100 ms.
        return Int(min(untilHeartbeat, 100))
    }

    /// Takes the recorded dispatch-to-reply times.
    public mutating func takeReplyLatencies() -> [UInt64] {
        defer { replyLatencies.removeAll(keepingCapacity: true) }
        return replyLatencies
    }

    /// Requests waiting per service.
    public var queueDepths: [Command: Int] { queues.mapValues(\.count) }

    /// Requests dispatched and not yet answered by a worker.
    public var inflightCount: Int { inflight.count }

    /// Each live worker's display id, the version it claims, and whether the registry holds that version with
    /// its weights (``holdsClaimedVersion(_:)``; false is `unverified` in the status document).
    public var workerVersions: [(id: String, version: UInt64, verified: Bool)] {
        workers.values.map { ($0.hello.workerId, $0.modelVersion, holdsClaimedVersion($0)) }
    }

    /// Requests queued or in flight, and requests the control plane has not answered yet (CONTROL, FEEDBACK, and
    /// RECOMMEND answers held there until their impression is stored).
    public var outstandingRequests: Int { locations.count + controlWaitCount }

    /// Live workers.
    public var liveWorkerCount: Int { workers.count }

    /// Forgets the peak of ``heldBytes`` (the reactor does once it has returned memory after a burst).
    public mutating func resetPeakHeldBytes() { peakHeldBytes = heldBytes }

    // MARK: Held bytes

    /// Counts a request's payload as held (it was queued).
    mutating func hold(_ request: PendingRequest) {
        serviceBytes[request.service, default: 0] += request.bytes
        clientBytes[request.client, default: 0] += request.bytes
        heldBytes += request.bytes
        peakHeldBytes = max(peakHeldBytes, heldBytes)
    }

    /// Stops counting a request's payload: the broker no longer keeps the request.
    mutating func release(_ request: PendingRequest) {
        serviceBytes[request.service, default: 0] -= request.bytes
        if serviceBytes[request.service] == 0 { serviceBytes[request.service] = nil }
        // One hash of the client's identity to read and update its count (a held request has one).
        if let index = clientBytes.index(forKey: request.client) {
            let left = clientBytes.values[index] - request.bytes
            if left > 0 { clientBytes.values[index] = left } else { clientBytes.remove(at: index) }
        }
        heldBytes -= request.bytes
    }

    /// Marks in-flight dispatch `dispatchId` as answered to its client before its worker answered (cancelled,
    /// expired), and lets its bytes go now: the budgets count a request until it is answered (docs/PROTOCOL.md,
    /// Limits), and its frames go with them, as an answered request is never dispatched again. The entry stays until
    /// the worker answers or leaves, so the worker's slot stays taken. Returns the request as it was, to answer.
    mutating func answerEarly(_ dispatchId: UInt64) -> PendingRequest? {
        guard var entry = inflight[dispatchId], !entry.clientAnswered else { return nil }
        let request = entry.request
        release(request)
        entry.clientAnswered = true
        entry.request.bytes = 0
        entry.request.payload = []
        inflight[dispatchId] = entry
        return request
    }

    // MARK: Replies

    mutating func reply(
        to request: PendingRequest, status: Status, message: String, retryAfterMs: UInt32 = 0,
        into actions: inout [BrokerAction]
    ) {
        var header = request.header
        // For SCORE and RECOMMEND the attempt is the broker's count of dispatches, whatever the client's header held;
        // every other reply echoes the request's field (docs/PROTOCOL.md, "The `attempt` field").
        if header.command == .score || header.command == .recommend { header.attempt = request.attempts }
        let reply = WireMessage.errorReply(to: header, status: status, message: message, retryAfterMs: retryAfterMs)
        actions.append(.sendToClient(identity: request.client, frames: reply.frames()))
    }
}
