import BrokerCore
import Foundation
import Logging
import Metrics
import RecStore
import RecWire

/// The shell around ``JobCore``, and the model registry. Owned by the control thread: it answers the
/// training and registry CONTROL operations (reads and writes of the store a client waits on), feeds
/// the core its events, performs the actions it returns on the store and the reactor, and feeds each
/// store result back in as an event. After a broker restart, unfinished jobs resume from their last
/// stored round.
final class JobCoordinator: ControlShell {
    let store: RecStore
    let logger: Logger
    let emit: (ControlOutput) -> Void
    /// Writes a job's record to the store (a seam: tests make it fail).
    var writeJob: (JobRecord) throws -> Void
    /// The state machine of the running jobs.
    var core = JobCore()

    init(store: RecStore, logger: Logger, emit: @escaping (ControlOutput) -> Void) {
        self.store = store
        self.logger = logger
        self.emit = emit
        writeJob = { record in try store.updateJob(record) }
    }

    /// Durable writes that failed since the broker started (also `recpool_broker_durable_write_failures_total`).
    var durableWriteFailures: Int { core.durableWriteFailures }

    /// Resumes unfinished jobs from their last stored round and publishes the promoted model.
    func start(nowMs: UInt64) {
        do {
            for record in try store.jobs() where !record.state.isFinal {
                let spec: TrainJobSpec
                do {
                    spec = try WireJSON.decode(TrainJobSpec.self, from: Array(record.spec.utf8))
                } catch {
                    logger.error(
                        "job cannot resume: its stored spec does not decode",
                        metadata: ["job_id": "\(record.id)", "error": "\(error)"])
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
                    perform(.persist(failed, what: "the job's failure"), nowMs: nowMs)
                    logger.error("job cannot resume", metadata: ["job_id": "\(record.id)", "error": "\(error)"])
                    continue
                }
                var job = JobCore.RunningJob(record: record, spec: spec, state: state, stateSHA: record.stateSHA ?? "")
                job.uploadNames = uploadNames(of: spec)
                run(.accepted(job), nowMs: nowMs)
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
    func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64) { run(.workers(live), nowMs: nowMs) }

    /// Starts rounds for waiting jobs and closes rounds whose time is up.
    func tick(nowMs: UInt64) { run(.tick, nowMs: nowMs) }

    /// Handles a worker's ROUND_RESULT.
    func handleWorker(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        run(.roundResult(identity: identity, message: message), nowMs: nowMs)
    }

    /// Marks a job failed, durably.
    func fail(_ id: String, _ why: String) { run(.fail(job: id, reason: why), nowMs: 0) }

    /// Performs one action of the core's; a store result is fed back at once.
    func perform(_ action: JobAction, nowMs: UInt64) {
        switch action {
        case .log(let level, let message, let metadata):
            logger.log(level: level, "\(message)", metadata: metadata)
        case .sendShard(let shard):
            var frames = [
                Header(command: .trainRound, requestId: UInt64(shard.assignment.round)).encoded(),
                WireJSON.encode(shard.assignment), shard.state,
            ]
            if let sha = shard.dataset {
                do {
                    frames.append(try store.blobs.get(sha))
                    if let catalogue = shard.catalogue { frames.append(try store.blobs.get(catalogue)) }
                } catch {
                    return run(.datasetUnreadable(job: shard.assignment.job, error: error), nowMs: nowMs)
                }
            }
            emit(.toWorker(identity: shard.worker, frames: frames))
        case .storeRound(let toStore):
            let result = Result { () throws(StoreError) -> String in
                let sha = try store.blobs.put(toStore.state)
                var round = toStore.round
                var job = toStore.job
                round.stateSHA = sha
                job.stateSHA = sha
                try store.completeRound(round, job: job)
                if let metrics = toStore.previousRoundMetrics {
                    try store.setRoundMetrics(jobId: round.jobId, round: round.round - 1, metrics: metrics)
                }
                return sha
            }
            if case .success = result { Counter(label: "recpool_broker_training_rounds_total").increment() }
            run(.roundStored(job: toStore.round.jobId, result), nowMs: nowMs)
        case .register(let model):
            run(.registered(job: model.job.id, Result { try register(model) }), nowMs: nowMs)
        case .persist(let record, let what):
            let result = Result { try writeJob(record) }
            if case .failure = result { Counter(label: "recpool_broker_durable_write_failures_total").increment() }
            run(.persisted(record, what: what, result), nowMs: nowMs)
        }
    }

    /// Registers the final checkpoint as a model version, completes the job, and promotes if asked.
    /// - Returns: the new version.
    /// - Throws: the store's error when the checkpoint cannot be registered or the job completed.
    private func register(_ model: ModelToRegister) throws -> UInt64 {
        let sha = try store.blobs.put(model.checkpoint)
        let metrics = String(decoding: WireJSON.encode(model.report.metrics ?? [:]), as: UTF8.self)
        // The final state is the average after the last round: its metrics are that round's.
        if model.job.round > 0 { try store.setRoundMetrics(jobId: model.job.id, round: model.job.round, metrics: metrics) }
        let version = try store.registerModel(
            job: model.job.id, datasetSHA: model.report.datasetSHA, hyperparameters: model.job.spec, metrics: metrics,
            checkpointSHA: sha)
        publishRegistry()
        var record = model.job
        record.state = .completed
        record.modelVersion = version
        record.metrics = metrics
        try store.updateJob(record)
        guard model.promote else { return version }
        if let problem = ServableCheckpoint.problem(model.checkpoint) {
            logger.error(
                "the completed job's model version is not promoted: a scoring replica cannot serve it",
                metadata: ["job_id": "\(model.job.id)", "model_version": "\(version)", "error": "\(problem)"])
            return version
        }
        do {
            if let registered = try store.model(version) {
                try store.promote(version)
                publishRollout(registered, bytes: model.checkpoint)
            }
        } catch {
            // The job is complete and its version registered: only the promotion is missing.
            logger.error(
                "the completed job's model version could not be promoted; promote it with recpool promote",
                metadata: ["job_id": "\(model.job.id)", "model_version": "\(version)", "error": "\(error)"])
        }
        return version
    }
}
