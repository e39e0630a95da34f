import Foundation
import Metrics
import RecStore
import RecWire

extension JobCoordinator {
    /// Sends round `record.round + 1` to the live workers, one shard each (round-robin).
    func startRound(_ id: String, nowMs: UInt64) {
        guard var job = jobs[id], !workers.isEmpty else { return }
        if let total = job.totalSteps, job.record.round * job.spec.syncEvery >= total {
            finalize(id, nowMs: nowMs)
            return
        }
        let round = job.record.round + 1
        var pending: [Int: [UInt8]] = [:]
        for shard in 0..<job.spec.workers {
            guard let worker = pickWorker(for: shard) else { return }
            pending[shard] = worker
        }
        if job.record.state == .queued {
            job.record.state = .running
            persist(job.record, what: "the job's start")
        }
        job.phase = .training(round: round, startedMs: nowMs, pending: pending, results: [:])
        jobs[id] = job
        for (shard, worker) in pending.sorted(by: { $0.key < $1.key }) {
            send(job: job, round: round, shard: shard, to: worker, finalize: false)
        }
    }

    /// Sends one shard's TRAIN_ROUND (or the finalize request) to `worker`.
    func send(job: RunningJob, round: Int, shard: Int, to worker: [UInt8], finalize: Bool) {
        let H = job.spec.syncEvery
        var frames: [[UInt8]] = []
        let uploaded = job.spec.dataset.hasPrefix("sha256:") ? String(job.spec.dataset.dropFirst(7)) : nil
        var dataset: [UInt8]? = nil
        var catalogueBytes: [UInt8]? = nil
        if let uploaded, !(datasetHolders[uploaded]?.contains(worker) ?? false) {
            do {
                dataset = try store.blobs.get(uploaded)
                // A shop's log travels with its catalogue (frame 4), so the worker can resolve the schema.
                if let catalogue = job.spec.catalogue, catalogue.hasPrefix("sha256:") {
                    catalogueBytes = try store.blobs.get(String(catalogue.dropFirst(7)))
                }
            } catch {
                fail(job.record.id, "the uploaded dataset cannot be read: \(error)")
                return
            }
        }
        let assignment = RoundAssignment(
            job: job.record.id, round: round, shard: shard, shards: job.spec.workers,
            fromStep: job.record.round * H, steps: finalize ? 0 : H, spec: job.spec, stateSHA: job.stateSHA,
            // Shard 0 measures the state it receives, the average after the previous round (none before round 2).
            evaluate: (shard == 0 && round > 1) || finalize, finalize: finalize, datasetIncluded: dataset != nil)
        frames.append(Header(command: .trainRound, requestId: UInt64(round)).encoded())
        frames.append(WireJSON.encode(assignment))
        frames.append(job.state)
        if let dataset { frames.append(dataset) }
        if dataset != nil, let catalogueBytes { frames.append(catalogueBytes) }
        emit(.toWorker(identity: worker, frames: frames))
    }

    /// Handles a worker's ROUND_RESULT.
    func handleWorker(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        guard message.header.command == .roundResult, let first = message.payload.first,
            let report = try? WireJSON.decode(RoundReport.self, from: first), var job = jobs[report.job]
        else { return }
        let body = message.payload.count > 1 ? message.payload[1] : []
        if let uploaded = job.spec.dataset.hasPrefix("sha256:") ? String(job.spec.dataset.dropFirst(7)) : nil,
            report.error == nil
        {
            datasetHolders[uploaded, default: []].insert(identity)
        }
        switch job.phase {
        case .finalizing(let worker, _) where worker == identity && report.round == job.record.round + 1:
            if let error = report.error {
                fail(report.job, "worker could not finalize: \(error)")
                return
            }
            register(report.job, report: report, checkpoint: body, nowMs: nowMs)
        case .training(let round, let started, var pending, var results)
        where round == report.round && pending[report.shard] == identity:
            if let error = report.error {
                fail(report.job, "round \(round), shard \(report.shard): \(error)")
                return
            }
            guard report.receivedStateSHA == job.stateSHA || (job.stateSHA.isEmpty && round == 1) else {
                inconsistentReplicas += 1
                logger.error(
                    "replica started from a different state; result rejected",
                    metadata: ["job_id": "\(report.job)", "shard": "\(report.shard)"])
                return
            }
            pending[report.shard] = nil
            results[report.shard] = Result(report: report, pack: body)
            job.totalSteps = max(job.totalSteps ?? 0, report.totalSteps)
            job.datasetSHA = report.datasetSHA
            job.phase = .training(round: round, startedMs: started, pending: pending, results: results)
            jobs[report.job] = job
            if pending.isEmpty { closeRound(report.job, nowMs: nowMs) }
        default:
            logger.debug("late or unexpected round result dropped", metadata: ["job_id": "\(report.job)", "round": "\(report.round)"])
        }
    }

    /// Averages the results that arrived, stores the round, and starts the next one.
    func closeRound(_ id: String, nowMs: UInt64) {
        guard var job = jobs[id], case .training(let round, let started, _, let results) = job.phase else { return }
        let ordered = results.sorted { $0.key < $1.key }.map(\.value)
        do {
            let packs = try ordered.map { result throws(WireError) in
                (pack: try ParameterPack(decoding: result.pack), weight: Double(result.report.samples))
            }
            let averaged = try ParameterPack.weightedMean(packs)
            let bytes = averaged.encoded()
            let sha = try store.blobs.put(bytes)
            let samples = ordered.reduce(0) { $0.addingSaturating(max(0, $1.report.samples)) }  // workers' numbers
            let loss = samples > 0 ? ordered.reduce(0) { $0 + $1.report.loss * Double($1.report.samples) } / Double(samples) : 0
            // The metrics a replica reports describe the state it received: the average after the previous round.
            let metrics = ordered.first { $0.report.metrics != nil }?.report.metrics
            if let metrics, round > 1 {
                try store.setRoundMetrics(
                    jobId: id, round: round - 1, metrics: String(decoding: WireJSON.encode(metrics), as: UTF8.self))
            }
            let H = job.spec.syncEvery
            job.record.round = round
            job.record.step = min(round * H, job.totalSteps ?? round * H)
            job.record.epoch = ordered.map(\.report.epoch).max() ?? job.record.epoch
            job.record.loss = loss
            if let metrics { job.record.metrics = String(decoding: WireJSON.encode(metrics), as: UTF8.self) }
            job.record.stateSHA = sha
            if let total = job.totalSteps { job.record.totalRounds = total.addingSaturating(H - 1) / H }
            let record = RoundRecord(
                jobId: id, round: round, loss: loss, samples: samples, replicas: ordered.count,
                metrics: nil, stateSHA: sha,
                seconds: Double(nowMs &- started) / 1000)
            try store.completeRound(record, job: job.record)
            unsavedJobs[id] = nil
            job.state = bytes
            job.stateSHA = sha
            job.attempts = 0
            job.phase = .waiting
            jobs[id] = job
            Counter(label: "recpool_broker_training_rounds_total").increment()
            logger.info(
                "round complete",
                metadata: ["job_id": "\(id)", "round": "\(round)", "loss": "\(loss)", "replicas": "\(ordered.count)"])
            startRound(id, nowMs: nowMs)
        } catch {
            fail(id, "round \(round) could not be averaged: \(error)")
        }
    }

    /// Asks one worker for a checkpoint of the final state and its validation metrics.
    func finalize(_ id: String, nowMs: UInt64) {
        guard var job = jobs[id], let worker = pickWorker(for: 0) else { return }
        job.phase = .finalizing(worker: worker, sentMs: nowMs)
        jobs[id] = job
        send(job: job, round: job.record.round + 1, shard: 0, to: worker, finalize: true)
    }

    /// Registers the final checkpoint as a model version, completes the job, and promotes if asked.
    func register(_ id: String, report: RoundReport, checkpoint: [UInt8], nowMs: UInt64) {
        guard var job = jobs[id] else { return }
        do {
            let sha = try store.blobs.put(checkpoint)
            let metrics = String(decoding: WireJSON.encode(report.metrics ?? [:]), as: UTF8.self)
            // The final state is the average after the last round: its metrics are that round's.
            if job.record.round > 0 { try store.setRoundMetrics(jobId: id, round: job.record.round, metrics: metrics) }
            let version = try store.registerModel(
                job: id, datasetSHA: report.datasetSHA, hyperparameters: job.record.spec, metrics: metrics,
                checkpointSHA: sha)
            publishRegistry()
            job.record.state = .completed
            job.record.modelVersion = version
            job.record.metrics = metrics
            try store.updateJob(job.record)
            unsavedJobs[id] = nil
            jobs[id] = nil
            logger.info("job complete", metadata: ["job_id": "\(id)", "model_version": "\(version)"])
            if job.spec.promote, let model = try store.model(version) {
                try store.promote(version)
                publishRollout(model, bytes: checkpoint)
            }
        } catch {
            fail(id, "could not register the model: \(error)")
        }
    }

    /// Marks a job failed, durably (a failed write is surfaced by ``persist(_:what:)``).
    func fail(_ id: String, _ why: String) {
        guard var job = jobs[id] else { return }
        logger.error("job failed", metadata: ["job_id": "\(id)", "error": "\(why)"])
        job.record.state = .failed
        job.record.error = why
        persist(job.record, what: "the job's failure")
        jobs[id] = nil
    }

    /// Writes a job's record durably. A failure is not swallowed: it is logged, counted
    /// (``durableWriteFailures`` and `recpool_broker_durable_write_failures_total`) and remembered, so
    /// the job's views (`job`, `jobs`) show the record as it is and say that it is not stored.
    func persist(_ record: JobRecord, what: String) {
        do {
            try writeJob(record)
            unsavedJobs[record.id] = nil
        } catch {
            noteDurableWriteFailure(job: record.id, what: what, error: error)
            unsavedJobs[record.id] = UnsavedJob(record: record, error: "\(error)")
        }
    }

    /// Logs and counts a durable write that failed.
    func noteDurableWriteFailure(job: String, what: String, error: any Error) {
        durableWriteFailures += 1
        Counter(label: "recpool_broker_durable_write_failures_total").increment()
        logger.error(
            "durable write failed", metadata: ["job_id": "\(job)", "what": "\(what)", "error": "\(error)"])
    }

    /// A version's record and its checkpoint bytes, read and verified against the checkpoint's hash.
    /// - Throws: ``StoreError/unknownModel(_:)``, ``StoreError/missingBlob(_:)``, or
    ///   ``StoreError/corruptBlob(_:)`` (the blob was quarantined; importing the same file repairs it).
    func verifiedCheckpoint(_ version: UInt64) throws(StoreError) -> (ModelRecord, [UInt8]) {
        guard let model = try store.model(version) else { throw .unknownModel(version) }
        do {
            return (model, try store.blobs.get(model.checkpointSHA))
        } catch {
            logger.error(
                "the checkpoint of a model version cannot be served",
                metadata: ["model_version": "\(version)", "error": "\(error)"])
            throw error
        }
    }

    /// Tells the reactor to roll `model` (whose verified checkpoint is `bytes`) out to every scoring replica.
    func publishRollout(_ model: ModelRecord, bytes: [UInt8]) {
        let frames = [
            Header(command: .weights, modelVersion: model.version).encoded(),
            WireJSON.encode(WeightsNotice(version: model.version, sha256: model.checkpointSHA)), bytes,
        ]
        emit(.rollout(version: model.version, frames: frames))
    }

    /// Tells the reactor every registered version's checkpoint hash, so workers' claims are checked.
    func publishRegistry() {
        let models: [ModelRecord]
        do {
            models = try store.models()
        } catch {
            // A read, not a write: the reactor keeps the registry it has, and workers' claims are
            // checked against it until the next registration publishes again.
            logger.error("cannot read the model registry to publish it", metadata: ["error": "\(error)"])
            return
        }
        emit(.registry(Dictionary(models.map { ($0.version, $0.checkpointSHA) }, uniquingKeysWith: { a, _ in a })))
    }

    /// Tells the reactor that `version` is promoted although its checkpoint cannot be read: no
    /// WEIGHTS go out, and workers without a registered model take no work until it is repaired.
    func publishUnavailableRollout(_ version: UInt64) {
        emit(.rollout(version: version, frames: []))
    }
}
