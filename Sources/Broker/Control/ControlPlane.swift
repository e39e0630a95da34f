import BrokerCore
import Dispatch
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
    private let inbox: LockedBox<ControlInbox>
    private let outbox = ControlOutbox()
    private let wakeup = WakeupSignal()
    private let reactorWakeup: WakeupSignal
    private let stopRequested = LockedBox(false)
    let store: RecStore
    let logger: Logger
    let online: OnlineSettings?
    let catalogueConfirmTimeoutMs: UInt64
    private let startup = StartupLatch()

    /// Creates a control plane over `store` that wakes the reactor through `reactorWakeup`; with `online`
    /// settings it also runs online learning.
    /// - Parameters:
    ///   - catalogueConfirmTimeoutMs: how long a catalogue change waits for every serving worker's
    ///     confirmation before it is acknowledged with `confirmed: false`, in ms.
    ///   - inboxBytesLimit: the bytes of inputs that may wait for the control thread before ``submit(_:)`` refuses
    ///     what a client sent (`--control-inbox-bytes`).
    public init(
        store: RecStore, reactorWakeup: WakeupSignal, logger: Logger, online: OnlineSettings? = nil,
        catalogueConfirmTimeoutMs: UInt64 = 10_000, inboxBytesLimit: Int = ControlPlane.defaultInboxBytesLimit
    ) {
        inbox = LockedBox(ControlInbox(limit: inboxBytesLimit))
        self.store = store
        self.online = online
        self.catalogueConfirmTimeoutMs = catalogueConfirmTimeoutMs
        self.reactorWakeup = reactorWakeup
        self.logger = logger
    }

    /// The default of ``init(store:reactorWakeup:logger:online:catalogueConfirmTimeoutMs:inboxBytesLimit:)``'s
    /// `inboxBytesLimit`: 64 MiB, four messages at the wire limit.
    public static let defaultInboxBytesLimit = 64 << 20

    /// Hands an input to the control thread. Safe from any thread.
    /// - Returns: ``ControlAdmission/refused(heldBytes:limit:)`` for an input a client caused (CONTROL, FEEDBACK, a
    ///   held policy slate) when the inputs waiting already hold so many bytes that this one would pass the limit:
    ///   it was not queued, and the caller answers it BUSY (``BrokerEvent/controlBusy(_:heldBytes:limit:)``);
    ///   ``ControlAdmission/refusedClientShare(clientBytes:share:)`` when that client's own inputs already hold so
    ///   many that this one would pass its share, half the limit (``BrokerEvent/controlBusyClientShare(_:clientBytes:share:)``).
    @discardableResult
    public func submit(_ input: ControlInput) -> ControlAdmission {
        let admission = inbox.withLock { $0.admit(input) }
        if admission == .accepted { wakeup.signal() }
        return admission
    }

    /// Bytes of the inputs waiting for the control thread or being handled by it.
    public var inboxBytes: Int { inbox.withLock { $0.heldBytes } }

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

    /// Waits until ``run()``, on its own thread, has loaded the durable state.
    /// - Returns: ``BrokerError/unreadableState(what:error:)`` when it could not: ``run()`` has returned, and the
    ///   broker must not serve (it exits 65).
    public func waitUntilStarted() -> Result<Void, BrokerError> { startup.wait() }

    /// Runs the control loop on the calling thread until ``stop()``, after loading the durable state (jobs to
    /// resume, the model registry, the catalogue registry, the online policy). When that cannot be read, it
    /// returns at once and ``waitUntilStarted()`` says why.
    public func run() {
        let emit: (ControlOutput) -> Void = { [outbox, reactorWakeup] output in
            outbox.queue.withLock { $0.append(output) }
            reactorWakeup.signal()
        }
        let started: (router: ControlRouter, judge: GuardJudge?)
        do {
            started = try startServices(emit: emit)
        } catch {
            logger.critical("the durable state cannot be read; the broker stops", metadata: ["error": "\(error)"])
            startup.finish(.failure(error))
            return
        }
        startup.finish(.success(()))
        let router = started.router
        defer { started.judge?.stop() }
        var poller = ZMQPoller([PollItem(fileDescriptor: wakeup.fileDescriptor)])
        while !stopRequested.withLock({ $0 }) {
            _ = try? poller.poll(timeoutMilliseconds: 100)
            wakeup.drain()
            let inputs = inbox.withLock { $0.takeAll() }
            let now = ControlClock.shared.nowMs()
            for (input, _) in inputs { router.route(input, nowMs: now) }
            // The batch's inputs are freed together, when `inputs` goes: until then their bytes stay counted.
            if !inputs.isEmpty { inbox.withLock { $0.handled(inputs) } }
            router.tick(nowMs: ControlClock.shared.nowMs())
        }
    }
}

/// The result of the control thread's start, waited for by the reactor before it binds.
final class StartupLatch: Sendable {
    private let result = LockedBox<Result<Void, BrokerError>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Records the result and wakes the waiter; called once.
    func finish(_ outcome: Result<Void, BrokerError>) {
        result.withLock { $0 = outcome }
        done.signal()
    }

    /// Blocks until ``finish(_:)``.
    func wait() -> Result<Void, BrokerError> {
        done.wait()
        done.signal()  // a second wait returns at once
        return result.withLock { $0 } ?? .success(())
    }
}

/// The control plane's outputs waiting for the reactor.
final class ControlOutbox: Sendable {
    let queue = LockedBox(Deque<ControlOutput>())
}
