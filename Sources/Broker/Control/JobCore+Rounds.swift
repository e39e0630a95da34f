import Logging
import RecStore
import RecWire

extension JobCore {
    /// Sends round `record.round + 1` to the live workers, one shard each: a DQN shard to the worker it was last sent
    /// to while that worker is live and answering (``RunningJob/shardHomes``), the others by load
    /// (``pickWorker(avoiding:load:)``).
    mutating func startRound(_ id: String, nowMs: UInt64, into actions: inout [JobAction]) {
        guard var job = jobs[id], !workers.isEmpty else { return }
        if let total = job.totalSteps, job.record.round * job.spec.syncEvery >= total {
            finalize(id, nowMs: nowMs, into: &actions)
            return
        }
        let round = job.record.round + 1
        var load = outstanding()
        let attempt = job.nextAttempt()
        var pending: [Int: Dispatch] = [:]
        // A DQN shard goes back to the worker it was last sent to while that worker is live and answering (its
        // replica's replay buffer is there: ``RunningJob/shardHomes``), up to its share of the job's shards (several
        // shards share a worker when the job has more shards than live workers); the others, and an MLP job's shards
        // (whose whole state travels with the round, so a home buys nothing and load balance does), are placed by load.
        if job.spec.model == "dqn" {
            let live = Set(workers.map(\.identity))
            let share = (job.spec.workers + max(workers.count, 1) - 1) / max(workers.count, 1)
            for shard in 0..<job.spec.workers {
                guard let home = job.shardHomes[shard], live.contains(home), !job.silent.contains(home),
                    pending.values.filter({ $0.worker == home }).count < share
                else { continue }
                load[home, default: 0] += 1
                pending[shard] = Dispatch(worker: home, attempt: attempt, stateSHA: job.stateSHA)
            }
        }
        for shard in 0..<job.spec.workers where pending[shard] == nil {
            guard let worker = pickWorker(avoiding: job.silent, load: &load) else { return }
            pending[shard] = Dispatch(worker: worker, attempt: attempt, stateSHA: job.stateSHA)
        }
        for (shard, dispatch) in pending { job.shardHomes[shard] = dispatch.worker }
        if job.record.state == .queued {
            job.record.state = .running
            actions.append(.persist(job.record, what: "the job's start"))
        }
        job.phase = .training(round: round, startedMs: nowMs, pending: pending, results: [:])
        jobs[id] = job
        for (shard, dispatch) in pending.sorted(by: { $0.key < $1.key }) {
            send(job: job, round: round, shard: shard, to: dispatch, finalize: false, into: &actions)
        }
    }

    /// The uploaded dataset's SHA-256, when the job trains on one.
    static func uploadedDataset(_ spec: TrainJobSpec) -> String? {
        spec.dataset.hasPrefix("sha256:") ? String(spec.dataset.dropFirst(7)) : nil
    }

    /// The SHA-256 of every uploaded file a worker needs for the job: the log and, for a shop's log, its
    /// catalogue. A worker keeps shipped bytes by their own SHA-256 and resolves any schema from them, so
    /// what it holds is known per file, whatever the schema.
    static func uploadedFiles(_ spec: TrainJobSpec) -> [String] {
        guard let log = uploadedDataset(spec) else { return [] }
        let catalogue = spec.catalogue.flatMap { $0.hasPrefix("sha256:") ? String($0.dropFirst(7)) : nil }
        return [log] + (catalogue.map { [$0] } ?? [])
    }

    /// Whether `worker` is believed to hold every uploaded file of the job (a job with none: true).
    func holdsFiles(_ worker: [UInt8], of spec: TrainJobSpec) -> Bool {
        Self.uploadedFiles(spec).allSatisfy { datasetHolders[$0]?.contains(worker) ?? false }
    }

    /// A round failed on a worker that was sent no bytes because the core believed it held them: it may have
    /// dropped them from its bounded cache. Forgets the belief and reports whether the round should go
    /// again with the bytes (a worker sent the bytes that still fails fails the job).
    mutating func forgetDroppedFiles(_ worker: [UInt8], of spec: TrainJobSpec) -> Bool {
        let files = Self.uploadedFiles(spec)
        guard !files.isEmpty, holdsFiles(worker, of: spec) else { return false }
        for file in files { datasetHolders[file]?.remove(worker) }
        return true
    }

    /// Asks for one shard's TRAIN_ROUND (or the finalize request) to go out as `dispatch` (its worker and attempt).
    func send(
        job: RunningJob, round: Int, shard: Int, to dispatch: Dispatch, finalize: Bool, into actions: inout [JobAction]
    ) {
        let worker = dispatch.worker
        let attach = holdsFiles(worker, of: job.spec) ? nil : Self.uploadedDataset(job.spec)
        let assignment = RoundAssignment(
            job: job.record.id, round: round, shard: shard, shards: job.spec.workers,
            fromStep: job.record.round * job.spec.syncEvery, steps: finalize ? 0 : job.spec.syncEvery, spec: job.spec,
            // Shard 0 measures the state it receives, the average after the previous round (none before round 2).
            stateSHA: job.stateSHA, evaluate: (shard == 0 && round > 1) || finalize, finalize: finalize,
            datasetIncluded: attach != nil)
        // A shop's log travels with its catalogue (frame 4), so the worker can resolve the schema.
        let catalogue = attach == nil ? nil : job.spec.catalogue.flatMap { $0.hasPrefix("sha256:") ? String($0.dropFirst(7)) : nil }
        actions.append(
            .sendShard(
                ShardToSend(
                    worker: worker, attempt: dispatch.attempt, assignment: assignment, state: job.state, dataset: attach,
                    catalogue: catalogue)))
    }

    /// Handles a worker's ROUND_RESULT.
    mutating func handleRoundResult(
        identity: [UInt8], message: WireMessage, nowMs: UInt64, into actions: inout [JobAction]
    ) {
        guard message.header.command == .roundResult, let first = message.payload.first else {
            actions.append(.log(.warning, "a replica sent a ROUND_RESULT with no report frame; ignored", [:]))
            return
        }
        let report: RoundReport
        do {
            report = try WireJSON.decode(RoundReport.self, from: first)
        } catch {
            // Which job it answers is unknown: the round waits for the others or its timeout, so say why here.
            actions.append(
                .log(
                    .warning, "a replica's ROUND_RESULT does not decode; the round goes on without it",
                    ["error": "\(error)", "request_id": "\(message.header.requestId)"]))
            return
        }
        guard var job = jobs[report.job] else {
            // A late result of a job that ended (cancelled, failed, finished): nothing waits for it.
            actions.append(
                .log(.debug, "a ROUND_RESULT for a job that is not running; ignored", ["job_id": "\(report.job)"]))
            return
        }
        let body = message.payload.count > 1 ? message.payload[1] : []
        if report.error == nil {
            for file in Self.uploadedFiles(job.spec) { datasetHolders[file, default: []].insert(identity) }
        }
        let attempt = message.header.attempt
        switch job.phase {
        case .finalizing(let sent, _):
            guard
                Self.answers(report, attempt: attempt, from: identity, to: sent, round: job.record.round + 1, shard: 0)
            else {
                return dropStale(report, attempt: attempt, from: identity, expected: sent, into: &actions)
            }
            job.silent.remove(identity)
            if let error = report.error {
                if RoundReport.isMissingFiles(error), forgetDroppedFiles(identity, of: job.spec) {
                    let again = Dispatch(worker: identity, attempt: job.nextAttempt(), stateSHA: job.stateSHA)
                    job.phase = .finalizing(again, sentMs: nowMs)
                    jobs[report.job] = job
                    return resend(job, round: report.round, shard: 0, to: again, finalize: true, into: &actions)
                }
                return fail(
                    report.job, "worker \(name(of: identity)) could not finalize: \(describe(error, of: job))",
                    into: &actions)
            }
            // The checkpoint must be of the state sent: another state's would be registered under this job's metrics.
            guard Self.startedFrom(sent, report) else {
                return rejectInconsistent(report, expected: sent, into: &actions)
            }
            // Checked like a training round's report: a final report with a negative count or a loss that is not
            // finite would be registered as the model's metrics.
            if let problem = report.problem {
                return fail(
                    report.job, "the final report of worker \(name(of: identity)) is invalid: \(problem)", into: &actions)
            }
            if job.spec.restoreBest != false, let best = job.best, let final = report.metrics?["val_loss"] ?? nil,
                final.isFinite, best.loss < final
            {
                // The last average validates worse than an earlier one: checkpoint the best round's state instead.
                actions.append(
                    .log(
                        .info, "final state validates worse than the best round; checkpointing the best",
                        ["job_id": "\(report.job)", "best_val_loss": "\(best.loss)", "final_val_loss": "\(final)"]))
                job.state = best.state
                job.stateSHA = best.stateSHA
                job.best = nil
                job.lastRoundMetrics = report.metrics
                // A new request: only its answer (this attempt, the best state) is registered; the answer to an
                // earlier finalize request still on its way (the last state's) is dropped as stale.
                let again = Dispatch(worker: identity, attempt: job.nextAttempt(), stateSHA: best.stateSHA)
                job.phase = .finalizing(again, sentMs: nowMs)
                jobs[report.job] = job
                return send(job: job, round: report.round, shard: 0, to: again, finalize: true, into: &actions)
            }
            job.phase = .registering
            jobs[report.job] = job
            actions.append(
                .register(
                    ModelToRegister(
                        job: job.record, report: report, checkpoint: body, promote: job.spec.promote,
                        lastRoundMetrics: job.lastRoundMetrics))
            )
        case .training(let round, let started, var pending, var results):
            guard let sent = pending[report.shard],
                Self.answers(report, attempt: attempt, from: identity, to: sent, round: round, shard: report.shard)
            else {
                return dropStale(
                    report, attempt: attempt, from: identity, expected: pending[report.shard], into: &actions)
            }
            job.silent.remove(identity)
            if let error = report.error {
                // Only an error about missing files is helped by sending them: any other (a model too large for the
                // dataset's width) was blamed on them and the dataset shipped again for nothing.
                if RoundReport.isMissingFiles(error), forgetDroppedFiles(identity, of: job.spec) {
                    let again = Dispatch(worker: identity, attempt: job.nextAttempt(), stateSHA: job.stateSHA)
                    pending[report.shard] = again
                    job.phase = .training(round: round, startedMs: started, pending: pending, results: results)
                    jobs[report.job] = job
                    return resend(job, round: round, shard: report.shard, to: again, finalize: false, into: &actions)
                }
                // Named with its worker: an error about the worker's own disk (the OBD sample it reads) said
                // nothing of which host to look at.
                return fail(
                    report.job,
                    "round \(round), shard \(report.shard) on worker \(name(of: identity)): \(describe(error, of: job))",
                    into: &actions)
            }
            guard Self.startedFrom(sent, report) else {
                return rejectInconsistent(report, expected: sent, into: &actions)
            }
            if let problem = report.problem {
                return fail(
                    report.job, "round \(round), shard \(report.shard) on worker \(name(of: identity)): \(problem)",
                    into: &actions)
            }
            pending[report.shard] = nil
            results[report.shard] = ShardResult(report: report, pack: body)
            // The job's total is its longest shard's, known once every shard has said its own: shards can differ
            // (uneven rows), and one shard's shorter total would end the job before the others' steps were run.
            job.shardTotals[report.shard] = report.totalSteps
            if job.shardTotals.count >= job.spec.workers, let longest = job.shardTotals.values.max() {
                job.totalSteps = longest
            }
            job.datasetSHA = report.datasetSHA
            job.phase = .training(round: round, startedMs: started, pending: pending, results: results)
            jobs[report.job] = job
            if pending.isEmpty { closeRound(report.job, nowMs: nowMs, into: &actions) }
        case .waiting, .storing, .registering:
            dropStale(report, attempt: attempt, from: identity, expected: nil, into: &actions)
        }
    }

    /// Whether `report` (with the header's echoed `attempt`, from `identity`) is the answer to the request `sent`:
    /// the same worker, round, shard and attempt. Whether it started from the state sent is checked after
    /// (``startedFrom(_:_:)``): a mismatch there is a replica that trained something else, not a late answer.
    static func answers(
        _ report: RoundReport, attempt: UInt16, from identity: [UInt8], to sent: Dispatch, round: Int, shard: Int
    ) -> Bool {
        identity == sent.worker && attempt == sent.attempt && report.round == round && report.shard == shard
    }

    /// Whether a replica started from the state `sent` named (`received_state_sha`); round 1 sends none (the replicas
    /// start from the seed), so anything goes there.
    static func startedFrom(_ sent: Dispatch, _ report: RoundReport) -> Bool {
        sent.stateSHA.isEmpty || report.receivedStateSHA == sent.stateSHA
    }

    /// Counts and logs a result whose replica started from another state than the one sent.
    mutating func rejectInconsistent(_ report: RoundReport, expected: Dispatch, into actions: inout [JobAction]) {
        inconsistentReplicas += 1
        actions.append(
            .log(
                .error, "replica started from a different state; result rejected",
                [
                    "job_id": "\(report.job)", "round": "\(report.round)", "shard": "\(report.shard)",
                    "received_state_sha": "\(report.receivedStateSHA)", "sent_state_sha": "\(expected.stateSHA)",
                ]))
    }

    /// A ROUND_RESULT that answers no request out (an earlier attempt of the round, a final request sent again with
    /// another state, a round already closed): counted, logged with what it names and what was expected, never used.
    mutating func dropStale(
        _ report: RoundReport, attempt: UInt16, from identity: [UInt8], expected: Dispatch?,
        into actions: inout [JobAction]
    ) {
        staleResults += 1
        // An answer to this round's earlier attempt (it came after that attempt timed out): counted for the job's
        // error, should the round run out of attempts.
        if var job = jobs[report.job], report.round == job.record.round + 1, report.error == nil {
            job.lateAnswers += 1
            jobs[report.job] = job
        }
        var metadata: Logger.Metadata = [
            "job_id": "\(report.job)", "round": "\(report.round)", "shard": "\(report.shard)",
            "attempt": "\(attempt)", "worker": "\(name(of: identity))",
            "received_state_sha": "\(report.receivedStateSHA)",
        ]
        if let expected {
            metadata["expected_attempt"] = "\(expected.attempt)"
            metadata["expected_worker"] = "\(name(of: expected.worker))"
            metadata["expected_state_sha"] = "\(expected.stateSHA)"
        }
        actions.append(.log(.warning, "stale ROUND_RESULT dropped: it answers no request that is out", metadata))
    }

    /// Sends a shard again, with the uploaded bytes, to the worker that could not find them.
    func resend(
        _ job: RunningJob, round: Int, shard: Int, to worker: Dispatch, finalize: Bool, into actions: inout [JobAction]
    ) {
        actions.append(
            .log(
                .warning, "worker no longer holds the uploaded files; sending the round again with them",
                ["job_id": "\(job.record.id)", "round": "\(round)", "shard": "\(shard)"]))
        send(job: job, round: round, shard: shard, to: worker, finalize: finalize, into: &actions)
    }

    /// A worker's error with each uploaded file's `sha256:<hex>` followed by the name it was uploaded
    /// under (`sha256:1aa3… (logs.csv)`), so the operator sees which file is meant.
    func describe(_ error: String, of job: RunningJob) -> String {
        var text = error
        for (sha, name) in job.uploadNames.sorted(by: { $0.key < $1.key }) where !name.isEmpty {
            text = text.replacing("sha256:\(sha)", with: "sha256:\(sha) (\(name))")
        }
        return text
    }

    /// The round's training loss: the replicas' losses weighted by their samples, over the replicas that measured
    /// one (a replica with no gradient step reports none); nil when none did, or none of them trained on a row.
    static func meanLoss(_ reports: [RoundReport]) -> Double? {
        let measured = reports.compactMap { report in report.loss.map { (loss: $0, samples: report.samples) } }
        let samples = measured.reduce(0) { $0.addingSaturating($1.samples) }
        guard samples > 0 else { return nil }
        return measured.reduce(0) { $0 + $1.loss * (Double($1.samples) / Double(samples)) }
    }

    /// Averages the results that arrived and asks for the round to be stored (training → storing).
    mutating func closeRound(_ id: String, nowMs: UInt64, into actions: inout [JobAction]) {
        guard var job = jobs[id], case .training(let round, let started, let pending, let results) = job.phase else {
            return
        }
        let ordered = results.sorted { $0.key < $1.key }.map(\.value)
        // A replica that trained no row (its shard has no steps left: uneven shards near the end) carries no update.
        // With only such answers and a shard still out, the round has no update yet: it goes again, as if no replica
        // had answered, instead of being averaged from weights that sum to 0.
        if !pending.isEmpty, !ordered.contains(where: { $0.report.samples > 0 }) {
            let idle = results.keys.sorted().map(String.init).joined(separator: ", ")
            actions.append(
                .log(
                    .warning, "the replicas that answered had no rows left to train; the round goes again",
                    ["job_id": "\(id)", "round": "\(round)", "answered_shards": "\(idle)"]))
            return retry(id, nowMs: nowMs, into: &actions)
        }
        let averaged: ParameterPack
        do {
            averaged = try Self.average(ordered, carrying: job.state)
        } catch {
            return fail(id, "round \(round) could not be averaged: \(error)", into: &actions)
        }
        // Reports were checked on arrival (`RoundReport.problem`): counts ≥ 0, losses finite. The mean loss weighs
        // each replica that measured one by its share of their samples, so it stays finite however large the
        // counts; with no replica that took a gradient step the round's loss is undefined (nil), never 0.
        let samples = ordered.reduce(0) { $0.addingSaturating($1.report.samples) }
        let loss = Self.meanLoss(ordered.map(\.report))
        let metrics = ordered.first { $0.report.metrics != nil }?.report.metrics
        // The metrics describe the state this round started from (`job.state`), the average of the round before.
        if round > 1, let loss = metrics?["val_loss"] ?? nil, loss.isFinite, loss < job.best?.loss ?? .infinity {
            job.best = (loss, job.state, job.stateSHA)
        }
        let H = job.spec.syncEvery
        var record = job.record
        record.round = round
        record.step = min(round * H, job.totalSteps ?? round * H)
        record.epoch = ordered.map(\.report.epoch).max() ?? record.epoch
        record.loss = loss
        if loss != nil { job.stepped = true }
        if let metrics { record.metrics = String(decoding: WireJSON.encode(metrics), as: UTF8.self) }
        if let total = job.totalSteps { record.totalRounds = total.addingSaturating(H - 1) / H }
        // The metrics a replica reports describe the state it received: the average after the previous round,
        // so they are stored with that round, and this round's record gets its metrics from the next round.
        let roundRecord = RoundRecord(
            jobId: id, round: round, loss: loss, samples: samples, replicas: ordered.count, metrics: nil,
            // A round started before a restart on a clock then ahead of this one: 0 s, never a wrapped 1.8e16 s.
            stateSHA: "", seconds: Double(nowMs > started ? nowMs - started : 0) / 1000)
        let previousMetrics = round > 1 ? metrics.map { String(decoding: WireJSON.encode($0), as: UTF8.self) } : nil
        let toStore = RoundToStore(
            state: averaged.encoded(), round: roundRecord, job: record, previousRoundMetrics: previousMetrics)
        job.phase = .storing(toStore)
        jobs[id] = job
        actions.append(.storeRound(toStore))
    }

    /// The replicas' packs weighted by their samples; when every shard answered and none trained a row (the job's
    /// steps are run out), the state is carried over unchanged: `state`, or in round 1 (no state sent yet) the
    /// replicas' own, which all start from the job's seed, averaged with equal weights.
    static func average(_ results: [ShardResult], carrying state: [UInt8]) throws(WireError) -> ParameterPack {
        let packs = try results.map { result throws(WireError) in
            (pack: try ParameterPack(decoding: result.pack), weight: Double(result.report.samples))
        }
        if packs.contains(where: { $0.weight > 0 }) { return try ParameterPack.weightedMean(packs) }
        if !state.isEmpty { return try ParameterPack(decoding: state) }
        return try ParameterPack.weightedMean(packs.map { ($0.pack, 1) })
    }

    /// The round's write: stored, the job takes the averaged state and starts the next round (storing →
    /// training); not stored, it fails.
    mutating func roundStored(
        _ id: String, result: Result<String, StoreError>, nowMs: UInt64, into actions: inout [JobAction]
    ) {
        guard var job = jobs[id], case .storing(let stored) = job.phase else { return }
        let sha: String
        switch result {
        case .failure(let error):
            // The round was averaged; its state's write failed (a full disk, a read-only blob directory).
            return fail(id, "round \(stored.round.round)'s averaged state could not be stored: \(error)", into: &actions)
        case .success(let value): sha = value
        }
        job.record = stored.job
        job.record.stateSHA = sha
        unsavedJobs[id] = nil
        job.state = stored.state
        job.stateSHA = sha
        job.attempts = 0
        job.attempt = 0
        job.unanswered = [:]
        job.lateAnswers = 0
        job.phase = .waiting
        jobs[id] = job
        actions.append(
            .log(
                .info, "round complete",
                [
                    "job_id": "\(id)", "round": "\(stored.round.round)",
                    "loss": stored.round.loss.map { "\($0)" } ?? "none (no gradient step)",
                    "replicas": "\(stored.round.replicas)",
                ]))
        startRound(id, nowMs: nowMs, into: &actions)
    }

    /// Asks one worker for a checkpoint of the final state and its validation metrics.
    mutating func finalize(_ id: String, nowMs: UInt64, into actions: inout [JobAction]) {
        guard var job = jobs[id] else { return }
        // No round in which a replica took a gradient step (a DQN replica steps only once its replay buffer holds a
        // batch): the state is the untrained one, which must never be registered as the job's model. A last round
        // without a step after rounds with steps leaves a trained state, which is registered.
        if job.record.round > 0, !job.stepped {
            let why =
                job.spec.model == "dqn"
                ? "a DQN replica steps once its replay buffer holds a batch of \(job.spec.batch) transitions; give more "
                    + "rows or epochs per replica, fewer workers, or a smaller --batch"
                : "give more rows per replica, fewer workers, or a smaller --batch"
            return fail(
                id, "no replica took a training step in any of the \(job.record.round) round(s), so the model is untrained: \(why)",
                into: &actions)
        }
        var load = outstanding()
        guard let worker = pickWorker(avoiding: job.silent, load: &load) else { return }
        let dispatch = Dispatch(worker: worker, attempt: job.nextAttempt(), stateSHA: job.stateSHA)
        job.phase = .finalizing(dispatch, sentMs: nowMs)
        jobs[id] = job
        send(job: job, round: job.record.round + 1, shard: 0, to: dispatch, finalize: true, into: &actions)
    }

    /// The registration's result: the job is complete, or it fails.
    mutating func registered(_ id: String, result: Result<UInt64, any Error>, into actions: inout [JobAction]) {
        guard let job = jobs[id], case .registering = job.phase else { return }
        switch result {
        case .success(let version):
            unsavedJobs[id] = nil
            jobs[id] = nil
            actions.append(.log(.info, "job complete", ["job_id": "\(id)", "model_version": "\(version)"]))
        case .failure(let error):
            fail(id, "could not register the model: \(error)", into: &actions)
        }
    }
}
