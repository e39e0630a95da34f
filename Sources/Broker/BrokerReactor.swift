import Foundation
import BrokerCore
import Logging
import RecStore
import RecTransport
import RecWire

#if canImport(Glibc)
    import Glibc
#endif

/// The imperative shell around ``BrokerCore``: one dedicated thread owns both ROUTER sockets,
/// polls them with a timeout equal to the next timer, feeds every message to the core and performs
/// the actions it returns. All routing state lives on that thread, so the hot path takes no locks.
public final class BrokerReactor: Sendable {
    /// Endpoints to bind and tunables.
    public struct Settings: Sendable {
        /// The client-facing ROUTER endpoint.
        public var frontend: String
        /// The worker-facing ROUTER endpoint.
        public var backend: String
        /// The core's configuration.
        public var configuration: BrokerConfiguration
        /// Stop when the parent process exits (used by `recpool local`).
        public var exitWithParent = false
        /// Where durable state lives (jobs, models, datasets). Without it, CONTROL requests are refused.
        public var stateDirectory: String?
        /// CurveZMQ keys and allow-lists. With them both sockets are CURVE servers behind a ZAP
        /// handler and roles are enforced per message; without them traffic is plaintext.
        public var security: BrokerSecurity?
        /// On ``BrokerReactor/stop()``, how long to keep serving what is already queued or in
        /// flight (new requests get BUSY) before answering the rest BUSY and exiting, in ms.
        public var drainTimeoutMs: UInt64 = 5000
        /// Online learning settings; nil runs none (FEEDBACK is refused). Needs ``stateDirectory``.
        public var online: OnlineSettings?
        /// How long a catalogue `upload`, `add` or `retire` waits for every serving worker to confirm the new version
        /// before it is acknowledged with `confirmed: false`, in ms (`--catalogue-confirm-timeout-ms`).
        public var catalogueConfirmTimeoutMs: UInt64 = 10_000
        /// The bytes of requests that may wait for the control plane before a client's CONTROL, FEEDBACK or held
        /// policy slate is answered BUSY (`--control-inbox-bytes`).
        public var controlInboxBytes: Int = ControlPlane.defaultInboxBytesLimit

        /// Creates settings.
        public init(frontend: String, backend: String, configuration: BrokerConfiguration = BrokerConfiguration()) {
            self.frontend = frontend
            self.backend = backend
            self.configuration = configuration
        }
    }

    private let settings: Settings
    private let context: ZMQContext
    private let wakeup = WakeupSignal()
    private let stopRequested = LockedBox(false)
    private let logger: Logger
    /// The running ZAP handler, so the allow-lists can be replaced while the broker runs.
    private let zapHandler = LockedBox<ZAPHandler?>(nil)
    /// The allow-lists in force and a generation that a reload bumps; the reactor re-reads them only when the
    /// generation changed, so checking each message's key costs a set lookup.
    private let allowLists = LockedBox<(generation: Int, security: BrokerSecurity?)>((0, nil))
    private let monitor: ConnectionMonitor

    /// Creates a reactor; nothing is bound until ``run(onBound:)``.
    /// - Parameter context: the ZeroMQ context its sockets live in: its own by default; a shared one lets
    ///   `inproc://` endpoints reach workers and clients of the same process (the test kit's in-process pool).
    public init(settings: Settings, logger: Logger, context: ZMQContext = ZMQContext()) {
        self.context = context
        self.settings = settings
        self.logger = logger
        monitor = ConnectionMonitor(context: context, logger: logger)
    }

    /// Replaces the allow-lists of a running CURVE broker (on SIGHUP). Handshakes from now on are
    /// judged by the new lists, and so is every message from then on: a connected peer whose key the
    /// new lists no longer admit is refused per message (UNAUTHORIZED to a client, ignored from a
    /// worker, which then expires), and one moved to another role has that role at once.
    /// - Returns: how many distinct peers admitted earlier the new lists no longer allow, or `nil`
    ///   when the broker runs without CURVE (or has not started).
    public func replaceAllowLists(_ lists: AllowLists) -> Int? {
        guard let handler = zapHandler.withLock({ $0 }) else { return nil }
        // The reactor's lists first, then the ZAP handler's: a handshake the new lists admit completes only after
        // the reactor can see them, so its first message is never judged by the lists it replaced.
        allowLists.withLock { state in
            state.security?.clients = lists.clients
            state.security?.trainers = lists.trainers
            state.security?.workers = lists.workers
            state.generation += 1
        }
        return handler.replaceAllowLists(lists)
    }

    /// Asks the running reactor to stop gracefully: new requests are refused with BUSY, what is held
    /// is answered within ``Settings/drainTimeoutMs``, then the loop ends. Safe from any thread.
    public func stop() {
        stopRequested.withLock { $0 = true }
        wakeup.signal()
    }

    /// Binds, then runs the loop on the calling thread until ``stop()``. Call it on a dedicated thread.
    /// - Parameter onBound: called once, on this thread, with the bound endpoints or the bind error.
    public func run(onBound: (Result<BrokerEndpoints, BrokerError>) -> Void) -> Result<Void, BrokerError> {
        var control: ControlPlane? = nil
        // A state directory this run creates is removed again if the broker never binds (an endpoint in use, a
        // CURVE or store failure): a failed start leaves nothing behind, and no request was ever acknowledged.
        // Declared first, so it runs last, after the control thread has stopped.
        let created = settings.stateDirectory.map(StateDirectoryCreation.init(stateDirectory:))
        var bound = false
        // Signalled when the control thread's loop has returned, so the directory is removed only once nothing
        // writes into it any more.
        let controlFinished = DispatchSemaphore(value: 0)
        var controlStarted = false
        defer {
            // Whatever ended the run, it returns only once the control thread has stopped writing: a start that
            // bound and then failed for another reason (the metrics address in use) has its caller remove the state
            // directory, which the control thread, still closing the store, wrote into again under load.
            if controlStarted { _ = controlFinished.wait(timeout: .now() + .seconds(10)) }
            if let created, !bound { created.undo() }
        }
        if let directory = settings.stateDirectory {
            do {
                let store = try RecStore(directory: directory)
                control = ControlPlane(
                    store: store, reactorWakeup: wakeup, logger: logger, online: settings.online,
                    catalogueConfirmTimeoutMs: settings.catalogueConfirmTimeoutMs,
                    inboxBytesLimit: settings.controlInboxBytes)
            } catch {
                onBound(.failure(.store(error)))
                return .failure(.store(error))
            }
        }
        if let control {
            controlStarted = true
            DedicatedThread.start(name: "broker-control") {
                control.run()
                controlFinished.signal()
            }
        }
        defer { control?.stop() }
        // Nothing binds before the durable state is loaded: a broker that cannot read it never serves.
        if let control, case .failure(let error) = control.waitUntilStarted() {
            onBound(.failure(error))
            return .failure(error)
        }
        var zap: ZAPHandler? = nil
        if let security = settings.security {
            // The handler must listen before the CURVE sockets bind, or early handshakes go unchecked.
            let handler = ZAPHandler(context: context, security: security, logger: logger)
            do {
                try handler.start()
            } catch {
                onBound(.failure(error))
                return .failure(error)
            }
            zap = handler
            zapHandler.withLock { $0 = handler }
        }
        defer {
            zapHandler.withLock { $0 = nil }
            zap?.stop()
        }
        let frontend: ZMQSocket
        let backend: ZMQSocket
        let endpoints: BrokerEndpoints
        do {
            (frontend, backend, endpoints) = try bindSockets()
        } catch {
            onBound(.failure(error))
            return .failure(error)
        }
        bound = true
        monitor.start()
        onBound(.success(endpoints))
        defer {
            // The last replies (the control plane's final answers, the BUSYs of the drain) are in libzmq's queues when
            // the loop ends: with the sockets' usual linger of 0 they were discarded on close, and the clients that had
            // been accepted got no reply at all. Closed with a bounded linger, libzmq delivers them while the context
            // terminates (at most `shutdownLingerMs` for a peer that no longer reads).
            try? frontend.set(.linger(milliseconds: Self.shutdownLingerMs))
            try? backend.set(.linger(milliseconds: Self.shutdownLingerMs))
            frontend.close()
            backend.close()
            monitor.stop()
        }
        do {
            try loop(frontend: frontend, backend: backend, control: control)
            return .success(())
        } catch {
            logger.error("broker loop failed", metadata: ["error": "\(error)"])
            return .failure(.socketFailed(error))
        }
    }

    private func bindSockets() throws(BrokerError) -> (ZMQSocket, ZMQSocket, BrokerEndpoints) {
        let configuration = settings.configuration
        func open(_ endpoint: String, domain: String, clientFacing: Bool) throws(BrokerError) -> (ZMQSocket, String) {
            do throws(ZMQError) {
                let socket = try ZMQSocket(context, type: .router)
                // The message limit is enforced by the reactor, which answers TOO_LARGE; libzmq's
                // own limit, which drops the connection without a word, is only a far backstop.
                try socket.set(.maxMessageSize(Int64(clamping: configuration.hardFrameLimitBytes)))
                if clientFacing {
                    // libzmq counts messages, not bytes: these bound what it buffers per client.
                    try socket.set(.sendHighWaterMark(configuration.clientSendHighWaterMark))
                    try socket.set(.receiveHighWaterMark(configuration.clientReceiveHighWaterMark))
                } else {
                    try socket.set(.sendHighWaterMark(100_000))
                    try socket.set(.receiveHighWaterMark(100_000))
                }
                if let security = settings.security {
                    try socket.set(.curveServer(true))
                    try socket.set(.curveSecretKey(security.keyPair.secretKey))
                    try socket.set(.curvePublicKey(security.keyPair.publicKey))
                    try socket.set(.zapDomain(domain))
                    try socket.set(.handshakeInterval(milliseconds: 5000))
                }
                try monitor.attach(socket, name: domain == BrokerSecurity.frontendDomain ? "frontend" : "backend")
                // libzmq unlinks what is at an ipc:// path before it binds: a socket in use, or a file, is refused.
                if let occupied = IPCBindCheck.occupied(endpoint) { throw occupied }
                try socket.bind(endpoint)
                return (socket, try socket.lastEndpoint())
            } catch {
                throw .bindFailed(endpoint: endpoint, error)
            }
        }
        let (frontend, frontendEndpoint) = try open(
            settings.frontend, domain: BrokerSecurity.frontendDomain, clientFacing: true)
        let (backend, backendEndpoint) = try open(
            settings.backend, domain: BrokerSecurity.backendDomain, clientFacing: false)
        return (frontend, backend, BrokerEndpoints(frontend: frontendEndpoint, backend: backendEndpoint))
    }

    /// How long the sockets keep undelivered replies after the loop ends (ms): enough for a drain's last replies to
    /// reach clients that still read, bounded for those that do not.
    static let shutdownLingerMs: Int32 = 1_000

    /// How long a shutdown with nothing outstanding goes on reading client messages that keep arriving (µs), each
    /// answered BUSY, before it ends.
    static let quietWaitMicros: UInt64 = 500_000

    /// How long no client message must arrive, once nothing is outstanding, for a shutdown to end (µs): a client
    /// answered by the last replies sends its next request a round trip later, and one told BUSY retries after the
    /// hint (`busyRetryAfterMs`), so twice the hint and 50 ms more, and at least 100 ms (a pass that had read nothing
    /// ended the loop at once, before either came).
    static func quietGapMicros(busyRetryAfterMs: UInt32) -> UInt64 {
        max(100_000, 2 * UInt64(busyRetryAfterMs) * 1_000 + 50_000)
    }

    private static func now() -> BrokerInstant {
        BrokerInstant(monotonicMicros: Clocks.monotonicMicros(), epochMillis: Clocks.epochMillis())
    }

    private func loop(frontend: ZMQSocket, backend: ZMQSocket, control: ControlPlane?) throws(ZMQError) {
        var configuration = settings.configuration
        configuration.keepsRegistry = control != nil
        var core = BrokerCore(configuration: configuration, now: Self.now())
        var poller = ZMQPoller([
            PollItem(socket: frontend), PollItem(socket: backend), PollItem(fileDescriptor: wakeup.fileDescriptor),
        ])
        var actions: [BrokerAction] = []
        actions.reserveCapacity(64)
        var nextTickAt: UInt64 = 0
        let batch = 512
        let parent = getppid()
        var trainingWorkers: [TrainingWorker] = []
        var metrics = BrokerMetrics()
        let secure = settings.security != nil
        let shell = ReactorShell(
            frontend: frontend, backend: backend, control: control, logger: logger,
            backlog: ReplyBacklog(limitBytes: configuration.clientReplyBytes))
        let limits = settings.configuration.limits
        var memory = MemoryReturn()
        var shutdownDeadline: UInt64? = nil
        allowLists.withLock { $0.security = settings.security }
        var admission = (generation: 0, security: settings.security)
        // Whether the last pass read a client message. With nothing outstanding, a shutdown ends once no client has
        // sent for `quietGap`: requests clients sent before they saw a BUSY wait in the frontend's queue, and a client
        // answered by the last replies (or retrying its BUSY after the hint) sends one more, and each is read and
        // answered (BUSY, shutting down), never left for the client's timeout. Clients that keep sending cannot hold
        // it open: it ends at most `quietWait` after nothing was outstanding.
        var clientsSent = true
        var quietUntil: UInt64? = nil
        var lastClientAt: UInt64 = 0
        let quietGap = Self.quietGapMicros(busyRetryAfterMs: configuration.busyRetryAfterMs)
        let quietWait = max(Self.quietWaitMicros, 3 * quietGap)
        /// The `User-Id` a message is handled under: its key's role under the allow-lists in force now (a reload
        /// moves a connected peer to its new role at once), or `revoked:KEY` when they no longer admit it.
        func admitted(_ userId: String?, domain: String) -> String? {
            guard let security = admission.security, let key = PeerRole.key(inUserId: userId) else { return userId }
            guard let role = security.role(domain: domain, publicKey: key) else { return PeerRole.revokedUserId(key: key) }
            return role.userId(key: key)
        }
        while true {
            if stopRequested.withLock({ $0 }) {
                let now = Self.now()
                if shutdownDeadline == nil {
                    shutdownDeadline = now.monotonicMicros.addingSaturating(
                        settings.drainTimeoutMs.multipliedSaturating(by: 1000))
                    core.beginShutdown()
                    logger.info("draining before shutdown", metadata: ["outstanding": "\(core.outstandingRequests)"])
                    clientsSent = true
                }
                if core.outstandingRequests == 0, quietUntil == nil {
                    quietUntil = now.monotonicMicros.addingSaturating(quietWait)
                    // The last replies just went out: a client answered sends its next request a round trip later.
                    lastClientAt = now.monotonicMicros
                }
                if clientsSent { lastClientAt = now.monotonicMicros }
                let silent = now.monotonicMicros &- lastClientAt >= quietGap
                // Replies waiting for a client's queue to drain hold the drain open too, but no longer than the quiet
                // wait: a client that never reads cannot hold a shutdown to its deadline.
                let waitedOut = now.monotonicMicros >= quietUntil ?? .max
                let quiet =
                    core.outstandingRequests == 0 && ((silent && shell.backlog.isEmpty) || waitedOut)
                if quiet || now.monotonicMicros >= shutdownDeadline! {
                    core.abandonOutstanding(into: &actions)
                    shell.perform(&actions, core: &core, now: now)
                    break
                }
            }
            // While shutting down, a short poll: the silence that ends the loop is measured in these passes.
            var delay = core.nextTimerDelayMs(now: Self.now())
            // Replies waiting for a client's queue to drain are retried soon (1 ms, backing off while none leaves).
            if !shell.backlog.isEmpty { delay = min(delay, shell.backlog.retryDelayMs) }
            try poller.poll(timeoutMilliseconds: shutdownDeadline == nil ? delay : min(delay, 10))
            if poller.isReadable(2) { wakeup.drain() }
            // After the poll, not before it: a message that arrived during the poll is judged by the lists in force
            // when it is read (a reload during the poll would otherwise refuse a peer the new lists admitted).
            if secure, allowLists.withLock({ $0.generation }) != admission.generation {
                admission = allowLists.withLock { $0 }
                if let workers = admission.security?.workers {
                    core.handle(.workerKeysAllowed(workers), now: Self.now(), into: &actions)
                    shell.perform(&actions, core: &core, now: Self.now())
                }
            }
            var now = Self.now()
            if let control {
                for output in control.drainOutputs() {
                    switch output {
                    case .toClient(let identity, let frames):
                        core.controlAnswered(identity: identity, frames: frames)
                        actions.append(.sendToClient(identity: identity, frames: frames))
                    case .toWorker(let identity, let frames): actions.append(.sendToWorker(identity: identity, frames: frames))
                    case .rollout(let version, let frames, let inputWidth):
                        core.handle(.rollout(version: version, frames: frames, inputWidth: inputWidth), now: now, into: &actions)
                    case .online(let view): core.onlineView = view
                    case .onlineOff(let why): core.onlineOff = why
                    case .policyReplicas(let replicas):
                        core.handle(.policyReplicas(replicas), now: now, into: &actions)
                    case .registry(let models): core.registeredModels = models
                    case .heldReply(let identity, let frames):
                        core.controlAnswered(identity: identity, frames: frames)
                        actions.append(.sendToClient(identity: identity, frames: frames))
                    case .invalidSlateReply(let identity, let frames, let worker):
                        core.invalidSlateAnswered(identity: identity, frames: frames, worker: worker)
                        actions.append(.sendToClient(identity: identity, frames: frames))
                    }
                }
                shell.perform(&actions, core: &core, now: now)
            }
            // Workers first: their replies free credit for the clients' requests.
            for _ in 0..<batch {
                guard let message = try backend.receive(dontWait: true, wantMetadata: true) else { break }
                memory.received(message.byteCount)
                guard message.frames.count >= 2 else { continue }
                let identity = message.frames[0]
                core.handle(
                    .worker(
                        identity: identity, frames: Array(message.frames.dropFirst()), peerAddress: message.peerAddress,
                        userId: admitted(message.userId, domain: BrokerSecurity.backendDomain)),
                    now: now, into: &actions)
                shell.perform(&actions, core: &core, now: now)
            }
            clientsSent = false
            for _ in 0..<batch {
                // Read the identity and the header first: a message over the limits, or a request the
                // core will refuse on arrival (an expired one, a full queue, a shutdown), is answered
                // without copying its payload.
                var shed: Header? = nil
                var tooLarge = false
                let received = try frontend.receive(dontWait: true, wantMetadata: secure, peekFrames: 2) {
                    leading -> ZMQRestFrames in
                    let messageBytes = leading.byteCount - leading.frames[0].count
                    if leading.frameCount - 1 > limits.maxFrames || messageBytes > limits.maxMessageBytes {
                        tooLarge = true
                        return .discard
                    }
                    shed = core.requestToShed(
                        headerFrame: leading.frames[1], identity: leading.frames[0],
                        payloadBytes: messageBytes - leading.frames[1].count,
                        userId: admitted(leading.userId, domain: BrokerSecurity.frontendDomain), now: now)
                    if shed != nil { return .discard }
                    // A SCORE's or RECOMMEND's rows are forwarded as libzmq received them, never copied;
                    // the core reads only the header and the tensor's shape.
                    switch Header.salvageCommand(leading.frames[1]) {
                    case .score, .recommend: return .hold
                    default: return .copy
                    }
                }
                guard let message = received else { break }
                clientsSent = true
                guard message.frames.count >= 2 else { continue }
                let messageBytes = message.byteCount - message.frames[0].count
                // Refused or not, libzmq allocated the whole message: it counts towards a burst.
                memory.received(message.byteCount)
                if tooLarge {
                    core.handle(
                        .clientTooLarge(
                            identity: message.frames[0], headerFrame: message.frames[1], messageBytes: messageBytes,
                            frameCount: message.frameCount - 1),
                        now: now, into: &actions)
                } else if let shed {
                    core.handle(
                        .clientShed(
                            identity: message.frames[0], header: shed,
                            payloadBytes: messageBytes - message.frames[1].count),
                        now: now, into: &actions)
                } else {
                    core.handle(
                        .client(
                            identity: message.frames[0], frames: Array(message.frames.dropFirst()),
                            userId: admitted(message.userId, domain: BrokerSecurity.frontendDomain),
                            held: message.held.map(HeldFrame.init)),
                        now: now, into: &actions)
                }
                shell.perform(&actions, core: &core, now: now)
            }
            now = Self.now()
            shell.flushBacklog(core: &core, now: now)
            if now.monotonicMicros >= nextTickAt {
                nextTickAt = now.monotonicMicros.addingSaturating(50_000)
                if settings.exitWithParent && getppid() != parent {
                    logger.warning("parent process gone; stopping")
                    break
                }
                let acceptFailures = monitor.takeAcceptFailures()
                if acceptFailures > 0 { core.counters.add(.acceptFailures, acceptFailures) }
                if let refused = zapHandler.withLock({ $0 })?.takeRefused(), refused > 0 {
                    core.counters.add(.refusedHandshakes, refused)
                }
                core.handle(.tick, now: now, into: &actions)
                shell.perform(&actions, core: &core, now: now)
                shell.flushWarnings(now: now)
                memory.returnAfterBurst(core: &core, nowMicros: now.monotonicMicros)
                metrics.update(from: &core)
                let live = core.trainingWorkers
                if let control, live != trainingWorkers {
                    trainingWorkers = live
                    control.submit(.workers(live))
                }
            }
        }
        // Replies still waiting for their clients' queues: one last try, then dropped and counted.
        shell.flushBacklog(core: &core, now: Self.now())
        shell.dropBacklog(core: &core, now: Self.now())
        logger.info("broker stopping", metadata: ["outstanding": "\(core.outstandingRequests)"])
    }
}
