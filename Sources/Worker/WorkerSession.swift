import Foundation
import Logging
import RecTransport
import RecWire

/// The worker's socket shell: one dedicated thread owns the DEALER socket to the broker, feeds what
/// it reads and the passing time to a ``WorkerCore`` and performs the actions it returns. The core
/// decides registration, heartbeats, reconnects with backoff, the drain and the micro-batches;
/// scoring runs inline on this thread — a forward pass of the served MLP takes microseconds — so a
/// batch is never split across model versions. A RECOMMEND is answered on its own thread: its document
/// may be up to the 16 MiB message limit, whose decoding takes seconds in a debug build, longer than the
/// missed heartbeats that retire a worker.
public final class WorkerSession: Sendable {
    private let configuration: WorkerConfiguration
    private let replica: LockedBox<ModelReplica>
    private let stopRequested = LockedBox(false)
    private let wakeup = WakeupSignal()
    private let context: ZMQContext
    private let logger: Logger
    private let background: BackgroundWork
    private let online: OnlineLearning
    private let sampler: LockedBox<PolicySampler>
    /// The newest catalogue version a CATALOGUE message sent this worker that the online thread has not answered yet
    /// (0: none): installing. Its CATALOGUE_STATE (installed, held or refused) ends it.
    private let installingCatalogue = LockedBox<UInt64>(0)
    private let metrics = WorkerMetrics()
    /// A replica handed to ``swap(to:)`` that the session thread has not yet given to its core.
    private let incomingReplica = LockedBox<ModelReplica?>(nil)
    /// Answers RECOMMENDs off the session thread, in arrival order; each answer names the registration it is for.
    private let recommendThread: MailboxThread<RecommendTask, RecommendTask>

    /// A RECOMMEND for the RECOMMEND thread, then its reply: the message and the core's registration it arrived under
    /// (``WorkerCore/registration``). An answer for an earlier registration is not sent: that broker has given up on
    /// the request, and a broker restarted since (on a new connection, or the same socket reconnected) numbers its
    /// requests afresh, so the id may name another client's request.
    private struct RecommendTask: Sendable {
        var message: WireMessage
        var registration: UInt64
        /// When the request was handed to the RECOMMEND thread (monotonic µs): its wait there is the reply's
        /// `worker_queue_us`, as a SCORE's wait for its micro-batch is (it was always 0).
        var postedAtMicros: UInt64 = 0
    }

    /// Creates a session that serves `replica`.
    /// - Parameter context: the ZeroMQ context its DEALER lives in: its own by default; the broker's lets it
    ///   connect to an `inproc://` backend in the same process (the test kit's in-process pool).
    public init(
        configuration: WorkerConfiguration, replica: ModelReplica, logger: Logger, context: ZMQContext = ZMQContext()
    ) {
        self.context = context
        self.configuration = configuration
        self.replica = LockedBox(replica)
        self.logger = logger
        background = BackgroundWork(sessionWakeup: wakeup, logger: logger, metrics: metrics)
        var sampler =
            configuration.explorationSeed.map { PolicySampler(seed: $0, prefix: UInt64.random(in: .min ... .max)) }
            ?? PolicySampler(workerId: configuration.workerId)
        online = OnlineLearning(sessionWakeup: wakeup, seed: sampler.rng.next(), logger: logger, metrics: metrics)
        self.sampler = LockedBox(sampler)
        recommendThread = MailboxThread(name: "worker-recommend", ownerWakeup: wakeup)
        metrics.modelVersion.record(Int64(bitPattern: replica.version))
    }

    /// The version this worker serves now.
    public var servedVersion: UInt64 { replica.withLock { $0.version } }

    /// Asks the session to leave the broker and stop. Safe from any thread.
    public func stop() {
        stopRequested.withLock { $0 = true }
        background.stop()
        online.stop()
        wakeup.signal()
    }

    /// Replaces the served model; the next batch uses it. Safe from any thread.
    public func swap(to newReplica: ModelReplica) {
        replica.withLock { $0 = newReplica }
        incomingReplica.withLock { $0 = newReplica }
        wakeup.signal()
    }

    private var shouldStop: Bool { stopRequested.withLock { $0 } }

    /// Why a session ended other than by ``stop()``.
    public enum SessionError: Error, CustomStringConvertible {
        /// The socket failed.
        case socket(ZMQError)
        /// The peer at `endpoint` answered READY with an error reply (`answer`), as a broker's client endpoint does:
        /// `--broker` names no worker endpoint (a configuration error; retrying cannot help).
        case notABackend(endpoint: String, answer: String)

        public var description: String {
            switch self {
            case .socket(let error): "\(error)"
            case .notABackend(let endpoint, let answer):
                "\(endpoint) answered this worker's READY with \(answer): it is a broker's client endpoint (its "
                    + "--frontend), not its worker endpoint; --broker must name the broker's --backend"
            }
        }
    }

    /// Runs until ``stop()`` (or, with `exitWithParent`, until the parent dies). Call on a dedicated thread.
    public func run() -> Result<Void, SessionError> {
        incomingReplica.withLock { $0 = nil }
        // The RECOMMEND thread lives as long as the session runs: a drain after ``stop()`` still answers what it holds.
        recommendThread.start { [self] task in
            RecommendTask(
                message: answerRecommend(
                    task.message, queuedMicros: Clocks.monotonicMicros() &- task.postedAtMicros),
                registration: task.registration)
        }
        defer { recommendThread.stop() }
        var core = WorkerCore(
            configuration: configuration, replica: replica.withLock { $0 },
            host: ProcessInfo.processInfo.hostName, pid: getpid())
        let parent = getppid()
        while !shouldStop {
            let exit: WorkerExit
            do {
                exit = try connectAndServe(&core, parent: parent)
            } catch {
                if error.isTerminated { return .success(()) }
                logger.error("worker socket failed", metadata: ["error": "\(error)"])
                return .failure(.socket(error))
            }
            switch exit {
            case .stopped:
                return .success(())
            case .notABackend(let answer):
                return .failure(.notABackend(endpoint: configuration.broker, answer: answer))
            case .reconnect(let afterMs):
                if waitInterruptibly(milliseconds: afterMs) {
                    // Stopped between connections (the broker gone): no acknowledgement can come, and the log says
                    // so as a drain that ended without one does. It said nothing: its last line was "broker silent;
                    // reconnecting", as if the worker were still waiting for its broker.
                    logger.info("left the broker", metadata: ["drained": "false"])
                    return .success(())
                }
            }
        }
        return .success(())
    }

    /// Sleeps up to `milliseconds`, returning `true` early if asked to stop.
    private func waitInterruptibly(milliseconds: UInt64) -> Bool {
        var poller = ZMQPoller([PollItem(fileDescriptor: wakeup.fileDescriptor)])
        _ = try? poller.poll(timeoutMilliseconds: Int(clamping: milliseconds))
        wakeup.drain()
        return shouldStop
    }

    /// The 32 raw bytes of a hex SHA-256, or `nil` when `hex` is not 64 hex digits.
    static func rawDigest(_ hex: String) -> [UInt8]? { WorkerCore.rawDigest(hex) }

    /// One connection: connects, registers and serves until the core says the connection is over.
    private func connectAndServe(_ core: inout WorkerCore, parent: pid_t) throws(ZMQError) -> WorkerExit {
        let socket = try ZMQSocket(context, type: .dealer)
        defer { socket.close() }
        try socket.set(.sendHighWaterMark(100_000))
        try socket.set(.receiveHighWaterMark(100_000))
        try socket.set(.maxMessageSize(Int64(configuration.limits.maxMessageBytes)))
        for option in configuration.socketOptions { try socket.set(option) }
        // A refused CURVE handshake leaves a worker in silence: say why when the broker seems silent.
        let handshakes = try HandshakeWatch(socket, context: context)
        try socket.connect(configuration.broker)
        let shell = Shell(session: self, socket: socket, handshakes: handshakes, parent: parent)
        if let exit = try shell.perform(core.handle(.connected, now: .now)) { return exit }
        background.want(core.wantedWeightsKey)
        // What the background threads finished while the session waited to reconnect: that wait drained the wake-up
        // they signalled, so nothing else would apply it (a ROUND_RESULT held back until an unrelated message).
        try applyBackgroundOutcomes(&core, socket: socket)

        var wantedSent = core.wantedWeightsKey
        var poller = ZMQPoller([PollItem(socket: socket), PollItem(fileDescriptor: wakeup.fileDescriptor)])
        while true {
            if shouldStop && !core.isStopping {
                if let exit = try shell.perform(core.handle(.stopRequested, now: .now)) { return exit }
            }
            try poller.poll(timeoutMilliseconds: core.nextWakeDelayMs(now: .now))
            if poller.isReadable(1) {
                wakeup.drain()
                try applyBackgroundOutcomes(&core, socket: socket)
            }
            while core.acceptsMessages, let message = try Self.receive(socket) {
                let event = WorkerEvent.message(message.frames, held: message.held, frameCount: message.frameCount)
                if let exit = try shell.perform(core.handle(event, now: .now)) {
                    return exit
                }
                // A WEIGHTS or a new registration changes what the broker wants: a queued build of anything else is
                // skipped (one lock, only when it changed).
                if core.wantedWeightsKey != wantedSent {
                    wantedSent = core.wantedWeightsKey
                    background.want(wantedSent)
                }
            }
            if let exit = try shell.perform(core.handle(.tick, now: .now)) { return exit }
        }
    }

    /// Receives one waiting message, or `nil`: a SCORE's tensor frame stays inside libzmq, uncopied
    /// (``ZMQMessage/held``), and is read in place; every other message is copied out as bytes.
    private static func receive(_ socket: ZMQSocket) throws(ZMQError) -> ZMQMessage? {
        try socket.receive(dontWait: true, peekFrames: 1) { leading in
            Header.salvageCommand(leading.frames[0]) == .score ? .hold : .copy
        }
    }

    /// Performs a core's actions on one connection's socket.
    private struct Shell {
        let session: WorkerSession
        let socket: ZMQSocket
        let handshakes: HandshakeWatch
        let parent: pid_t

        /// Performs `actions` in order.
        /// - Returns: how the connection ended, when an action ended it.
        /// - Throws: the socket's error for a failed ``SendMode/required`` or ``SendMode/ifRoom`` send.
        func perform(_ actions: [WorkerAction]) throws(ZMQError) -> WorkerExit? {
            for action in actions {
                switch action {
                case .send(let frames, let mode):
                    switch mode {
                    case .required: try socket.send(frames)
                    case .bestEffort: _ = try? socket.send(frames)
                    case .ifRoom: try socket.send(frames, dontWait: true)
                    case .ifRoomBestEffort: _ = try? socket.send(frames, dontWait: true)
                    }
                case .background(let task):
                    session.background.submit(task)
                case .online(let task):
                    if case .received(let notice, _) = task {
                        session.installingCatalogue.withLock { $0 = max($0, notice.version) }
                    }
                    session.online.submit(task)
                case .recommend(let message, let registration):
                    session.recommendThread.post(
                        RecommendTask(
                            message: message, registration: registration, postedAtMicros: Clocks.monotonicMicros()))
                case .batchScored(let rows, let scoredRows, let computeMicros):
                    session.metrics.batches.increment()
                    session.metrics.rows.increment(by: Int64(scoredRows))
                    session.metrics.batchRows.record(rows)
                    if let computeMicros { session.metrics.compute.recordMicroseconds(Int64(computeMicros)) }
                case .countErrorReply:
                    session.metrics.errors.increment()
                case .log(let level, let message, let metadata):
                    session.logger.log(level: level, "\(message)", metadata: metadata)
                case .stopWorker:
                    session.stop()
                case .checkParent:
                    if getppid() != parent {
                        session.logger.warning("parent process gone; stopping")
                        session.stop()
                    }
                case .exit(let exit):
                    if case .reconnect = exit { session.logHandshakeFailures(handshakes) }
                    return exit
                }
            }
            return nil
        }
    }

    /// Answers a RECOMMEND request with the served online policy, or with the replica's recommender
    /// when no policy is installed.
    private func answerRecommend(_ message: WireMessage, queuedMicros: UInt64) -> WireMessage {
        var reply: WireMessage
        if let served = online.snapshot.current {
            let modelVersion = replica.withLock { $0.version }
            reply = sampler.withLock { sampler in
                PolicyRecommendHandler.answer(
                    message, served: served, modelVersion: modelVersion, sampler: &sampler,
                    nowEpochMillis: Clocks.epochMillis(), installingCatalogue: installingCatalogue.withLock { $0 },
                    onTruncatedRetrieval: { metrics.retrievalTruncated.increment() })
            }
            // A slate served, not a request answered: error replies are not recommendations.
            if reply.header.status == .ok { metrics.policyRecommendations.increment() }
        } else {
            reply = RecommendHandler.answer(
                message, replica: replica.withLock { $0 }, nowEpochMillis: Clocks.epochMillis())
        }
        if reply.header.status == .ok { reply.header.workerQueueMicros = UInt32(clamping: queuedMicros) }
        if reply.header.status != .ok {
            metrics.errors.increment()
            logger.debug(
                "request answered with an error",
                metadata: ["request_id": "\(message.header.requestId)", "status": "\(reply.header.status)"])
        }
        return reply
    }

    /// Logs, at `error`, handshakes the broker refused since the last connection attempt: with CURVE,
    /// this worker's key is not on the broker's workers allow-list (or was revoked), or
    /// `--curve-server-key` is not the broker's key.
    private func logHandshakeFailures(_ watch: HandshakeWatch) {
        let failures = watch.failures()
        guard let last = failures.last else { return }
        logger.error(
            "cannot register: \(Self.handshakeCause(event: last.event, value: last.value))",
            metadata: ["broker": "\(configuration.broker)", "failures": "\(failures.count)"])
    }

    /// What a failed handshake with the broker means and the usual fix, from the monitor's event and value (ZAP's
    /// status for a refusal, a `ZMQ_PROTOCOL_ERROR_*` code, or an errno; `zmq_socket_monitor(3)`): a mechanism
    /// mismatch was logged as "handshake failed" with status 285212674 and advice about keys a plaintext worker
    /// does not have.
    static func handshakeCause(event: ZMQMonitorEvents, value: UInt32) -> String {
        if event == .handshakeFailedAuth {
            return "the broker refused this worker's CURVE key (ZAP status \(value)): is its public key on the broker's "
                + "workers allow-list, and is --broker the broker's worker (backend) endpoint, not its client (frontend) "
                + "one? (the broker re-reads the lists on SIGHUP)"
        }
        if event == .handshakeFailedProtocol {
            switch value {
            case ZMQMonitorEvent.mechanismMismatch:
                return "only one side uses CURVE: give the worker --curve-server-key and --curve-key exactly when the "
                    + "broker has --curve-key"
            case ZMQMonitorEvent.cryptographic:
                return "a CURVE message did not open: is --curve-server-key the broker's public key?"
            default:
                return "the handshake broke the ZMTP protocol (error 0x\(String(value, radix: 16)))"
            }
        }
        return "the broker closed the connection during the handshake (errno \(value)): is --curve-server-key the "
            + "broker's public key, or does the broker need CURVE keys this worker was not given?"
    }

    /// Applies finished background work between batches: swaps replicas, sends round results and
    /// POLICY_STATE reports.
    private func applyBackgroundOutcomes(_ core: inout WorkerCore, socket: ZMQSocket) throws(ZMQError) {
        if let swapped = incomingReplica.withLock({ box in
            defer { box = nil }; return box
        }) {
            _ = core.handle(.replicaSwapped(swapped), now: .now)
        }
        for outcome in background.drain() {
            switch outcome {
            case .swap(let newReplica, let receivedAt):
                guard core.wants(newReplica) else {
                    logger.info(
                        "dropped a model version built for a rollout the broker has since replaced",
                        metadata: ["model_version": "\(newReplica.version)", "serving": "\(core.replica.version)"])
                    continue
                }
                replica.withLock { $0 = newReplica }
                _ = core.handle(.replicaSwapped(newReplica), now: .now)
                metrics.modelVersion.record(Int64(bitPattern: newReplica.version))
                metrics.weightSync.recordMicroseconds(Int64(Clocks.monotonicMicros() &- receivedAt))
            case .send(let frames):
                try socket.send(frames)
            }
        }
        for answer in recommendThread.drain() where answer.registration == core.registration {
            _ = core.handle(.recommendAnswered, now: .now)
            // Best effort, as every single request's reply: a reply the socket cannot take is the broker's to expire.
            _ = try? socket.send(answer.message.frames())
        }
        for frames in online.drain() {
            if frames.count >= 2, (try? Header(decoding: frames[0]))?.command == .catalogueState,
                let report = try? WireJSON.decode(CatalogueState.self, from: frames[1])
            {
                installingCatalogue.withLock { if report.version >= $0 { $0 = 0 } }
            }
            try socket.send(frames)
        }
    }
}
