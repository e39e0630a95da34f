import Crypto
import Foundation
import Logging
import RecModel
import RecTransport
import RecWire

/// Work the worker does off its I/O thread: training rounds and building new replicas from WEIGHTS.
///
/// Two dedicated threads take tasks in order, one for training rounds (the compute thread) and one for WEIGHTS builds
/// (the build thread); finished work comes back as ``Outcome``s that the session thread applies between batches (swap
/// a replica, send a ROUND_RESULT). Scoring never waits for a training step, and a round never waits for a build: a
/// model with a 20,000-item catalogue takes seconds to build (its retrieval index), and a round queued behind one on a
/// shared thread timed out and was sent again, or averaged over one replica.
final class BackgroundWork: Sendable {
    /// Bytes of the message limit kept for a ROUND_RESULT's header and report (64 KiB): a training state may take the
    /// rest (16,711,680 bytes under the 16 MiB limit).
    static let roundReportReserve = 64 * 1024

    enum Task: Sendable {
        case weights(notice: WeightsNotice, bytes: [UInt8], receivedAt: UInt64)
        /// A TRAIN_ROUND; `request` is its header, whose id and `attempt` the ROUND_RESULT echoes, so the broker
        /// takes the answer only as the reply to the request it names.
        case round(
            assignment: RoundAssignment, state: [UInt8], dataset: [UInt8]?, catalogue: [UInt8]? = nil,
            request: Header = Header(command: .trainRound))
    }

    enum Outcome: Sendable {
        case swap(ModelReplica, receivedAt: UInt64)
        case send([[UInt8]])
    }

    /// A model version as WEIGHTS name it: its number and its checkpoint's SHA-256.
    struct WeightsKey: Hashable, Sendable {
        var version: UInt64
        var sha256: String
    }

    /// The WEIGHTS builds queued or running, and the weights the broker last asked for (nil: any).
    struct WeightsBuilds: Sendable {
        var queued: Set<WeightsKey> = []
        var wanted: WeightsKey?

        /// Admits a build of `key`, which the broker now asks for: false when one is queued or running already.
        mutating func admit(_ key: WeightsKey) -> Bool {
            // The core asks for these weights as it queues them: the build thread, which may take the task before
            // the session calls ``BackgroundWork/want(_:)``, must not skip it as replaced.
            wanted = key
            return queued.insert(key).inserted
        }

        /// Whether the build thread, reaching the build of `key`, builds it: not when the broker has asked for other
        /// weights since.
        func builds(_ key: WeightsKey) -> Bool { wanted == nil || wanted == key }

        /// Whether the build thread builds `key` now; when it does not, the build is finished in the same step, so a
        /// WEIGHTS for `key` admitted after the decision is queued again (decided and finished apart, a re-promotion
        /// arriving between the two was dropped as a copy of the build being skipped).
        mutating func starts(_ key: WeightsKey) -> Bool {
            guard builds(key) else {
                finished(key)
                return false
            }
            return true
        }

        /// The build of `key` is done (built, refused or skipped): the next WEIGHTS for it is built again.
        mutating func finished(_ key: WeightsKey) { queued.remove(key) }
    }

    /// Training rounds.
    private let mailbox: MailboxThread<Task, Outcome>
    /// WEIGHTS builds.
    private let builder: MailboxThread<Task, Outcome>
    /// Shared with the session thread: a WEIGHTS the broker sends again while its build is queued or running (every
    /// two heartbeats while the worker still reports the old version) is not queued again, and a build the broker
    /// has replaced by the time the compute thread reaches it is skipped, not built. Each copy was built in turn: a
    /// rollout at 20,000 items built its version four times, a rollback right after one waited 31 s behind three
    /// builds of the replaced version, and a training round behind them timed out.
    private let builds = LockedBox(WeightsBuilds())
    private let logger: Logger
    private let trainer: RoundTrainer
    private let metrics: WorkerMetrics

    init(sessionWakeup: WakeupSignal, logger: Logger, metrics: WorkerMetrics) {
        self.logger = logger
        self.metrics = metrics
        trainer = RoundTrainer()
        mailbox = MailboxThread(name: "worker-compute", ownerWakeup: sessionWakeup)
        builder = MailboxThread(name: "worker-build", ownerWakeup: sessionWakeup)
        mailbox.start { [self] task in self.perform(task) }
        builder.start { [self] task in self.perform(task) }
    }

    /// Queues a task, unless it is a WEIGHTS whose build (the same version and SHA-256) is queued or running already.
    /// Called by the session thread.
    func submit(_ task: Task) {
        if case .weights(let notice, _, _) = task {
            let key = WeightsKey(version: notice.version, sha256: notice.sha256)
            guard builds.withLock({ $0.admit(key) }) else {
                logger.debug("WEIGHTS sent again while its build is under way", metadata: ["model_version": "\(notice.version)"])
                return
            }
            builder.post(task)
            return
        }
        mailbox.post(task)
    }

    /// Records the weights the broker last asked for (``WorkerCore/wantedWeights``; nil: any), so a queued build of
    /// other weights is skipped. Called by the session thread.
    func want(_ key: WeightsKey?) {
        builds.withLock { $0.wanted = key }
    }

    /// Takes finished work. Called by the session thread.
    func drain() -> [Outcome] {
        let built = builder.drain()
        let trained = mailbox.drain()
        return built.isEmpty ? trained : built + trained
    }

    /// Stops the compute and build threads after their current tasks.
    func stop() {
        mailbox.stop()
        builder.stop()
    }

    static func replica(from notice: WeightsNotice, bytes: [UInt8]) throws(WeightsError) -> ModelReplica {
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        guard digest == notice.sha256 else { throw .checksumMismatch(expected: notice.sha256, got: digest) }
        do {
            let checkpoint = try Checkpoint(decoding: bytes)
            return try ModelReplica(checkpoint: checkpoint, version: notice.version, sha256: digest)
        } catch {
            throw .unusable("\(error)")
        }
    }

    private func perform(_ task: Task) -> Outcome? {
        switch task {
        case .weights(let notice, let bytes, let receivedAt):
            let key = WeightsKey(version: notice.version, sha256: notice.sha256)
            guard builds.withLock({ $0.starts(key) }) else {
                logger.info(
                    "skipped building a model version the broker has since replaced",
                    metadata: ["model_version": "\(notice.version)"])
                return nil
            }
            defer { builds.withLock { $0.finished(key) } }
            do {
                let replica = try Self.replica(from: notice, bytes: bytes)
                logger.info(
                    "loaded new model version",
                    metadata: [
                        "model_version": "\(notice.version)",
                        "retrieval": "\(replica.recommender?.retrieval == nil ? "none (every item scored)" : "built")",
                    ])
                if let problem = replica.retrievalProblem {
                    logger.error(
                        "retrieval before ranking could not be built; every item is scored",
                        metadata: ["model_version": "\(notice.version)", "error": "\(problem)"])
                }
                return .swap(replica, receivedAt: receivedAt)
            } catch {
                logger.error("rejected WEIGHTS", metadata: ["model_version": "\(notice.version)", "error": "\(error)"])
                return nil
            }
        case .round(let assignment, let state, let dataset, let catalogue, let request):
            var (report, body) = trainer.run(
                assignment: assignment, state: state, dataset: dataset, catalogue: catalogue)
            // A state the broker cannot receive is a failed round that says why: sent, the message would be refused
            // over the limit and this replica dropped, round after round, until the job failed as "no replica
            // answered" with nothing naming the size.
            let limit = WireLimits.standard.maxMessageBytes
            let room = limit - Self.roundReportReserve
            if report.error == nil, body.count > room {
                report.error =
                    "the model's training state is \(body.count) bytes, over the \(room) bytes a state may take (the "
                    + "\(limit)-byte message limit less \(Self.roundReportReserve) for the round's report; parameters "
                    + "and the optimiser's two moments): use fewer or narrower hidden layers"
                body = []
            }
            metrics.trainingRounds.increment()
            if let error = report.error {
                logger.error(
                    "training round failed",
                    metadata: ["job_id": "\(report.job)", "round": "\(assignment.round)", "error": "\(error)"])
            } else {
                logger.debug(
                    "training round done", metadata: ["job_id": "\(report.job)", "round": "\(assignment.round)"])
            }
            if report.error == nil { metrics.trainingSteps.increment(by: Int64(max(0, report.step - assignment.fromStep))) }
            // The request's id (the broker sends the round number) and its dispatch attempt are echoed: a retried
            // round's late first answer names its own attempt and is dropped by the broker.
            var header = Header(command: .roundResult, requestId: request.requestId, attempt: request.attempt)
            header.status = report.error == nil ? .ok : .badRequest
            var frames = [header.encoded(), WireJSON.encode(report)]
            if report.error == nil { frames.append(body) }
            return .send(frames)
        }
    }
}

/// Why a WEIGHTS message was rejected; the worker keeps serving its current version.
enum WeightsError: Error, Equatable, CustomStringConvertible {
    /// The bytes do not hash to the announced SHA-256.
    case checksumMismatch(expected: String, got: String)
    /// The checkpoint does not decode, or holds no MLP.
    case unusable(String)

    var description: String {
        switch self {
        case .checksumMismatch(let expected, let got): "checksum mismatch: announced \(expected), got \(got)"
        case .unusable(let why): "unusable checkpoint: \(why)"
        }
    }
}
