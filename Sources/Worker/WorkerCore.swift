import Foundation
import Logging
import RecWire

/// The worker's whole session logic as a value with no I/O: events in, actions out.
///
/// ``WorkerSession`` owns the DEALER and the threads; it feeds each broker message, each timer tick
/// and each swapped replica to ``handle(_:now:)`` and performs the actions it gets back. Registration,
/// the READY answer, heartbeats, liveness and reconnect backoff, the graceful drain, micro-batch
/// decisions and scoring are therefore testable without sockets and with an injected clock, like
/// ``BrokerCore`` on the broker's side.
struct WorkerCore: Sendable {
    /// The configuration in force.
    let configuration: WorkerConfiguration
    /// The host name and process id the READY message reports.
    let host: String
    let pid: Int32
    /// The served replica: every batch is scored by exactly this value.
    var replica: ModelReplica
    /// The newest WEIGHTS notice the broker sent (version and checkpoint SHA-256): the version it wants served. A
    /// replica built in the background for an older notice (a promotion the broker rolled back before the build
    /// finished) is dropped instead of swapped in (``wants(_:)``).
    var wantedWeights: (version: UInt64, sha256: String)?

    /// Whether the broker acknowledged this connection (a heartbeat arrived since READY).
    var registered = false
    /// Whether the worker was asked to stop.
    var isStopping = false
    /// When the drain notice went out on this connection, µs.
    var drainStartedAt: UInt64?
    /// Whether the broker acknowledged the drain (it will send nothing more).
    var drainAcknowledged = false
    /// When the broker was last heard from, µs.
    var lastHeard: UInt64 = 0
    /// When the last heartbeat went out, µs (0: one is due at once).
    var lastBeat: UInt64 = 0
    /// Requests waiting for the next micro-batch, in arrival order.
    var pending: [ReceivedRequest] = []
    /// The rows ``pending`` holds (a request whose tensor does not decode counts as one row).
    var pendingRows = 0
    /// RECOMMENDs of this connection handed to the RECOMMEND thread and not answered yet: a drain waits for them
    /// before it leaves (everything the broker sent before its acknowledgement is answered).
    var recommendsOutstanding = 0
    /// Counts this worker's registrations (each READY it sends): a RECOMMEND answered for an earlier one is not sent,
    /// since that broker's request ids may name another client's request now.
    var registration: UInt64 = 0
    /// When the micro-batch being filled must be scored, µs (`nil`: no request waits).
    var batchDeadline: UInt64?
    /// The buffers scoring reuses from batch to batch (sized once per batch shape).
    var scoring = ScoringWorkspace()
    /// The next reconnect delay, ms: it doubles after each silent connection, up to `reconnectMaxMs`.
    var backoffMs: UInt64
    /// Set once the connection ended; later events do nothing until ``WorkerEvent/connected``.
    var exited = false
    /// The heartbeat interval (ms) and liveness the broker's registration named, which replace the worker's own
    /// (``WorkerConfiguration/heartbeatIntervalMs``, ``WorkerConfiguration/liveness``): a worker heartbeating slower
    /// than its broker expects was expired again and again, and one expecting faster heartbeats reconnected.
    var brokerHeartbeat: (intervalMs: UInt64, liveness: UInt64)?

    /// Creates the core for a worker serving `replica`.
    init(configuration: WorkerConfiguration, replica: ModelReplica, host: String, pid: Int32) {
        self.configuration = configuration
        self.replica = replica
        self.host = host
        self.pid = pid
        backoffMs = configuration.reconnectInitialMs
    }

    /// The heartbeat interval, µs. Flags are numbers from a command line or a file: no sum or
    /// product of them may trap.
    /// The broker's, once a registration named it.
    var intervalMicros: UInt64 {
        (brokerHeartbeat?.intervalMs ?? configuration.heartbeatIntervalMs).multipliedSaturating(by: 1000)
    }

    /// How long the broker may stay silent before the worker reconnects (and how long a drain may
    /// wait for its acknowledgement), µs.
    var silenceMicros: UInt64 {
        intervalMicros.multipliedSaturating(by: brokerHeartbeat?.liveness ?? configuration.liveness)
    }

    /// ``wantedWeights`` as the build thread compares builds with it (nil: any).
    var wantedWeightsKey: BackgroundWork.WeightsKey? {
        wantedWeights.map { BackgroundWork.WeightsKey(version: $0.version, sha256: $0.sha256) }
    }

    /// Whether `built` is what the broker last asked for (true before any WEIGHTS notice).
    func wants(_ built: ModelReplica) -> Bool {
        guard let wantedWeights else { return true }
        return built.version == wantedWeights.version && built.checkpointSHA256 == wantedWeights.sha256
    }

    /// Whether the shell should read more messages now: not while the micro-batch is full.
    var acceptsMessages: Bool { pendingRows < configuration.batchMaxRows }

    /// Handles one event.
    /// - Returns: the actions to perform, in order.
    mutating func handle(_ event: WorkerEvent, now: WorkerInstant) -> [WorkerAction] {
        var actions: [WorkerAction] = []
        switch event {
        case .connected:
            // A new connection: what the broker wants is learnt again from its WEIGHTS; until then a build still
            // running from before is judged against the version served now (a rollback missed while away).
            // A seeded model has no checkpoint hash: "" names it, which no built replica has, so a build left from the
            // last connection is dropped (it was swapped in, though the broker it registered with never asked for it).
            wantedWeights = (replica.version, replica.checkpointSHA256 ?? "")
            connect(now: now, into: &actions)
        case .message(let frames, let held, let frameCount):
            guard !exited else { break }
            lastHeard = now.monotonicMicros
            receive(frames, held: held, frameCount: frameCount, now: now, into: &actions)
        case .tick:
            guard !exited else { break }
            tick(now: now, into: &actions)
        case .stopRequested:
            isStopping = true
            guard !exited else { break }
            stepDrain(now: now, into: &actions)
        case .replicaSwapped(let newReplica):
            replica = newReplica
            lastBeat = 0  // report the new version at once
        case .recommendAnswered:
            recommendsOutstanding = max(0, recommendsOutstanding - 1)
        }
        return actions
    }

    /// How long the shell may wait for a message before the next timer is due, ms: a heartbeat, the
    /// end of a micro-batch wait, or the end of a drain.
    func nextWakeDelayMs(now: WorkerInstant) -> Int {
        let clock = now.monotonicMicros
        func until(_ due: UInt64) -> UInt64 { due > clock ? (due - clock) / 1000 : 0 }
        var delay = until(lastBeat.addingSaturating(intervalMicros))
        if let batchDeadline, !pending.isEmpty {
            // Never spin on a wait shorter than a millisecond.
            delay = min(delay, batchDeadline > clock ? max(1, until(batchDeadline)) : 0)
        }
        if let drainStartedAt {
            delay = min(delay, until(drainStartedAt.addingSaturating(silenceMicros)) + 1)
        }
        return Int(clamping: delay)
    }

    // MARK: Registration

    /// This process's ``WorkerHello/instance``, drawn once at its start.
    static let processInstance = UInt64.random(in: 1...UInt64.max)

    /// The READY message: the services, slots, served width and version this worker offers.
    func hello() -> WireMessage {
        let hello = WorkerHello(
            workerId: configuration.workerId,
            services: [Command.score.name, Command.recommend.name, Command.policy.name]
                + (RoundTrainer.canTrain ? [Command.trainRound.name] : []),
            slots: configuration.slots,
            inputWidth: replica.inputWidth, modelVersion: replica.version,
            host: host, pid: pid, modelSha256: replica.checkpointSHA256,
            modelSeed: replica.version == 0 ? replica.seed : nil,
            explorationSeeded: configuration.explorationSeed != nil, instance: Self.processInstance)
        return WireMessage(
            header: Header(command: .ready, modelVersion: replica.version), payload: [WireJSON.encode(hello)])
    }

    /// A new connection: per-connection state starts afresh and READY goes out.
    private mutating func connect(now: WorkerInstant, into actions: inout [WorkerAction]) {
        registered = false
        // The intervals adopted from the broker this worker last registered with are that broker's: until the new
        // registration names its own (an older broker names none), the worker's own flags apply again.
        brokerHeartbeat = nil
        drainStartedAt = nil
        drainAcknowledged = false
        lastHeard = now.monotonicMicros
        lastBeat = now.monotonicMicros
        pending.removeAll()
        pendingRows = 0
        recommendsOutstanding = 0
        registration &+= 1
        batchDeadline = nil
        exited = false
        actions.append(.send(hello().frames(), .required))
        actions.append(
            .log(.info, "registering", ["broker": "\(configuration.broker)", "id": "\(configuration.workerId)"]))
    }

    /// The 32 raw bytes of a hex SHA-256, or `nil` when `hex` is not 64 hex digits.
    static func rawDigest(_ hex: String) -> [UInt8]? {
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    /// Marks the connection over with `exit`.
    mutating func finish(_ exit: WorkerExit, into actions: inout [WorkerAction]) {
        exited = true
        actions.append(.exit(exit))
    }
}
