import BrokerCore
import DequeModule
import Logging
import RecStore
import RecTransport

/// The broker's control plane: one dedicated thread that owns the durable store and the training
/// jobs, so that disk writes never stall the reactor's scoring traffic.
///
/// The reactor forwards CONTROL requests, ROUND_RESULT messages and snapshots of the live workers
/// through ``submit(_:)``; the control plane answers through ``drainOutputs()``, waking the
/// reactor with the signal it was given. Everything a client is told has been accepted is
/// committed to the store before the reply is queued.
public final class ControlPlane: Sendable {
    private let inbox = LockedBox(Deque<ControlInput>())
    private let outbox = ControlOutbox()
    private let wakeup = WakeupSignal()
    private let reactorWakeup: WakeupSignal
    private let stopRequested = LockedBox(false)
    private let store: RecStore
    private let logger: Logger
    private let online: OnlineSettings?
    private let catalogueConfirmTimeoutMs: UInt64

    /// Creates a control plane over `store` that wakes the reactor through `reactorWakeup`; with `online`
    /// settings it also runs online learning.
    /// - Parameter catalogueConfirmTimeoutMs: how long a catalogue change waits for every serving worker's
    ///   confirmation before it is acknowledged with `confirmed: false`, in ms.
    public init(
        store: RecStore, reactorWakeup: WakeupSignal, logger: Logger, online: OnlineSettings? = nil,
        catalogueConfirmTimeoutMs: UInt64 = 10_000
    ) {
        self.store = store
        self.online = online
        self.catalogueConfirmTimeoutMs = catalogueConfirmTimeoutMs
        self.reactorWakeup = reactorWakeup
        self.logger = logger
    }

    /// Hands an input to the control thread. Safe from any thread.
    public func submit(_ input: ControlInput) {
        inbox.withLock { $0.append(input) }
        wakeup.signal()
    }

    /// Takes what the control thread wants sent. Called by the reactor.
    public func drainOutputs() -> [ControlOutput] {
        outbox.queue.withLock { queue in
            // Nothing to take is the common case (every wake-up asks); `[]` also keeps TSan quiet
            // about the stdlib writing a zero count into the shared empty-array storage.
            guard !queue.isEmpty else { return [] }
            defer { queue.removeAll() }
            return Array(queue)
        }
    }

    /// Stops the control thread.
    public func stop() {
        stopRequested.withLock { $0 = true }
        wakeup.signal()
    }

    /// Runs the control loop on the calling thread until ``stop()``.
    public func run() {
        let emit: (ControlOutput) -> Void = { [outbox, reactorWakeup] output in
            outbox.queue.withLock { $0.append(output) }
            reactorWakeup.signal()
        }
        let coordinator = JobCoordinator(store: store, logger: logger, emit: emit)
        coordinator.start(nowMs: Clocks.epochMillis())
        var catalogues: CatalogueCoordinator? = nil
        do {
            catalogues = try CatalogueCoordinator(
                store: store, logger: logger, servesRegistry: online?.catalogue != nil,
                confirmTimeoutMs: catalogueConfirmTimeoutMs, emit: emit)
        } catch {
            logger.error("the catalogue registry could not start; catalogue operations will fail", metadata: ["error": "\(error)"])
        }
        var learner: OnlineCoordinator? = nil
        var judgeThread: GuardJudge? = nil
        var settings = online
        var onlineOff: String? = nil
        if let name = settings?.catalogue {
            do {
                guard let catalogues else { throw CatalogueRefusal(.internal, "the catalogue registry did not start") }
                settings?.served = try catalogues.served(name)
            } catch {
                let reason = (error as? CatalogueRefusal)?.text ?? "\(error)"
                onlineOff = "--online-catalogue \(name) cannot be served: \(reason)"
                logger.error(
                    "--online-catalogue cannot be served; online learning is off",
                    metadata: ["catalogue": "\(name)", "error": "\(reason)"])
            }
        }
        if let online = settings, online.catalogue == nil || online.served != nil {
            do {
                let made = try OnlineCoordinator(settings: online, store: store, logger: logger, emit: emit)
                let judge = GuardJudge { [self] sync, decision in self.submit(.guardVerdict(sync: sync, decision: decision)) }
                judgeThread = judge
                made.judge = { judge.judge($0) }
                try made.start(nowMs: Clocks.epochMillis())
                learner = made
            } catch {
                onlineOff = "the online policy could not start: \(error)"
                logger.error("online learning could not start; FEEDBACK will be refused", metadata: ["error": "\(error)"])
            }
        }
        defer { judgeThread?.stop() }
        if let learner {
            catalogues?.onStored = { catalogue, version, sha256 in
                learner.moveToCatalogue(catalogue, version: version, sha256: sha256)
            }
            catalogues?.refusal = { catalogue in learner.refusal(forCatalogue: catalogue) }
            learner.shipCatalogue = { [weak catalogues] worker, version in catalogues?.ship(version, to: worker) ?? false }
        }
        var router = ControlRouter(jobs: coordinator, online: learner, catalogues: catalogues)
        router.onlineOff = onlineOff
        var poller = ZMQPoller([PollItem(fileDescriptor: wakeup.fileDescriptor)])
        while !stopRequested.withLock({ $0 }) {
            _ = try? poller.poll(timeoutMilliseconds: 100)
            wakeup.drain()
            let inputs = inbox.withLock { queue -> [ControlInput] in
                // Nothing to take is the common case (every wake-up asks); `[]` also keeps TSan quiet
                // about the stdlib writing a zero count into the shared empty-array storage.
                guard !queue.isEmpty else { return [] }
                defer { queue.removeAll() }
                return Array(queue)
            }
            let now = Clocks.epochMillis()
            for input in inputs { router.route(input, nowMs: now) }
            router.tick(nowMs: Clocks.epochMillis())
        }
    }
}

/// The control plane's outputs waiting for the reactor.
final class ControlOutbox: Sendable {
    let queue = LockedBox(Deque<ControlOutput>())
}
