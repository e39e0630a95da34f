import Foundation
import Logging
import Shared

/// The worker's reactor: one dedicated thread owns the DEALER socket to the broker. It registers,
/// heartbeats, reconnects with backoff when the broker goes silent, and answers requests in
/// micro-batches. Scoring runs inline on this thread — a forward pass of the served MLP takes
/// microseconds — so a batch is never split across model versions.
public final class WorkerSession: Sendable {
    private let configuration: WorkerConfiguration
    private let replica: LockedBox<ModelReplica>
    private let stopRequested = LockedBox(false)
    private let wakeup = WakeupSignal()
    private let context = ZMQContext()
    private let logger: Logger
    private let background: BackgroundWork
    private let online: OnlineLearning
    private let sampler: LockedBox<PolicySampler>
    private let metrics = WorkerMetrics()

    /// Creates a session that serves `replica`.
    public init(configuration: WorkerConfiguration, replica: ModelReplica, logger: Logger) {
        self.configuration = configuration
        self.replica = LockedBox(replica)
        self.logger = logger
        background = BackgroundWork(sessionWakeup: wakeup, logger: logger, metrics: metrics)
        var sampler = PolicySampler(workerId: configuration.workerId)
        online = OnlineLearning(sessionWakeup: wakeup, seed: sampler.rng.next(), logger: logger, metrics: metrics)
        self.sampler = LockedBox(sampler)
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
    }

    private var shouldStop: Bool { stopRequested.withLock { $0 } }

    /// Runs until ``stop()`` (or, with `exitWithParent`, until the parent dies). Call on a dedicated thread.
    public func run() -> Result<Void, ZMQError> {
        var backoffMs = configuration.reconnectInitialMs
        let parent = getppid()
        while !shouldStop {
            let outcome: SessionOutcome
            do {
                outcome = try connectAndServe(parent: parent)
            } catch {
                if error.isTerminated { return .success(()) }
                logger.error("worker socket failed", metadata: ["error": "\(error)"])
                return .failure(error)
            }
            switch outcome {
            case .stopped:
                return .success(())
            case .brokerSilent(let wasRegistered):
                if wasRegistered { backoffMs = configuration.reconnectInitialMs }
                logger.warning("broker silent; reconnecting", metadata: ["backoff_ms": "\(backoffMs)"])
                if waitInterruptibly(milliseconds: backoffMs) { return .success(()) }
                backoffMs = min(backoffMs.multipliedSaturating(by: 2), configuration.reconnectMaxMs)
            }
        }
        return .success(())
    }

    private enum SessionOutcome {
        case stopped
        case brokerSilent(wasRegistered: Bool)
    }

    /// Sleeps up to `milliseconds`, returning `true` early if asked to stop.
    private func waitInterruptibly(milliseconds: UInt64) -> Bool {
        var poller = ZMQPoller([PollItem(fileDescriptor: wakeup.fileDescriptor)])
        _ = try? poller.poll(timeoutMilliseconds: Int(clamping: milliseconds))
        wakeup.drain()
        return shouldStop
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

    private func hello(_ replica: ModelReplica) -> WireMessage {
        let hello = WorkerHello(
            workerId: configuration.workerId,
            services: [Command.score.name, Command.recommend.name, Command.policy.name]
                + (RoundTrainer.canTrain ? [Command.trainRound.name] : []),
            slots: configuration.slots,
            inputWidth: replica.inputWidth, modelVersion: replica.version,
            host: ProcessInfo.processInfo.hostName, pid: getpid(), modelSha256: replica.checkpointSHA256)
        return WireMessage(
            header: Header(command: .ready, modelVersion: replica.version), payload: [WireJSON.encode(hello)])
    }

    private func connectAndServe(parent: pid_t) throws(ZMQError) -> SessionOutcome {
        let socket = try ZMQSocket(context, type: .dealer)
        defer { socket.close() }
        try socket.set(.sendHighWaterMark(100_000))
        try socket.set(.receiveHighWaterMark(100_000))
        try socket.set(.maxMessageSize(Int64(configuration.limits.maxMessageBytes)))
        for option in configuration.socketOptions { try socket.set(option) }
        // A refused CURVE handshake leaves a worker in silence: say why when the broker seems silent.
        let handshakes = try HandshakeWatch(
            socket, context: context, endpoint: "inproc://worker-handshakes-\(Self.nextWatch())")
        try socket.connect(configuration.broker)
        try socket.send(hello(replica.withLock { $0 }).frames())
        logger.info("registering", metadata: ["broker": "\(configuration.broker)", "id": "\(configuration.workerId)"])

        // Flags are numbers from a command line or a file: no sum or product of them may trap.
        let interval = configuration.heartbeatIntervalMs.multipliedSaturating(by: 1000)
        let silence = interval.multipliedSaturating(by: configuration.liveness)
        var lastHeard = Clocks.monotonicMicros()
        var lastBeat = lastHeard
        var registered = false
        var poller = ZMQPoller([PollItem(socket: socket), PollItem(fileDescriptor: wakeup.fileDescriptor)])
        var pending: [ReceivedRequest] = []
        var pendingRows = 0
        var drainStartedAt: UInt64? = nil
        var drainAcknowledged = false

        while true {
            if shouldStop {
                // Graceful drain: tell the broker to send nothing more, answer everything it sent
                // before its acknowledgement (a connection delivers in order), then deregister.
                let now = Clocks.monotonicMicros()
                if registered && drainStartedAt == nil {
                    drainStartedAt = now
                    logger.info("draining")
                    _ = try? socket.send(
                        WireMessage(
                            header: Header(command: .heartbeat, flags: .drain),
                            payload: [WorkerLoad(slots: 0, queued: 0).encoded()]
                        ).frames(), dontWait: true)
                }
                if !registered || drainAcknowledged || now > (drainStartedAt ?? now).addingSaturating(silence) {
                    _ = try? socket.send([Header(command: .disconnect).encoded()], dontWait: true)
                    logger.info("left the broker", metadata: ["drained": "\(drainAcknowledged)"])
                    return .stopped
                }
            }
            let now = Clocks.monotonicMicros()
            let beatDue = lastBeat.addingSaturating(interval)
            let untilBeat = beatDue > now ? (beatDue - now) / 1000 : 0
            try poller.poll(timeoutMilliseconds: Int(clamping: untilBeat))
            if poller.isReadable(1) {
                wakeup.drain()
                if try applyBackgroundOutcomes(socket: socket) { lastBeat = 0 }  // report a new version at once
            }

            // Drain what is queued, then optionally wait a little to fill the batch.
            var batchDeadline: UInt64? = nil
            while true {
                while pendingRows < configuration.batchMaxRows, let message = try socket.receive(dontWait: true) {
                    lastHeard = Clocks.monotonicMicros()
                    switch handleControl(
                        message.frames, socket: socket, registered: &registered, drained: &drainAcknowledged)
                    {
                    case .request(let request):
                        pendingRows += request.rows
                        pending.append(ReceivedRequest(message: request.message, receivedAtMicros: lastHeard))
                    case .handled:
                        break
                    }
                }
                guard configuration.batchWaitMicros > 0, !pending.isEmpty, pendingRows < configuration.batchMaxRows
                else {
                    break
                }
                let deadline = batchDeadline ?? Clocks.monotonicMicros().addingSaturating(configuration.batchWaitMicros)
                batchDeadline = deadline
                let now = Clocks.monotonicMicros()
                guard now < deadline else { break }
                try poller.poll(timeoutMilliseconds: Int(clamping: max(1, (deadline - now) / 1000)))
            }
            if !pending.isEmpty {
                let current = replica.withLock { $0 }
                let outcome = ScoringBatch.answer(
                    pending, replica: current, limits: configuration.limits, nowEpochMillis: Clocks.epochMillis())
                let replies = outcome.replies
                // Rows scored are rows computed: an invalid or expired request's rows are not.
                if outcome.rowsScored > 0 {
                    metrics.batches.increment()
                    metrics.rows.increment(by: Int64(outcome.rowsScored))
                    metrics.batchRows.record(outcome.rowsScored)
                }
                if let compute = replies.first(where: { $0.header.status == .ok })?.header.computeMicros {
                    metrics.compute.recordMicroseconds(Int64(compute))
                }
                for reply in replies {
                    if reply.header.status != .ok {
                        metrics.errors.increment()
                        logger.debug(
                            "request answered with an error",
                            metadata: [
                                "request_id": "\(reply.header.requestId)", "status": "\(reply.header.status)",
                                "error": "\(reply.errorText ?? "")",
                            ])
                    }
                    try socket.send(reply.frames())
                }
                pending.removeAll(keepingCapacity: true)
                pendingRows = 0
            }

            let after = Clocks.monotonicMicros()
            if after >= lastBeat.addingSaturating(interval) {
                lastBeat = after
                let current = replica.withLock { $0 }
                let load = WorkerLoad(
                    slots: UInt32(configuration.slots), queued: 0, inputWidth: UInt32(clamping: current.inputWidth),
                    modelSHA256: current.checkpointSHA256.flatMap(Self.rawDigest))
                try socket.send(
                    WireMessage(
                        header: Header(command: .heartbeat, modelVersion: current.version), payload: [load.encoded()]
                    ).frames(),
                    dontWait: true)
                if configuration.exitWithParent && getppid() != parent {
                    logger.warning("parent process gone; stopping")
                    stop()
                }
            }
            if after > lastHeard.addingSaturating(silence) {
                logHandshakeFailures(handshakes)
                return .brokerSilent(wasRegistered: registered)
            }
        }
    }

    private static let watches = LockedBox(0)
    /// A fresh number for a monitor's `inproc://` name (one per connection attempt).
    private static func nextWatch() -> Int { watches.withLock { $0 += 1; return $0 } }

    /// Logs, at `error`, handshakes the broker refused since the last connection attempt: with CURVE,
    /// this worker's key is not on the broker's workers allow-list (or was revoked), or
    /// `--curve-server-key` is not the broker's key.
    private func logHandshakeFailures(_ watch: HandshakeWatch) {
        let failures = watch.failures()
        guard let last = failures.last else { return }
        let kind = last.event == .handshakeFailedAuth ? "the broker refused this worker's key" : "handshake failed"
        logger.error(
            "cannot register: \(kind) (is its public key on the broker's workers allow-list, and is --curve-server-key the broker's?)",
            metadata: ["broker": "\(configuration.broker)", "failures": "\(failures.count)", "status": "\(last.value)"])
    }

    /// Applies finished background work between batches: swaps replicas, sends round results and
    /// POLICY_STATE reports.
    /// - Returns: whether the served version changed.
    private func applyBackgroundOutcomes(socket: ZMQSocket) throws(ZMQError) -> Bool {
        var swapped = false
        for outcome in background.drain() {
            switch outcome {
            case .swap(let newReplica, let receivedAt):
                replica.withLock { $0 = newReplica }
                metrics.modelVersion.record(Int64(bitPattern: newReplica.version))
                metrics.weightSync.recordMicroseconds(Int64(Clocks.monotonicMicros() &- receivedAt))
                swapped = true
            case .send(let frames):
                try socket.send(frames)
            }
        }
        for frames in online.drain() {
            try socket.send(frames)
        }
        return swapped
    }

    private enum Inbound {
        case request((message: WireMessage, rows: Int))
        case handled
    }

    /// Handles broker control messages; returns scoring requests for the batch.
    private func handleControl(
        _ frames: [[UInt8]], socket: ZMQSocket, registered: inout Bool, drained: inout Bool
    ) -> Inbound {
        let message: WireMessage
        do {
            message = try WireMessage(decoding: frames, limits: configuration.limits)
        } catch {
            logger.warning("malformed message from broker", metadata: ["error": "\(error)"])
            if let id = frames.first.flatMap(Header.salvageRequestId),
                let command = frames.first.flatMap(Header.salvageCommand), command.isWorkerService
            {
                // Even a request whose header does not decode gets its attempt echoed, when it has one.
                let attempt = Header.salvageAttempt(frames[0]) ?? 0
                let reply = WireMessage.errorReply(
                    to: Header(command: command, requestId: id, attempt: attempt), status: error.status,
                    message: error.description)
                try? socket.send(reply.frames())
            }
            return .handled
        }
        let header = message.header
        switch header.command {
        case .heartbeat:
            if !registered, let frame = message.payload.first,
                let registration = try? WireJSON.decode(WorkerRegistration.self, from: frame)
            {
                if let requested = registration.requestedId {
                    logger.warning(
                        "another live worker has this id; the broker registered this one under another",
                        metadata: ["id": "\(requested)", "registered_as": "\(registration.workerId)"])
                }
                if let promoted = registration.waitingForVersion {
                    logger.warning(
                        """
                        this worker serves no registered model while one is promoted: \
                        it takes no work until WEIGHTS bring it
                        """,
                        metadata: ["model_version": "\(promoted)"])
                }
            }
            registered = true
            if header.flags.contains(.drain) {
                // The broker will send nothing more: either it answers our drain, or it orders one
                // (`recpool drain`). Everything it sent before this is already read.
                drained = true
                if !shouldStop { logger.info("the broker asked us to drain") }
                stop()
            }
            return .handled
        case .disconnect:
            // The broker does not know us (it restarted, or declared us dead): register again.
            logger.info("broker asked us to register again")
            registered = false
            try? socket.send(hello(replica.withLock { $0 }).frames())
            return .handled
        case .weights where !header.isReply:
            guard message.payload.count >= 2,
                let notice = try? WireJSON.decode(WeightsNotice.self, from: message.payload[0])
            else {
                logger.error("malformed WEIGHTS message ignored")
                return .handled
            }
            // A new number, or other weights under the same number (a claim the registry did not confirm).
            let served = replica.withLock { ($0.version, $0.checkpointSHA256) }
            if notice.version != served.0 || notice.sha256 != served.1 {
                background.submit(.weights(notice: notice, bytes: message.payload[1], receivedAt: Clocks.monotonicMicros()))
            }
            return .handled
        case .trainRound where !header.isReply:
            guard message.payload.count >= 2,
                let assignment = try? WireJSON.decode(RoundAssignment.self, from: message.payload[0])
            else {
                logger.error("malformed TRAIN_ROUND message ignored")
                return .handled
            }
            let dataset = assignment.datasetIncluded && message.payload.count >= 3 ? message.payload[2] : nil
            background.submit(.round(assignment: assignment, state: message.payload[1], dataset: dataset))
            return .handled
        case .policy where !header.isReply:
            online.submit(.install(message.payload))
            return .handled
        case .learn where !header.isReply:
            guard let batch = message.payload.first else {
                logger.error("malformed LEARN message ignored")
                return .handled
            }
            online.submit(.learn(batch))
            return .handled
        case .policyPull where !header.isReply:
            online.submit(.pull(sync: header.requestId))
            return .handled
        case .recommend where !header.isReply:
            let reply: WireMessage
            if let served = online.snapshot.current {
                reply = sampler.withLock { sampler in
                    PolicyRecommendHandler.answer(
                        message, served: served, sampler: &sampler, nowEpochMillis: Clocks.epochMillis())
                }
                // A slate served, not a request answered: error replies are not recommendations.
                if reply.header.status == .ok { metrics.policyRecommendations.increment() }
            } else {
                reply = RecommendHandler.answer(
                    message, replica: replica.withLock { $0 }, nowEpochMillis: Clocks.epochMillis())
            }
            if reply.header.status != .ok {
                metrics.errors.increment()
                logger.debug(
                    "request answered with an error",
                    metadata: ["request_id": "\(header.requestId)", "status": "\(reply.header.status)"])
            }
            try? socket.send(reply.frames())
            return .handled
        case .score where !header.isReply:
            // Count rows for the batch bound; invalid frames are answered in the batch itself.
            let rows = message.payload.first.flatMap { try? Tensor.validate($0, requireFinite: false).rows } ?? 1
            return .request((message, rows))
        default:
            if header.command.isWorkerService && !header.isReply {
                let reply = WireMessage.errorReply(
                    to: header, status: .badRequest, message: "this worker does not serve \(header.command.name)")
                metrics.errors.increment()
                logger.debug(
                    "request for a service this worker does not offer",
                    metadata: ["request_id": "\(header.requestId)", "command": "\(header.command.name)"])
                try? socket.send(reply.frames())
            } else {
                logger.debug("ignored message", metadata: ["command": "\(header.command.name)"])
            }
            return .handled
        }
    }
}
