import BrokerCore
import Foundation
import Logging
import RecStore
import RecWire

/// Runs training jobs as rounds of local SGD over the live workers, and keeps the model registry.
///
/// Owned by the control thread. Each round, every shard of the job's training data goes to a
/// worker with the current averaged state; each replica runs `sync_every` local steps and returns
/// its state; the coordinator averages the states weighted by samples, stores the round durably and
/// starts the next. A round closes on its timeout with the results that arrived; the shard of a dead
/// worker goes to a live one. After a broker restart, unfinished jobs resume from their last stored
/// round. The last round asks one worker for a checkpoint of the final state and its validation
/// metrics, which become a registered model version.
final class JobCoordinator {
    struct Result {
        var report: RoundReport
        var pack: [UInt8]
    }

    enum Phase {
        /// Waiting for a live worker.
        case waiting
        /// A round is out: who holds which shard, and what came back.
        case training(round: Int, startedMs: UInt64, pending: [Int: [UInt8]], results: [Int: Result])
        /// The final state is out for a checkpoint.
        case finalizing(worker: [UInt8], sentMs: UInt64)
    }

    struct RunningJob {
        var record: JobRecord
        var spec: TrainJobSpec
        var state: [UInt8]
        var stateSHA: String
        var phase: Phase = .waiting
        var attempts = 0
        var totalSteps: Int?
        var datasetSHA = ""
    }

    let store: RecStore
    let logger: Logger
    let emit: (ControlOutput) -> Void
    var workers: [TrainingWorker] = []
    var jobs: [String: RunningJob] = [:]
    var datasetHolders: [String: Set<[UInt8]>] = [:]
    /// Replica results rejected because the state they started from was not the one sent.
    var inconsistentReplicas = 0
    /// Job records whose last change could not be written, with the store's error: the job's views
    /// show the record as the coordinator holds it and say that it is not durable.
    var unsavedJobs: [String: UnsavedJob] = [:]
    /// Durable writes that failed since the broker started (also `recpool_broker_durable_write_failures_total`).
    var durableWriteFailures = 0
    /// Writes a job's record to the store (a seam: tests make it fail).
    var writeJob: (JobRecord) throws -> Void

    /// A job record the store does not hold as the coordinator does.
    struct UnsavedJob {
        var record: JobRecord
        var error: String
    }

    init(store: RecStore, logger: Logger, emit: @escaping (ControlOutput) -> Void) {
        self.store = store
        self.logger = logger
        self.emit = emit
        writeJob = { record in try store.updateJob(record) }
    }

    /// Resumes unfinished jobs from their last stored round and publishes the promoted model.
    func start(nowMs: UInt64) {
        do {
            for record in try store.jobs() where !record.state.isFinal {
                let spec: TrainJobSpec
                do {
                    spec = try WireJSON.decode(TrainJobSpec.self, from: Array(record.spec.utf8))
                } catch {
                    logger.error("job cannot resume: its stored spec does not decode", metadata: ["job_id": "\(record.id)", "error": "\(error)"])
                    continue
                }
                let state: [UInt8]
                do {
                    state = try record.stateSHA.map { sha throws(StoreError) in try store.blobs.get(sha) } ?? []
                } catch {
                    // Its last round's state is unreadable: the job cannot resume where it was.
                    var failed = record
                    failed.state = .failed
                    failed.error = "cannot resume after a restart: \(error)"
                    persist(failed, what: "the job's failure")
                    logger.error("job cannot resume", metadata: ["job_id": "\(record.id)", "error": "\(error)"])
                    continue
                }
                jobs[record.id] = RunningJob(record: record, spec: spec, state: state, stateSHA: record.stateSHA ?? "")
                logger.info("resuming job", metadata: ["job_id": "\(record.id)", "round": "\(record.round)"])
            }
            publishRegistry()
            if let version = try store.promotedVersion() {
                do {
                    let (model, bytes) = try verifiedCheckpoint(version)
                    publishRollout(model, bytes: bytes)
                } catch {
                    logger.critical(
                        """
                        the promoted model version cannot be served; workers without it take no work until \
                        its checkpoint is imported again (recpool import) or another version is promoted
                        """,
                        metadata: ["model_version": "\(version)", "error": "\(error)"])
                    publishUnavailableRollout(version)
                }
            }
        } catch {
            logger.error("cannot load durable state", metadata: ["error": "\(error)"])
        }
    }

    /// The live workers changed: reassign shards held by the departed, start waiting jobs.
    func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64) {
        let previous = Set(workers.map(\.identity))
        workers = live.filter(\.trains).sorted { $0.id < $1.id }
        let current = Set(workers.map(\.identity))
        guard previous != current else { return }
        for (id, holders) in datasetHolders { datasetHolders[id] = holders.intersection(current) }
        for id in Array(jobs.keys) {
            guard var job = jobs[id] else { continue }
            switch job.phase {
            case .training(let round, let started, var pending, let results):
                for (shard, worker) in pending where !current.contains(worker) {
                    guard let replacement = pickWorker(for: shard) else { continue }
                    logger.warning("reassigning shard of a departed worker", metadata: ["job_id": "\(id)", "shard": "\(shard)"])
                    pending[shard] = replacement
                    send(job: job, round: round, shard: shard, to: replacement, finalize: false)
                }
                job.phase = .training(round: round, startedMs: started, pending: pending, results: results)
            case .finalizing(let worker, _) where !current.contains(worker):
                job.phase = .waiting
            default:
                break
            }
            if jobs[id] != nil { jobs[id] = job }  // `send` fails the job when its dataset is unreadable
        }
        tick(nowMs: nowMs)
    }

    /// Starts rounds for waiting jobs and closes rounds whose time is up.
    func tick(nowMs: UInt64) {
        for id in Array(jobs.keys) {
            guard let job = jobs[id] else { continue }
            switch job.phase {
            case .waiting:
                if !workers.isEmpty { startRound(id, nowMs: nowMs) }
            case .training(let round, let started, _, let results):
                guard nowMs >= started.addingSaturating(job.spec.roundTimeoutMs) else { continue }
                if results.isEmpty {
                    retryRound(id, round: round, nowMs: nowMs)
                } else {
                    logger.warning(
                        "round timed out; averaging the replicas that answered",
                        metadata: ["job_id": "\(id)", "round": "\(round)", "answered": "\(results.count)"])
                    closeRound(id, nowMs: nowMs)
                }
            case .finalizing(_, let sent):
                if nowMs >= sent.addingSaturating(job.spec.roundTimeoutMs) { retryRound(id, round: job.record.round + 1, nowMs: nowMs) }
            }
        }
    }

    private func retryRound(_ id: String, round: Int, nowMs: UInt64) {
        guard var job = jobs[id] else { return }
        job.attempts += 1
        job.phase = .waiting
        jobs[id] = job
        if job.attempts > 3 {
            fail(id, "no replica answered round \(round) after \(job.attempts) attempts")
        } else {
            logger.warning("no replica answered; retrying the round", metadata: ["job_id": "\(id)", "round": "\(round)"])
            startRound(id, nowMs: nowMs)
        }
    }

    func pickWorker(for shard: Int) -> [UInt8]? {
        guard !workers.isEmpty else { return nil }
        return workers[shard % workers.count].identity
    }
}
