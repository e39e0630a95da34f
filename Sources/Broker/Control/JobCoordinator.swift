import BrokerCore
import Foundation
import Logging
import Metrics
import RecModel
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
    /// Jobs that had ended when the broker started, whose round states the first tick releases.
    var endedBeforeStart: [String] = []

    init(store: RecStore, logger: Logger, emit: @escaping (ControlOutput) -> Void) {
        self.store = store
        self.logger = logger
        self.emit = emit
        writeJob = { record in try store.updateJob(record) }
    }

    /// Durable writes that failed since the broker started (also `recpool_broker_durable_write_failures_total`).
    var durableWriteFailures: Int { core.durableWriteFailures }

    /// Resumes unfinished jobs from their last stored round and publishes the registry and the promoted model.
    ///
    /// Durable state that cannot be read stops here: the broker must not serve without its registry (a worker's
    /// claimed version would go unchecked, and a seeded model would answer while a version is promoted).
    /// - Throws: ``StoreError`` when the jobs, a job's or a round's stored JSON (spec, metrics; finished jobs
    ///   included), the model registry (a version's metrics, hyperparameters or time) or the promotions cannot be read
    ///   (``StoreError/corruptColumn(table:row:column:problem:)`` names the value), or a promotion names a version the
    ///   registry does not hold. A job whose own state cannot
    ///   be resumed fails instead (``ResumeProblem``), and a promoted version whose checkpoint cannot be read is
    ///   rolled out as unavailable, so workers take no work until it is imported again.
    func start(nowMs: UInt64) throws(StoreError) {
        let jobs = try store.jobs()
        // Every job and round `recpool jobs` and `recpool job` can show is read once here, finished ones too: a stored
        // document that does not decode stops the start (exit 65), where it would otherwise fail those commands whole.
        for record in jobs { _ = try view(record, rounds: try store.rounds(of: record.id)) }
        // So is every registered version `recpool models` shows (its metrics, hyperparameters, time): a damaged row
        // would otherwise fail `models`, and a promotion or rollback to it, while the broker served.
        let models = try store.models()
        for model in models { _ = try view(model) }
        // One checkpoint, one version today (an import or a job of a checkpoint the registry holds answers its
        // version), but builds before that registered a job's checkpoint again under a new number: such rows serve the
        // same weights under both numbers, so they are named, not refused (a hand-edited row looks the same).
        var versionOfCheckpoint: [String: UInt64] = [:]
        for model in models.sorted(by: { $0.version < $1.version }) {
            if let first = versionOfCheckpoint.updateValue(model.version, forKey: model.checkpointSHA) {
                logger.warning(
                    "two model versions name one checkpoint: they serve the same weights",
                    metadata: [
                        "model_version": "\(model.version)", "same_as": "\(first)", "checkpoint_sha": "\(model.checkpointSHA)",
                    ])
            }
        }
        // A completed job's model version is one `recpool jobs` shows and a client was told: versions are never
        // deleted, so one the models table does not hold is a lost row.
        let registered = Dictionary(models.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        for record in jobs {
            guard let version = record.modelVersion else { continue }
            guard let model = registered[version] else {
                throw .corruptColumn(
                    table: "jobs", row: "id = '\(record.id)'", column: "model_version",
                    problem: "names model version \(version), which the models table does not hold (versions are never "
                        + "deleted)")
            }
            // A job's version is the one registered for it (or, for a checkpoint already registered byte for byte, an
            // import's): one the registry gives another job is an edited or damaged row, and `recpool job` would
            // report that job's model under this job's name.
            if !model.job.isEmpty, model.job != record.id {
                throw .corruptColumn(
                    table: "jobs", row: "id = '\(record.id)'", column: "model_version",
                    problem: "names model version \(version), which the models table says job \(model.job) trained "
                        + "(a job's version is its own)")
            }
        }
        for record in jobs where !record.state.isFinal {
            try resume(record, nowMs: nowMs)
        }
        // Jobs that ended before their states were released as they end (or while the release failed): released on the
        // first tick, once the whole start has passed its checks. A start refused for damaged state (exit 65) must
        // leave the directory as it found it, for the operator to repair or restore.
        endedBeforeStart = jobs.filter { $0.state.isFinal }.map(\.id)
        // The whole promotion history, not only its newest row: `rollback` replays it, and a row that does not read or
        // names a version the registry does not hold would fail every rollback (or serve what was never registered).
        if let lost = try store.lostPromotions() {
            throw .corruptColumn(
                table: "promotions", row: "seq 1 to \(lost.made)", column: "seq",
                problem: "\(lost.made) promotions and rollbacks were made (sqlite_sequence) but \(lost.held) rows are left: "
                    + "promotions are never deleted, and without the lost rows the broker would serve an older version or "
                    + "the seeded model")
        }
        if let (seq, version) = try store.promotionNamingUnregisteredVersion() {
            throw .corruptColumn(
                table: "promotions", row: "seq = \(seq)", column: "version",
                problem: "names model version \(version), which the models table does not hold (versions are never "
                    + "deleted)")
        }
        try publishRegistry()
        guard let version = try store.promotedVersion() else { return }
        guard let model = try store.model(version) else {
            throw .corruptColumn(
                table: "promotions", row: "the newest", column: "version",
                problem: "names model version \(version), which the models table does not hold")
        }
        do {
            publishRollout(model, bytes: try verifiedCheckpoint(model))
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

    /// The live workers changed: reassign shards held by the departed, start waiting jobs.
    func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64) { run(.workers(live), nowMs: nowMs) }

    /// Starts rounds for waiting jobs and closes rounds whose time is up.
    func tick(nowMs: UInt64) {
        if !endedBeforeStart.isEmpty {
            let ended = endedBeforeStart
            endedBeforeStart = []
            for id in ended { releaseRoundStates(of: id, ended: true) }
        }
        run(.tick, nowMs: nowMs)
    }

    /// Handles a worker's ROUND_RESULT.
    func handleWorker(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        let stale = core.staleResults
        run(.roundResult(identity: identity, message: message), nowMs: nowMs)
        if core.staleResults > stale {
            Counter(label: "recpool_broker_stale_round_results_total").increment(by: Int64(core.staleResults - stale))
        }
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
                Header(command: .trainRound, requestId: UInt64(shard.assignment.round), attempt: shard.attempt).encoded(),
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
            if case .success = result { releaseRoundStates(of: toStore.round.jobId, ended: false) }
        case .register(let model):
            let result = Result { try register(model) }
            run(.registered(job: model.job.id, result), nowMs: nowMs)
            if case .success = result { releaseRoundStates(of: model.job.id, ended: true) }
        case .persist(let record, let what):
            let result = Result { try writeJob(record) }
            if case .failure = result { Counter(label: "recpool_broker_durable_write_failures_total").increment() }
            run(.persisted(record, what: what, result), nowMs: nowMs)
            if case .success = result, record.state.isFinal { releaseRoundStates(of: record.id, ended: true) }
        }
    }

    /// Registers the final checkpoint as a model version, completes the job, stores its last round's metrics and
    /// promotes the version if asked, all in one transaction (``RecStore/completeJob(_:datasetSHA:metrics:checkpointSHA:promote:)``):
    /// a crash leaves either none of it, and the job resumes to finalize again, or all of it.
    /// - Returns: the new version.
    /// - Throws: ``UndecodableCheckpoint`` when the worker's checkpoint does not decode (nothing is stored: a version
    ///   no reader can load is never registered, and the job fails naming why); the store's error when nothing could
    ///   be stored.
    private func register(_ model: ModelToRegister) throws -> UInt64 {
        do {
            _ = try Checkpoint(decoding: model.checkpoint)
        } catch {
            throw UndecodableCheckpoint(error: error)
        }
        let sha = try store.blobs.put(model.checkpoint)
        // A final state that measured nothing (no validation rows) stores no metrics: `{}` was stored as the last
        // round's and shown by `recpool job --json` as an empty object.
        let metrics = model.report.metrics.map { String(decoding: WireJSON.encode($0), as: UTF8.self) }
        var promote = model.promote
        if promote, let problem = ServableCheckpoint.problem(model.checkpoint) {
            logger.error(
                "the completed job's model version is not promoted: a scoring replica cannot serve it",
                metadata: ["job_id": "\(model.job.id)", "error": "\(problem)"])
            promote = false
        }
        let registered: ModelRecord
        do {
            registered = try store.completeJob(
                model.job, datasetSHA: model.report.datasetSHA, metrics: metrics, checkpointSHA: sha, promote: promote,
                lastRoundMetrics: model.lastRoundMetrics.map { String(decoding: WireJSON.encode($0), as: UTF8.self) })
        } catch {
            // Nothing was registered: the checkpoint's blob, named by no version, goes too (a retry puts it again).
            store.releaseUnregisteredCheckpoint(sha)
            throw error
        }
        do {
            try publishRegistry()
        } catch {
            // Stored: the reactor keeps its registry, which lacks the new version, so a worker claiming it
            // takes no work until a later publication.
            logger.error("cannot read the model registry to publish it", metadata: ["error": "\(error)"])
        }
        if promote { publishRollout(registered, bytes: model.checkpoint) }
        return registered.version
    }
}

/// A completed job's final checkpoint (a worker's ROUND_RESULT) that does not decode: the job fails with this, and no
/// version is registered.
struct UndecodableCheckpoint: Error, CustomStringConvertible {
    /// Why it does not decode.
    let error: CheckpointError
    var description: String { "the final checkpoint does not decode: \(error)" }
}
