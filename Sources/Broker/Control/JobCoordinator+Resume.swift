import RecStore
import RecWire

extension JobCoordinator {
    /// Resumes one unfinished job from its last stored round, or fails it, durably, with the ``ResumeProblem``
    /// that keeps it from resuming where it stopped.
    ///
    /// The state it resumes from must be the one its last round stored (`rounds.state_sha`), and a job whose
    /// stored rounds already cover its steps knows its total, so it goes straight to its final checkpoint.
    /// A spec that decodes but cannot be run (``TrainJobSpec/problem``) fails the job like a ``ResumeProblem``.
    /// - Throws: ``StoreError`` when the job's spec or its rounds cannot be read (the broker must not start).
    func resume(_ record: JobRecord, nowMs: UInt64) throws(StoreError) {
        let spec = try StoredJSON.decode(
            TrainJobSpec.self, from: record.spec, table: "jobs", row: "id = \(String(reflecting: record.id))",
            column: "spec")
        let state: [UInt8]
        let resumable: Result<[UInt8], ResumeProblem> =
            if let invalid = spec.problem {
                // Decodes, but cannot be run (0 epochs, a batch of 0): a damaged or hand-edited row, never resumed.
                .failure(.invalidSpec(invalid))
            } else if !JobCore.isReachable(round: record.round, syncEvery: spec.syncEvery) {
                .failure(.impossibleRound(record.round, syncEvery: spec.syncEvery))
            } else {
                try resumableState(record)
            }
        switch resumable {
        case .success(let bytes): state = bytes
        case .failure(let problem):
            var failed = record
            failed.state = .failed
            failed.error = problem.description
            perform(.persist(failed, what: "the job's failure"), nowMs: nowMs)
            logger.error("job cannot resume", metadata: ["job_id": "\(record.id)", "error": "\(problem)"])
            return
        }
        var job = JobCore.RunningJob(record: record, spec: spec, state: state, stateSHA: record.stateSHA ?? "")
        job.totalSteps = JobCore.knownTotalSteps(of: record)
        job.uploadNames = uploadNames(of: spec)
        if spec.restoreBest != false { job.best = bestStoredState(record) }
        job.stepped = record.loss != nil || ((try? store.rounds(of: record.id))?.contains { $0.loss != nil } ?? true)
        run(.accepted(job), nowMs: nowMs)
        logger.info("resuming job", metadata: ["job_id": "\(record.id)", "round": "\(record.round)"])
    }

    /// The stored state with the lowest validation loss, rebuilt from the job's rounds after a restart: each round's
    /// metrics describe the averaged state after it (stored with it once the next round measured it), and its state
    /// is a blob. Without this a restart forgot the best round, and the job registered its last state although an
    /// earlier one validated better (a model the same job without a restart would not register). A state that
    /// cannot be read is passed over, and logged.
    func bestStoredState(_ record: JobRecord) -> (loss: Double, state: [UInt8], stateSHA: String)? {
        let rounds: [RoundRecord]
        do {
            rounds = try store.rounds(of: record.id)
        } catch {
            logger.warning("the best round cannot be found after the restart", metadata: ["job_id": "\(record.id)", "error": "\(error)"])
            return nil
        }
        for candidate in Self.measuredRounds(rounds) {
            do {
                return (candidate.loss, try store.blobs.get(candidate.sha), candidate.sha)
            } catch {
                logger.warning(
                    "a best-round candidate's state cannot be read after the restart",
                    metadata: ["job_id": "\(record.id)", "state_sha": "\(candidate.sha)", "error": "\(error)"])
            }
        }
        return nil
    }

    /// The rounds whose state has a finite validation loss, best first: the earliest of equal losses, as the running
    /// job keeps it (a later round replaces it only when lower). Rounds whose state was released are left out.
    static func measuredRounds(_ rounds: [RoundRecord]) -> [(loss: Double, round: Int, sha: String)] {
        rounds.compactMap { round -> (loss: Double, round: Int, sha: String)? in
            guard round.round >= 1, !round.stateSHA.isEmpty, let text = round.metrics,
                let metrics = try? WireJSON.decode([String: Double?].self, from: Array(text.utf8)),
                let loss = metrics["val_loss"] ?? nil, loss.isFinite
            else { return nil }
            return (loss, round.round, round.stateSHA)
        }.sorted { ($0.loss, $0.round) < ($1.loss, $1.round) }
    }

    /// Releases the round states a job no longer needs (``RecStore/releaseRoundStates(jobId:keeping:)``): while it
    /// runs, all but its last two rounds' (the last is what it resumes from; the one before may not be measured yet)
    /// and its best-validating one's (what `--restore-best` registers, found again after a restart); once it has
    /// ended (completed, failed or cancelled), all of them: its model version has its own checkpoint. A failure is
    /// logged and changes nothing else: the states only take space.
    func releaseRoundStates(of jobId: String, ended: Bool) {
        do {
            var keep: Set<Int> = []
            if !ended {
                let rounds = try store.rounds(of: jobId)
                if let last = rounds.map(\.round).max() { keep.formUnion([last, last - 1]) }
                if let best = Self.measuredRounds(rounds).first { keep.insert(best.round) }
            }
            let freed = try store.releaseRoundStates(jobId: jobId, keeping: keep)
            if freed > 0 {
                logger.debug("round states released", metadata: ["job_id": "\(jobId)", "bytes": "\(freed)", "ended": "\(ended)"])
            }
        } catch {
            logger.warning(
                "round states no longer needed were not released; they only take space",
                metadata: ["job_id": "\(jobId)", "error": "\(error)"])
        }
    }

    /// The averaged state a job resumes from: none before its first round, else its last round's stored blob.
    /// - Returns: the state, or the ``ResumeProblem`` when it is not the last round's or cannot be read.
    /// - Throws: ``StoreError`` when the rounds cannot be read.
    private func resumableState(_ record: JobRecord) throws(StoreError) -> Result<[UInt8], ResumeProblem> {
        let last = try store.round(of: record.id, number: record.round)
        guard record.round > 0 else {
            if let named = record.stateSHA { return .failure(.stateMismatch(round: 0, job: named, stored: nil)) }
            return .success([])
        }
        guard let last else { return .failure(.missingRound(record.round)) }
        guard let named = record.stateSHA else { return .failure(.noState(round: record.round)) }
        guard named == last.stateSHA else {
            return .failure(.stateMismatch(round: record.round, job: named, stored: last.stateSHA))
        }
        do {
            return .success(try store.blobs.get(named))
        } catch {
            return .failure(.unreadableState(sha: named, error))
        }
    }
}

/// Why a stored job cannot resume where it stopped after a broker restart: the job fails with this as its error.
enum ResumeProblem: Error, Equatable, CustomStringConvertible {
    /// The job has completed rounds but names no averaged state (`jobs.state_sha` is NULL).
    case noState(round: Int)
    /// The job's last completed round is not in `rounds`.
    case missingRound(Int)
    /// The state the job names (`jobs.state_sha`) is not the one its last round stored (`rounds.state_sha`;
    /// `nil`: no round is stored).
    case stateMismatch(round: Int, job: String, stored: String?)
    /// The named state's blob cannot be read.
    case unreadableState(sha: String, StoreError)
    /// The job's stored round is not one it can have completed: below 0, or so large that its steps
    /// (round × sync_every, the next round's first step) have no number (a damaged row, which would trap the broker's
    /// step arithmetic).
    case impossibleRound(Int, syncEvery: Int)
    /// The job's stored spec decodes but cannot be run (``TrainJobSpec/problem`` says why).
    case invalidSpec(String)

    var description: String {
        let prefix = "cannot resume after a restart"
        return switch self {
        case .noState(let round): "\(prefix): round \(round) is complete but the job names no stored state"
        case .missingRound(let round): "\(prefix): round \(round) is complete but is not stored"
        case .stateMismatch(let round, let job, let stored):
            "\(prefix): the job names state \(job), but round \(round) stored "
                + (stored.map { "state \($0)" } ?? "none")
        case .unreadableState(let sha, let error): "\(prefix): its state \(sha) cannot be read: \(error)"
        case .impossibleRound(let round, let syncEvery):
            "\(prefix): the job's stored round \(round) is not one it can have reached (rounds run from 1, and "
                + "round × sync_every \(syncEvery) must count its steps)"
        case .invalidSpec(let problem): "\(prefix): its stored spec (table jobs, column spec) cannot be run: \(problem)"
        }
    }
}
