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

    /// One request out to a worker, and what its ROUND_RESULT must name to be taken as the answer: the worker, the
    /// dispatch `attempt` (the header field the worker echoes) and the state sent (`received_state_sha`). An answer
    /// to an earlier request of the same round (a retry's stalled predecessor, the final request before it was sent
    /// again with the best state) names another attempt or state and is dropped (``JobCore/staleResults``).
    struct Dispatch: Equatable {
        var worker: [UInt8]
        var attempt: UInt16
        var stateSHA: String
    }

    enum Phase {
        /// Waiting for a live worker.
        case waiting
        /// A round is out: which request holds which shard, and what came back.
        case training(round: Int, startedMs: UInt64, pending: [Int: Dispatch], results: [Int: ShardResult])
        /// The averaged round is being stored.
        case storing(RoundToStore)
        /// The final state is out for a checkpoint.
        case finalizing(Dispatch, sentMs: UInt64)
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
        /// Times the current round (or the final checkpoint request) went out to no answer, reset when a round is stored.
        var attempts = 0
        /// The last dispatch attempt of the current round (or final request), from 1; every request of the round,
        /// first send, retry, reassignment or resend, gets a new one. Reset when a round is stored.
        var attempt: UInt16 = 0
        /// The display ids of the workers that were sent the current round's shards (by shard) or the final request
        /// (shard 0 of ``finalRequestShard``) and did not answer in time, for the job's error.
        var unanswered: [Int: [String]] = [:]
        /// Answers to an earlier attempt of the current round (or final request) that came after it timed out: the
        /// workers did answer, later than `round_timeout_ms`. Reset when a round is stored.
        var lateAnswers = 0
        /// Workers that let one of this job's requests time out and have not answered since: a new request goes to
        /// another live worker when there is one.
        var silent: Set<[UInt8]> = []
        /// The total steps each shard reported (`total_steps`): the job's total is known only once every shard
        /// has reported, never from a partial set (one shard's shorter total finalized a job early).
        var shardTotals: [Int: Int] = [:]
        /// The local steps of the job's longest shard, once known (every shard reported, or the stored record shows it).
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
        /// The worker each shard was last sent to. A DQN replica keeps its replay buffer and exploration schedule on
        /// its worker between rounds (docs/TRAINING.md), so a DQN shard goes back to the same live worker while it
        /// answers: handed round the pool by load, a job of fewer shards than workers met a fresh agent (empty buffer,
        /// ε at its start) every round, and a DQN shard never filled a batch.
        var shardHomes: [Int: [UInt8]] = [:]

        /// A new dispatch attempt for the current round (saturating: a round is sent a handful of times at most).
        mutating func nextAttempt() -> UInt16 {
            attempt = attempt == .max ? .max : attempt + 1
            return attempt
        }
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
    /// How many live workers that train are draining (left out of ``workers``), for a waiting job's reason.
    var drainingTrainers = 0
    /// The display ids of workers that left, by identity, for the errors that name where requests went
    /// (``name(of:)``); bounded, as workers come and go for the life of a broker.
    var departedNames: [[UInt8]: String] = [:]
    /// The most ``departedNames`` holds before it is emptied.
    static let departedNamesLimit = 4_096
    var jobs: [String: RunningJob] = [:]
    /// The workers believed to hold each uploaded file (log or catalogue), by the file's SHA-256 (hex).
    var datasetHolders: [String: Set<[UInt8]>] = [:]
    /// Replica results rejected because the state they started from was not the one sent.
    var inconsistentReplicas = 0
    /// ROUND_RESULTs dropped because they answer no request that is out: an earlier attempt of the round, a final
    /// request sent again, a worker the request did not go to.
    var staleResults = 0
    /// Where the next tie among equally loaded workers starts (``pickWorker(avoiding:load:)``), so ties rotate.
    var rotation = 0
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

    /// The live workers changed: reassign shards held by the departed, start waiting jobs. A draining worker counts
    /// as departed: it would leave without answering the shard it holds, so the shard goes out again now, not after
    /// the round's timeout, and it is given no new one.
    mutating func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64, into actions: inout [JobAction]) {
        let previous = Set(workers.map(\.identity))
        let trainers = live.filter { $0.trains && !$0.draining }.sorted { $0.id < $1.id }
        drainingTrainers = live.count { $0.trains && $0.draining }
        let draining = Set(live.filter(\.draining).map(\.identity))
        // A worker that sent READY again lost what it held with the registration it replaced: its shard goes out
        // again (to whichever worker is least loaded, it included), as a departed worker's does, never waiting for the
        // round's timeout.
        let registeredAgain = TrainingWorker.registeredAgain(trainers, since: workers)
        if departedNames.count > Self.departedNamesLimit { departedNames.removeAll() }
        for worker in workers { departedNames[worker.identity] = worker.id }
        workers = trainers
        let current = Set(workers.map(\.identity))
        guard previous != current || !registeredAgain.isEmpty else { return }
        // Uploaded files it cached stay on its disk: a new registration does not clear them.
        for (id, holders) in datasetHolders { datasetHolders[id] = holders.intersection(current) }
        let holding = current.subtracting(registeredAgain)
        var load = outstanding()
        for id in jobs.keys.sorted() {
            guard var job = jobs[id] else { continue }
            switch job.phase {
            case .training(let round, let started, var pending, let results):
                for (shard, sent) in pending.sorted(by: { $0.key < $1.key }) where !holding.contains(sent.worker) {
                    guard let replacement = pickWorker(avoiding: job.silent, load: &load) else { continue }
                    actions.append(
                        .log(
                            .warning, "reassigning shard of a departed worker",
                            ["job_id": "\(id)", "shard": "\(shard)", "to": "\(name(of: replacement))"]))
                    let dispatch = Dispatch(
                        worker: replacement, attempt: job.nextAttempt(), stateSHA: job.stateSHA)
                    pending[shard] = dispatch
                    job.shardHomes[shard] = replacement
                    send(job: job, round: round, shard: shard, to: dispatch, finalize: false, into: &actions)
                }
                job.phase = .training(round: round, startedMs: started, pending: pending, results: results)
            case .finalizing(let sent, _) where !holding.contains(sent.worker):
                // Its worker left (or registered again) without answering: an attempt, as a timeout is. A final
                // request whose worker died each time (a trap while writing the checkpoint, under a supervisor that
                // restarts it) went out again for ever, the job `running` with no error and no log line. A drain is
                // no failure: the request goes elsewhere without using an attempt (a rolling restart drains in turn).
                if draining.contains(sent.worker) {
                    job.phase = .waiting
                    break
                }
                job.unanswered[Self.finalRequestShard, default: []].append(name(of: sent.worker))
                job.attempts += 1
                if job.attempts > 3 {
                    jobs[id] = job
                    fail(
                        id, "the final checkpoint request got no answer after \(job.attempts) attempts (its worker left; "
                            + "\(Self.unansweredText(job)))", into: &actions)
                    continue
                }
                actions.append(
                    .log(
                        .warning, "the final checkpoint request's worker left; sending it again",
                        ["job_id": "\(id)", "attempt": "\(job.attempts + 1)", "unanswered": "\(Self.unansweredText(job))"]))
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
            case .training(let round, let started, let pending, let results):
                guard nowMs >= started.addingSaturating(job.spec.roundTimeoutMs) else { continue }
                markUnanswered(id, pending)
                if results.isEmpty {
                    retry(id, nowMs: nowMs, into: &actions)
                } else {
                    actions.append(
                        .log(
                            .warning, "round timed out; averaging the replicas that answered",
                            ["job_id": "\(id)", "round": "\(round)", "answered": "\(results.count)"]))
                    closeRound(id, nowMs: nowMs, into: &actions)
                }
            case .finalizing(let sent, let sentMs):
                if nowMs >= sentMs.addingSaturating(job.spec.roundTimeoutMs) {
                    markUnanswered(id, [Self.finalRequestShard: sent])
                    retry(id, nowMs: nowMs, into: &actions)
                }
            case .storing, .registering:
                break
            }
        }
    }

    /// The key of the final checkpoint request in ``RunningJob/unanswered`` (no shard of a round is negative).
    static let finalRequestShard = -1

    /// Notes the requests that are out at a timeout: their workers, by shard, for the job's error, and as silent, so
    /// the next request goes elsewhere when another live worker exists.
    mutating func markUnanswered(_ id: String, _ pending: [Int: Dispatch]) {
        guard var job = jobs[id] else { return }
        for (shard, sent) in pending {
            job.unanswered[shard, default: []].append(name(of: sent.worker))
            job.silent.insert(sent.worker)
        }
        jobs[id] = job
    }

    /// No usable answer came back in time (none, or only replicas with no rows left to train): the round (or the
    /// final checkpoint request) goes out again, to other live workers when there are some, at most 3 times.
    mutating func retry(_ id: String, nowMs: UInt64, into actions: inout [JobAction]) {
        guard var job = jobs[id] else { return }
        let finalizing: Bool
        if case .finalizing = job.phase { finalizing = true } else { finalizing = false }
        job.attempts += 1
        job.phase = .waiting
        jobs[id] = job
        let what = finalizing ? "the final checkpoint request" : "round \(job.record.round + 1)"
        if job.attempts > 3 {
            // Answers that came after their attempt timed out were dropped as stale: "got no answer" pointed at dead
            // workers when they were only slower than the round timeout.
            // A timeout far below a round's time gets no late answer before the last attempt ends: the wait is named
            // either way, so live but slower workers are not taken for dead ones.
            let late =
                job.lateAnswers == 0
                ? "; each attempt waited the round timeout, \(job.spec.roundTimeoutMs) ms: if these workers are alive, "
                    + "a round takes them longer, so raise --round-timeout-ms"
                : "; \(job.lateAnswers) answer\(job.lateAnswers == 1 ? "" : "s") came after the round timeout of "
                    + "\(job.spec.roundTimeoutMs) ms and \(job.lateAnswers == 1 ? "was" : "were") dropped: raise "
                    + "--round-timeout-ms"
            fail(
                id,
                "\(what) got no answer after \(job.attempts) attempts (\(Self.unansweredText(job)))\(late)",
                into: &actions)
        } else {
            actions.append(
                .log(
                    .warning, "no usable answer in time; sending \(what) again",
                    ["job_id": "\(id)", "attempt": "\(job.attempts + 1)", "unanswered": "\(Self.unansweredText(job))"]))
            startRound(id, nowMs: nowMs, into: &actions)
        }
    }

    /// Which requests got no answer, from which workers: `shard 0 sent to w-a, w-b` or `sent to w-a, w-b`.
    static func unansweredText(_ job: RunningJob) -> String {
        job.unanswered.sorted { $0.key < $1.key }.map { shard, names in
            (shard == finalRequestShard ? "" : "shard \(shard) ") + "sent to " + names.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    /// The requests out per live worker, over every job: pending training shards and final checkpoint requests.
    func outstanding() -> [[UInt8]: Int] {
        var load: [[UInt8]: Int] = [:]
        for worker in workers { load[worker.identity] = 0 }
        for job in jobs.values {
            switch job.phase {
            case .training(_, _, let pending, _):
                for sent in pending.values where load[sent.worker] != nil { load[sent.worker]! += 1 }
            case .finalizing(let sent, _) where load[sent.worker] != nil:
                load[sent.worker]! += 1
            default:
                break
            }
        }
        return load
    }

    /// The live training worker with the fewest requests out (`load`, which the pick increments), preferring
    /// workers outside `avoiding` (those that let this job's requests time out) while any other is live; ties go
    /// round the workers from where the last pick stopped, so equal workers share the jobs' first shards and final
    /// requests instead of the first by id taking every one.
    mutating func pickWorker(avoiding: Set<[UInt8]>, load: inout [[UInt8]: Int]) -> [UInt8]? {
        guard !workers.isEmpty else { return nil }
        let preferred = workers.indices.filter { !avoiding.contains(workers[$0].identity) }
        let candidates = preferred.isEmpty ? Array(workers.indices) : preferred
        let start = rotation % workers.count
        // Rotated order: start, start + 1, …, wrapping; the first of the least loaded in that order wins.
        let ordered = candidates.sorted { ($0 - start + workers.count) % workers.count < ($1 - start + workers.count) % workers.count }
        guard let chosen = ordered.min(by: { load[workers[$0].identity, default: 0] < load[workers[$1].identity, default: 0] })
        else { return nil }
        rotation = chosen + 1
        load[workers[chosen].identity, default: 0] += 1
        return workers[chosen].identity
    }

    /// A worker's display id: a live worker's, or the one a worker that left had (a failed job's error names the
    /// workers its requests went to, the departed too), or its identity in hex when it was never seen.
    func name(of identity: [UInt8]) -> String {
        workers.first { $0.identity == identity }?.id ?? departedNames[identity]
            ?? identity.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
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
