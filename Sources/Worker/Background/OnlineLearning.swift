import Logging
import RecPolicy
import RecTransport
import RecWire

/// The worker's online learning thread: installs POLICY versions, learns from LEARN batches and answers
/// POLICY_PULL, off the session thread that scores batches.
///
/// Tasks are taken in arrival order, so a LEARN sent after a POLICY learns on the new version. After an
/// install or an update the thread publishes a new ``ServedPolicy`` into ``snapshot``; the session reads
/// it for RECOMMEND and never waits for a gradient step. POLICY_STATE frames go back through ``drain()``,
/// because only the session thread may use the socket.
final class OnlineLearning: Sendable {
    /// Work for the thread.
    enum Task: Sendable {
        /// A POLICY message's payload.
        case install([[UInt8]])
        /// A LEARN message's JSON ``LearnBatch``.
        case learn([UInt8])
        /// A POLICY_PULL for a sync id.
        case pull(sync: UInt64)
        /// A CATALOGUE's notice and bytes, as received: verified, decoded and admitted here
        /// (``CatalogueReceiver``), then served, held or refused, and answered with CATALOGUE_STATE.
        case received(CatalogueInstall, bytes: [UInt8])
        /// A verified catalogue version: the served policy moves to it (``installCatalogue(_:)``).
        case catalogue(InstalledCatalogue)
        /// A verified catalogue version older than the newest one: only held, for a POLICY that names it.
        case hold(InstalledCatalogue)
        /// The worker registered with a broker serving `servedPolicy` (nil: none): any other installed policy is
        /// dropped, with the catalogue versions held for it (``OnlineLearningState/forget(unlessServing:)``).
        case registered(servedPolicy: PolicyVersionReference?)
    }

    /// The policy the session serves.
    let snapshot: PolicySnapshot
    let state: LockedBox<OnlineLearningState>
    private let mailbox: MailboxThread<Task, [[UInt8]]>
    let logger: Logger
    private let metrics: WorkerMetrics

    /// Creates the learner; with `startThread` false nothing runs until ``perform(_:)`` is called (tests).
    init(sessionWakeup: WakeupSignal, seed: UInt64, logger: Logger, metrics: WorkerMetrics, startThread: Bool = true) {
        self.logger = logger
        self.metrics = metrics
        snapshot = PolicySnapshot(
            builds: .thread(
                started: { version in
                    logger.info("building the retrieval index; every item is scored until it is ready", metadata: ["policy_version": "\(version)"])
                },
                finished: { version, outcome, seconds in
                    switch outcome {
                    case .success(let index):
                        logger.info(
                            "retrieval index ready",
                            metadata: [
                                "built_for_policy_version": "\(version)", "index": "\(index ?? "none")",
                                "seconds": "\((seconds * 10).rounded() / 10)",
                            ])
                    case .failure(let error):
                        logger.error("retrieval index build failed; scoring every item", metadata: ["error": "\(error)"])
                    }
                }))
        state = LockedBox(OnlineLearningState(seed: seed))
        mailbox = MailboxThread(name: "worker-online", ownerWakeup: sessionWakeup)
        if startThread { mailbox.start { [self] task in self.perform(task) } }
    }

    /// Queues a task. Called by the session thread. A registration with a broker that serves another policy
    /// version also withdraws the served snapshot at once, so no RECOMMEND read after it (on the session thread)
    /// draws a slate from it while the task waits in the queue.
    func submit(_ task: Task) {
        if case .registered(let broker) = task, let served = snapshot.current, served.version != broker?.version {
            snapshot.withdraw()
        }
        mailbox.post(task)
    }

    /// Takes the POLICY_STATE messages to send. Called by the session thread.
    func drain() -> [[[UInt8]]] { mailbox.drain() }

    /// Stops the thread after its current task.
    func stop() { mailbox.stop() }

    /// Events counted and dropped since the worker started (frozen, no policy, or rejected contexts).
    var droppedEvents: Int { state.withLock { $0.droppedEvents } }

    /// Runs one task on the calling thread; returns the frames of a message for the broker, if any.
    func perform(_ task: Task) -> [[UInt8]]? {
        switch task {
        case .install(let payload):
            var weights: PolicyWeightsFrame?
            do {
                let (install, frame) = try OnlineLearningState.decode(payload)
                weights = frame
                let (served, report) = try state.withLock { state throws(PolicyInstallError) in
                    try state.install(install, weights: frame)
                }
                if let failure = snapshot.publish(served) {
                    logger.error("no retrieval for the installed policy; scoring every item", metadata: ["error": "\(failure)"])
                }
                metrics.policyVersion.record(Int64(bitPattern: served.version))
                // The replaced policy and the decoded messages are freed: give those pages back (once per POLICY).
                FreeMemory.returnToSystem()
                logger.info(
                    "installed online policy",
                    metadata: [
                        "policy_version": "\(served.version)", "learning": "\(served.learningEnabled)",
                        "sha256": "\(report.weightsSha256)", "install_bytes": "\(payload[0].count)",
                        "pack_bytes": "\(payload[1].count)", "pack_form": "\(frame.form)",
                        "delta_rows": "\(frame.deltaRows.map { "\($0)" } ?? "all")",
                        "catalogue_version": "\(install.catalogue.map { "\($0.version)" } ?? "inline")",
                    ])
                return [Header(command: .policyState).encoded(), WireJSON.encode(report)]
            } catch .delta(let policy, let why) {
                let error = PolicyInstallError.delta(policy: policy, why)
                logger.error(
                    "refused a POLICY delta; keeping the current policy and asking the broker for the whole pack",
                    metadata: ["policy_version": "\(policy)", "error": "\(error)"])
                let report = PolicyStateReport(
                    kind: .deltaRefused, sync: 0, version: policy, events: 0, updates: 0, weightsSha256: "",
                    error: error.description)
                return [Header(command: .policyState).encoded(), WireJSON.encode(report)]
            } catch .catalogueMissing(let policy, let catalogue) {
                let error = PolicyInstallError.catalogueMissing(policy: policy, catalogue: catalogue)
                logger.warning("refused POLICY; asking the broker for its catalogue", metadata: ["error": "\(error)"])
                let report = PolicyStateReport(
                    kind: .catalogueMissing, sync: 0, version: policy, events: 0, updates: 0, weightsSha256: "",
                    catalogue: catalogue, error: error.description)
                return [Header(command: .policyState).encoded(), WireJSON.encode(report)]
            } catch {
                logger.error(
                    "rejected POLICY; keeping the current policy",
                    metadata: ["error": "\(error)", "pack_form": "\(weights?.form ?? "unread")"])
                // The broker is told, so it can say why this replica does not serve the version it sent.
                let version = payload.first.flatMap { try? WireJSON.decode(PolicyInstall.self, from: $0) }?.version ?? 0
                let report = PolicyStateReport(
                    kind: .refused, sync: 0, version: version, events: 0, updates: 0, weightsSha256: "",
                    error: "\(error)")
                return [Header(command: .policyState).encoded(), WireJSON.encode(report)]
            }
        case .learn(let json):
            let batch: LearnBatch
            do {
                batch = try WireJSON.decode(LearnBatch.self, from: json)
            } catch {
                logger.error("malformed LEARN ignored", metadata: ["error": "\(error)"])
                return nil
            }
            let start = Clocks.monotonicNanos()
            let (outcome, served) = state.withLock { state in
                let outcome = state.learn(batch.events)
                return (outcome, outcome.updated ? state.served : nil)
            }
            if let served {
                if let failure = snapshot.publish(served) {
                    logger.error("no retrieval for the updated policy; scoring every item", metadata: ["error": "\(failure)"])
                }
                metrics.onlineUpdate.recordNanoseconds(Int64(Clocks.monotonicNanos() - start))
            }
            if outcome.learnt > 0 { metrics.onlineEvents.increment(by: Int64(outcome.learnt)) }
            if outcome.dropped > 0 { metrics.onlineEventsDropped.increment(by: Int64(outcome.dropped)) }
            if outcome.steps > 0 { metrics.onlineUpdates.increment(by: Int64(outcome.steps)) }
            return nil
        case .received(let notice, let bytes):
            return receiveCatalogue(notice, bytes: bytes)
        case .catalogue(let installed):
            return installCatalogue(installed)
        case .hold(let installed):
            state.withLock { $0.hold(installed) }
            return nil
        case .registered(let broker):
            state.withLock { $0.receiver.forget() }
            guard let dropped = state.withLock({ $0.forget(unlessServing: broker) }) else { return nil }
            snapshot.withdraw()
            metrics.policyVersion.record(0)
            logger.warning(
                "dropped the online policy: the broker it registered with serves another",
                metadata: [
                    "policy_version": "\(dropped)",
                    "broker_serves": "\(broker.map { "version \($0.version)" } ?? "no policy")",
                ])
            return nil
        case .pull(let sync):
            let answer = state.withLock { $0.syncReport(sync: sync) }
            var header = Header(command: .policyState, requestId: sync)
            if answer.report.version == 0 { header.status = .notFound }
            if answer.report.version > 0 {
                logger.info(
                    "answered online sync",
                    metadata: [
                        "sync": "\(sync)", "policy_version": "\(answer.report.version)",
                        "events": "\(answer.report.events)", "state_bytes": "\(answer.frame.count)",
                        "pack_form": "\(answer.deltaRows == nil ? "full" : "delta")",
                        "delta_rows": "\(answer.deltaRows.map { "\($0)" } ?? "all")",
                    ])
            }
            return [header.encoded(), WireJSON.encode(answer.report), answer.frame]
        }
    }
}
