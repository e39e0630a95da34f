import BrokerCore
import RecStore
import RecWire

/// Training jobs as a value with no I/O: events in, actions out, like ``OnlineCore``.
///
/// Each round, every shard of the job's training data goes to a worker with the current averaged
/// state; each replica runs `sync_every` local steps and returns its state; the core averages the
/// states weighted by samples, asks for the round to be stored (``JobAction/storeRound(_:)``) and starts
/// the next once ``JobEvent/roundStored(job:_:)`` says it is. A round closes on its timeout with the
/// results that arrived; the shard of a dead worker goes to a live one. The last round asks one worker
/// for a checkpoint of the final state and its validation metrics, which become a registered model
/// version. ``JobCoordinator`` is the shell that performs the actions on the store and the reactor.
struct JobCore: ControlCore {
    /// One replica's answer to a round.
    struct ShardResult {
        var report: RoundReport
        var pack: [UInt8]
    }

    enum Phase {
        /// Waiting for a live worker.
        case waiting
        /// A round is out: who holds which shard, and what came back.
        case training(round: Int, startedMs: UInt64, pending: [Int: [UInt8]], results: [Int: ShardResult])
        /// The averaged round is being stored.
        case storing(RoundToStore)
        /// The final state is out for a checkpoint.
        case finalizing(worker: [UInt8], sentMs: UInt64)
        /// The final checkpoint is being registered.
        case registering
    }

    /// A job the core runs.
    struct RunningJob {
        var record: JobRecord
        var spec: TrainJobSpec
        var state: [UInt8]
        var stateSHA: String
        var phase: Phase = .waiting
        var attempts = 0
        var totalSteps: Int?
        var datasetSHA = ""
        /// The names the job's uploaded files were uploaded under, by SHA-256 (hex), for its errors.
        var uploadNames: [String: String] = [:]
        /// The averaged state with the lowest validation loss measured so far (`val_loss`), with its SHA-256: the
        /// final checkpoint is taken from it when the last state validates worse (the best round is kept, as
        /// `recpool fit` keeps its best epoch). Rebuilt from the stored rounds when a job resumes after a broker
        /// restart (``JobCoordinator/bestStoredState(_:)``).
        var best: (loss: Double, state: [UInt8], stateSHA: String)?
        /// The last round's own validation metrics, kept when its state validated worse than ``best`` and the best
        /// was checkpointed instead: the last round is stored with these, never with the best state's.
        var lastRoundMetrics: MetricValues?
        /// Whether some round of this job had a replica take a gradient step (a loss): the state is trained. Rebuilt
        /// from the stored rounds when a job resumes.
        var stepped = false
    }

    /// Whether a job may have completed `round` rounds of `syncEvery` steps: 0 (none yet) or more, with the first
    /// step of the round after the next, `(round + 2) × syncEvery`, still a number, so the step arithmetic of every
    /// round this job can still send (the next one, a retry of it, the final one) cannot overflow. A stored round
    /// outside this is a damaged row (``ResumeProblem/impossibleRound(_:syncEvery:)``).
    static func isReachable(round: Int, syncEvery: Int) -> Bool {
        guard round >= 0, syncEvery >= 1 else { return false }
        let (next, overflow) = round.addingReportingOverflow(2)
        return !overflow && !next.multipliedReportingOverflow(by: syncEvery).overflow
    }

    /// The total local steps of a stored job, when its record shows them: once its stored rounds reach its planned
    /// rounds, its step count stopped at the total (``closeRound(_:nowMs:into:)`` stores
    /// `step = min(round × sync_every, total)` and `total_rounds = ⌈total / sync_every⌉`). `nil` before that (and
    /// before its first round): the next round's reports say it. A job resumed after its last round was stored
    /// thus goes straight to its final checkpoint instead of training a round past its end.
    static func knownTotalSteps(of record: JobRecord) -> Int? {
        guard record.round > 0, record.totalRounds > 0, record.round >= record.totalRounds else { return nil }
        return record.step
    }

    /// A job record the store does not hold as the core does.
    struct UnsavedJob {
        var record: JobRecord
        var error: String
    }

    var workers: [TrainingWorker] = []
    var jobs: [String: RunningJob] = [:]
    /// The workers believed to hold each uploaded file (log or catalogue), by the file's SHA-256 (hex).
    var datasetHolders: [String: Set<[UInt8]>] = [:]
    /// Replica results rejected because the state they started from was not the one sent.
    var inconsistentReplicas = 0
    /// Job records whose last change could not be written, with the store's error: the job's views
    /// show the record as the core holds it and say that it is not durable.
    var unsavedJobs: [String: UnsavedJob] = [:]
    /// Durable writes that failed since the broker started (also `recpool_broker_durable_write_failures_total`).
    var durableWriteFailures = 0

    /// Handles one event and appends the resulting actions to `actions`, in the order to perform them.
    mutating func handle(_ event: JobEvent, nowMs: UInt64, into actions: inout [JobAction]) {
        switch event {
        case .workers(let live): updateWorkers(live, nowMs: nowMs, into: &actions)
        case .tick: tick(nowMs: nowMs, into: &actions)
        case .roundResult(let identity, let message):
            handleRoundResult(identity: identity, message: message, nowMs: nowMs, into: &actions)
        case .accepted(let job):
            jobs[job.record.id] = job
            tick(nowMs: nowMs, into: &actions)
        case .cancelled(let id):
            jobs[id] = nil
            unsavedJobs[id] = nil
        case .fail(let id, let reason): fail(id, reason, into: &actions)
        case .datasetUnreadable(let id, let error):
            // Named as the operator uploaded them: `logs.csv (sha256:<hex>)`.
            let names = (jobs[id]?.uploadNames ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.value) (sha256:\($0.key))" }
            let named = names.isEmpty ? "" : " " + names.joined(separator: ", ")
            fail(id, "the uploaded dataset\(named) cannot be read: \(error)", into: &actions)
        case .roundStored(let id, let result): roundStored(id, result: result, nowMs: nowMs, into: &actions)
        case .registered(let id, let result): registered(id, result: result, into: &actions)
        case .persisted(let record, let what, let result):
            switch result {
            case .success: unsavedJobs[record.id] = nil
            case .failure(let error):
                durableWriteFailures += 1
                actions.append(
                    .log(
                        .error, "durable write failed",
                        ["job_id": "\(record.id)", "what": "\(what)", "error": "\(error)"]))
                unsavedJobs[record.id] = UnsavedJob(record: record, error: "\(error)")
            }
        }
    }

    /// The live workers changed: reassign shards held by the departed, start waiting jobs.
    mutating func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64, into actions: inout [JobAction]) {
        let previous = Set(workers.map(\.identity))
        workers = live.filter(\.trains).sorted { $0.id < $1.id }
        let current = Set(workers.map(\.identity))
        guard previous != current else { return }
        for (id, holders) in datasetHolders { datasetHolders[id] = holders.intersection(current) }
        for id in jobs.keys.sorted() {
            guard var job = jobs[id] else { continue }
            switch job.phase {
            case .training(let round, let started, var pending, let results):
                for (shard, worker) in pending.sorted(by: { $0.key < $1.key }) where !current.contains(worker) {
                    guard let replacement = pickWorker(for: shard) else { continue }
                    actions.append(
                        .log(
                            .warning, "reassigning shard of a departed worker",
                            ["job_id": "\(id)", "shard": "\(shard)"]))
                    pending[shard] = replacement
                    send(job: job, round: round, shard: shard, to: replacement, finalize: false, into: &actions)
                }
                job.phase = .training(round: round, startedMs: started, pending: pending, results: results)
            case .finalizing(let worker, _) where !current.contains(worker):
                job.phase = .waiting
            default:
                break
            }
            jobs[id] = job
        }
        tick(nowMs: nowMs, into: &actions)
    }

    /// Starts rounds for waiting jobs and closes rounds whose time is up.
    mutating func tick(nowMs: UInt64, into actions: inout [JobAction]) {
        for id in jobs.keys.sorted() {
            guard let job = jobs[id] else { continue }
            switch job.phase {
            case .waiting:
                if !workers.isEmpty { startRound(id, nowMs: nowMs, into: &actions) }
            case .training(let round, let started, _, let results):
                guard nowMs >= started.addingSaturating(job.spec.roundTimeoutMs) else { continue }
                if results.isEmpty {
                    retryRound(id, round: round, nowMs: nowMs, into: &actions)
                } else {
                    actions.append(
                        .log(
                            .warning, "round timed out; averaging the replicas that answered",
                            ["job_id": "\(id)", "round": "\(round)", "answered": "\(results.count)"]))
                    closeRound(id, nowMs: nowMs, into: &actions)
                }
            case .finalizing(_, let sent):
                if nowMs >= sent.addingSaturating(job.spec.roundTimeoutMs) {
                    retryRound(id, round: job.record.round + 1, nowMs: nowMs, into: &actions)
                }
            case .storing, .registering:
                break
            }
        }
    }

    private mutating func retryRound(_ id: String, round: Int, nowMs: UInt64, into actions: inout [JobAction]) {
        guard var job = jobs[id] else { return }
        job.attempts += 1
        job.phase = .waiting
        jobs[id] = job
        if job.attempts > 3 {
            fail(id, "no replica answered round \(round) after \(job.attempts) attempts", into: &actions)
        } else {
            actions.append(
                .log(.warning, "no replica answered; retrying the round", ["job_id": "\(id)", "round": "\(round)"]))
            startRound(id, nowMs: nowMs, into: &actions)
        }
    }

    func pickWorker(for shard: Int) -> [UInt8]? {
        guard !workers.isEmpty else { return nil }
        return workers[shard % workers.count].identity
    }

    /// Marks a job failed, durably (a failed write is surfaced by ``JobEvent/persisted(_:what:_:)``).
    mutating func fail(_ id: String, _ why: String, into actions: inout [JobAction]) {
        guard var job = jobs[id] else { return }
        actions.append(.log(.error, "job failed", ["job_id": "\(id)", "error": "\(why)"]))
        job.record.state = .failed
        job.record.error = why
        actions.append(.persist(job.record, what: "the job's failure"))
        jobs[id] = nil
    }
}
