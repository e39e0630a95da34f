import Foundation
import GRDB
import Logging
import RecModel
import RecStore
import RecTestKit
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// A state directory holding `job-1` as a broker stopped mid-job leaves it, and a ``JobCoordinator`` started over
/// it as a restarted broker starts one.
final class ResumeHarness {
    let folder: TemporaryDirectory
    let store: RecStore
    var coordinator: JobCoordinator!
    var outputs: [ControlOutput] = []
    /// `synthetic:` on one shard, 5 steps a round, promoted when it completes.
    static let spec = TrainJobSpec(dataset: "synthetic:", workers: 1, syncEvery: 5, promote: true)
    /// The state each stored round averaged, by round.
    var states: [Int: String] = [:]

    /// Stores `job-1` after `rounds` rounds of `totalRounds`, with `totalSteps` steps in all.
    init(rounds: Int, totalRounds: Int, totalSteps: Int) throws {
        folder = try TemporaryDirectory("resume")
        store = try RecStore(directory: folder.path)
        var job = JobRecord(
            id: "job-1", model: "mlp", spec: String(decoding: WireJSON.encode(Self.spec), as: UTF8.self),
            totalRounds: 0, createdAt: 1)
        try store.insertJob(job)
        job.state = .running
        for round in 0..<rounds {
            let pack = ParameterPack(step: 0, vectors: [.init(name: "w", values: [Float(round), 1])])
            job.round = round + 1
            job.step = min(job.round * 5, totalSteps)
            job.totalRounds = totalRounds
            job.stateSHA = try store.blobs.put(pack.encoded())
            job.loss = 0.5  // the round's mean loss, as `closeRound` stores it on the job too
            states[job.round] = job.stateSHA
            try store.completeRound(
                RoundRecord(
                    jobId: "job-1", round: job.round, loss: 0.5, samples: 8, replicas: 1, metrics: nil,
                    stateSHA: job.stateSHA!, seconds: 0.1),
                job: job)
        }
    }

    deinit { folder.remove() }

    /// Runs `sql` on the database as a hand edit would.
    func edit(_ sql: String) throws {
        try DatabaseQueue(path: "\(folder.path)/recpool.sqlite").write { db in try db.execute(sql: sql) }
    }

    /// Starts a coordinator over the store, as a broker restart does.
    func start() throws {
        coordinator = JobCoordinator(store: store, logger: Logger(label: "test")) { [unowned self] in
            self.outputs.append($0)
        }
        try coordinator.start(nowMs: 1_000)
    }

    /// One worker joins; returns the assignments sent to workers since the last call.
    func workerJoins() throws -> [RoundAssignment] {
        coordinator.updateWorkers([TrainingWorker(identity: [1], id: "w-1")], nowMs: 2_000)
        return try sent()
    }

    /// The assignments sent to workers since the last call.
    func sent() throws -> [RoundAssignment] {
        defer { outputs.removeAll() }
        return try outputs.compactMap { output in
            guard case .toWorker(_, let frames) = output else { return nil }
            return try WireJSON.decode(RoundAssignment.self, from: frames[1])
        }
    }
}

@Suite("Jobs after a broker restart")
struct JobResumeTests {
    @Test("a job whose last round is stored resumes to its final checkpoint, and completes registered and promoted")
    func finalizesAfterLastRound() throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 2, totalSteps: 10)
        try h.start()
        let sent = try h.workerJoins()
        #expect(sent.count == 1)
        let assignment = try #require(sent.first)
        #expect(assignment.finalize && assignment.steps == 0 && assignment.round == 3)
        #expect(assignment.stateSHA == h.states[2])

        let checkpoint = Checkpoint(model: .mlp(MLP(inputWidth: 2, hiddenSizes: [3], seed: 1))).encoded()
        h.finalResult(checkpoint: checkpoint)
        let job = try #require(try h.store.job("job-1"))
        #expect(job.state == .completed && job.modelVersion == 1, "\(job.error ?? "")")
        #expect(try h.store.promotedVersion() == 1)
        #expect(try h.store.rounds(of: "job-1").last?.metrics == #"{"auc":0.75}"#)
        let rollouts = h.outputs.compactMap { if case .rollout(let version, _, _) = $0 { version } else { nil } }
        #expect(rollouts == [1])
        // The job ended: its round states (weights and both Adam moments each) are released; the model version has
        // its own checkpoint. The rounds keep their rows.
        #expect(try h.store.rounds(of: "job-1").map(\.stateSHA) == ["", ""])
        #expect(h.states.values.allSatisfy { !h.store.blobs.contains($0) })
        #expect(try h.store.model(1).map { h.store.blobs.contains($0.checkpointSHA) } == true)
    }

    @Test(
        "a running job keeps only its last two round states and its best-validating one; an ended job's go at the next start"
    )
    func roundStatesAreReleased() throws {
        let h = try ResumeHarness(rounds: 5, totalRounds: 10, totalSteps: 50)
        for round in 1...5 {
            try h.edit(#"UPDATE rounds SET metrics = '{"val_loss":\#(round == 2 ? 0.1 : 0.3)}' WHERE round = \#(round)"#)
        }
        try h.start()
        #expect(try h.workerJoins().first?.round == 6)
        h.coordinator.handleWorker(
            identity: [1],
            message: JobMachine.result(
                round: 6, shard: 0, stateSHA: h.states[5]!, totalSteps: 50, metrics: ["val_loss": 0.3],
                weights: [6, 1]),
            nowMs: 3_000)
        let rounds = try h.store.rounds(of: "job-1")
        #expect(rounds.count == 6)
        // Kept: round 6 (what it resumes from), 5 (not measured yet when 6 was stored), 2 (the best, val_loss 0.1).
        #expect(rounds.filter { !$0.stateSHA.isEmpty }.map(\.round) == [2, 5, 6])
        for round in [1, 3, 4] { #expect(!h.store.blobs.contains(h.states[round]!)) }
        for round in [2, 5] { #expect(h.store.blobs.contains(h.states[round]!)) }
        // And it still resumes, after a restart, from round 6's state with round 2 as its best.
        try h.start()
        let next = try #require(try h.workerJoins().first)
        #expect(next.round == 7 && next.stateSHA == rounds.last?.stateSHA)

        // A job that ended before states were released (an older broker's) has them released at the next start.
        try h.edit("UPDATE jobs SET state = 'cancelled'")
        try h.start()
        // Not at start (a start that a later check refuses must leave the directory as it was), at the first tick.
        #expect(try h.store.rounds(of: "job-1").contains { !$0.stateSHA.isEmpty })
        h.coordinator.tick(nowMs: 4_000)
        #expect(try h.store.rounds(of: "job-1").allSatisfy { $0.stateSHA.isEmpty })
        #expect(h.states.values.allSatisfy { !h.store.blobs.contains($0) })
    }

    /// A cancelled job kept its last two round states (and the job row pointed at one) until the broker restarted.
    @Test("cancelling a running job releases its round states at once")
    func cancelReleasesRoundStates() throws {
        let h = try ResumeHarness(rounds: 3, totalRounds: 10, totalSteps: 50)
        try h.start()
        #expect(try h.store.rounds(of: "job-1").contains { !$0.stateSHA.isEmpty })
        let call = try ControlCall(
            identity: [1],
            message: WireMessage(
                header: Header(command: .control, requestId: 1),
                payload: [WireJSON.encode(ControlRequest(.cancelJob, job: "job-1"))]))
        h.coordinator.handle(call, nowMs: 3_000)
        #expect(try h.store.job("job-1")?.state == .cancelled)
        #expect(try h.store.rounds(of: "job-1").allSatisfy { $0.stateSHA.isEmpty })
        #expect(h.states.values.allSatisfy { !h.store.blobs.contains($0) })
    }

    @Test("a final checkpoint that does not decode fails the job naming why, and registers no version")
    func undecodableFinalCheckpointFails() throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 2, totalSteps: 10)
        try h.start()
        #expect(try h.workerJoins().first?.finalize == true)
        let whole = Checkpoint(model: .mlp(MLP(inputWidth: 2, hiddenSizes: [3], seed: 1))).encoded()
        h.finalResult(checkpoint: Array(whole.dropLast(5)))
        let job = try #require(try h.store.job("job-1"))
        #expect(job.state == .failed && job.modelVersion == nil)
        #expect(
            job.error == "could not register the model: the final checkpoint does not decode: "
                + "\(CheckpointError.truncated(expected: whole.count, actual: whole.count - 5))",
            "\(job.error ?? "")")
        #expect(try h.store.models().isEmpty && h.store.promotedVersion() == nil)
    }

    /// After a restart the best round was forgotten, and a job registered its last state although an earlier one
    /// validated better; it is rebuilt from the stored rounds' metrics and states.
    @Test("after a restart, a final state that validates worse than a stored round is replaced by that round's state")
    func restoresTheBestStoredRound() throws {
        let h = try ResumeHarness(rounds: 3, totalRounds: 3, totalSteps: 15)
        try h.edit(#"UPDATE rounds SET metrics = '{"val_loss":0.1}' WHERE round = 1"#)
        try h.edit(#"UPDATE rounds SET metrics = '{"val_loss":0.5}' WHERE round = 2"#)
        try h.start()
        let first = try #require(try h.workerJoins().first)
        #expect(first.finalize && first.stateSHA == h.states[3])
        let report = RoundReport(
            job: "job-1", round: 4, shard: 0, samples: 0, loss: 0, receivedStateSHA: h.states[3]!,
            metrics: ["val_loss": 0.9], epoch: 1, step: 15, totalSteps: 15, datasetSHA: "ab", error: nil)
        let checkpoint = Checkpoint(model: .mlp(MLP(inputWidth: 2, hiddenSizes: [3], seed: 1))).encoded()
        h.coordinator.handleWorker(
            identity: [1],
            message: WireMessage(
                header: Header(command: .roundResult, requestId: 4, attempt: 1), payload: [WireJSON.encode(report), checkpoint]),
            nowMs: 3_000)
        // The final checkpoint is asked again, of round 1's state (val_loss 0.1), not registered from round 3's.
        let again = try #require(try h.sent().first)
        #expect(again.finalize && again.stateSHA == h.states[1], "\(again.stateSHA) \(h.states)")
        #expect(try h.store.models().isEmpty)
        // Registered from round 1's state: the job carries that state's metrics, the last round keeps its own (it was
        // relabelled with the best state's, "validation after round 3" describing round 1's model).
        var best = report
        best.receivedStateSHA = h.states[1]!
        best.metrics = ["val_loss": 0.1]
        h.coordinator.handleWorker(
            identity: [1],
            message: WireMessage(
                header: Header(command: .roundResult, requestId: 5, attempt: 2), payload: [WireJSON.encode(best), checkpoint]),
            nowMs: 4_000)
        let job = try #require(try h.store.job("job-1"))
        #expect(job.state == .completed && job.metrics == #"{"val_loss":0.1}"#, "\(job.error ?? "")")
        #expect(try h.store.rounds(of: "job-1").last?.metrics == #"{"val_loss":0.9}"#)
    }

    /// A DQN job whose replicas never filled a batch "completed" with the seeded network and no warning.
    @Test("a job none of whose rounds took a gradient step fails naming why, and registers no version")
    func untrainedLastRoundFails() throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 2, totalSteps: 10)
        try h.edit("UPDATE rounds SET loss = NULL")
        try h.edit("UPDATE jobs SET loss = NULL")
        try h.start()
        #expect(try h.workerJoins().isEmpty)
        let job = try #require(try h.store.job("job-1"))
        #expect(job.state == .failed && job.error?.contains("no replica took a training step in any of the 2 round(s)") == true, "\(job.error ?? "")")
        #expect(try h.store.models().isEmpty)
    }

    /// The check tested the last round alone: a job that trained in round 1 and whose last round took no step (a
    /// replica with no rows left) failed as "untrained".
    @Test("a job whose last round took no step after one that did is finalized, not failed")
    func trainedEarlierRoundFinalizes() throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 2, totalSteps: 10)
        try h.edit("UPDATE rounds SET loss = NULL WHERE round = 2")
        try h.edit("UPDATE jobs SET loss = NULL")
        try h.start()
        let assignment = try #require(try h.workerJoins().first)
        #expect(assignment.finalize)
        #expect(try h.store.job("job-1")?.state != .failed)
    }

    @Test("a job with rounds left resumes with the next round from its last stored state")
    func trainsTheNextRound() throws {
        let h = try ResumeHarness(rounds: 1, totalRounds: 2, totalSteps: 10)
        try h.start()
        let assignment = try #require(try h.workerJoins().first)
        #expect(!assignment.finalize && assignment.round == 2 && assignment.steps == 5 && assignment.fromStep == 5)
        #expect(assignment.stateSHA == h.states[1])
    }

    @Test("the total a stored record shows: its step count once the rounds reach the planned total, unknown before")
    func knownTotalSteps() {
        var record = JobRecord(id: "job-1", model: "mlp", spec: "{}", totalRounds: 0, createdAt: 1)
        #expect(JobCore.knownTotalSteps(of: record) == nil)
        (record.round, record.totalRounds, record.step) = (1, 3, 5)
        #expect(JobCore.knownTotalSteps(of: record) == nil)
        (record.round, record.totalRounds, record.step) = (3, 3, 12)
        #expect(JobCore.knownTotalSteps(of: record) == 12)
    }

    /// A state the job names that is not its last round's.
    static let mismatches: [(label: String, sql: String, error: String)] = [
        (
            "another blob", "UPDATE jobs SET state_sha = (SELECT state_sha FROM rounds WHERE round = 1)",
            "cannot resume after a restart: the job names state %1, but round 2 stored state %2"
        ),
        (
            "no state", "UPDATE jobs SET state_sha = NULL",
            "cannot resume after a restart: round 2 is complete but the job names no stored state"
        ),
        (
            "no round", "DELETE FROM rounds WHERE round = 2",
            "cannot resume after a restart: round 2 is complete but is not stored"
        ),
    ]

    @Test(
        "a job whose stored state is not its last round's fails naming both, and nothing is sent", arguments: mismatches
    )
    func stateMismatchFails(_ damage: (label: String, sql: String, error: String)) throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 3, totalSteps: 15)
        try h.edit(damage.sql)
        try h.start()
        #expect(try h.workerJoins().isEmpty, "\(damage.label)")
        let job = try #require(try h.store.job("job-1"))
        let expected = damage.error.replacing("%1", with: h.states[1]!).replacing("%2", with: h.states[2]!)
        #expect(job.state == .failed && job.error == expected, "\(damage.label): \(job.error ?? "")")
    }

    /// A stored round number no job can have reached: past the last whose first step (round × sync_every) has a
    /// number, or below 0.
    static let impossibleRounds: [(label: String, sql: String, error: String)] = [
        (
            "past every step",
            """
            UPDATE rounds SET round = 9223372036854775807 WHERE round = 2;
            UPDATE jobs SET round = 9223372036854775807
            """,
            "cannot resume after a restart: the job's stored round 9223372036854775807 is not one it can have reached "
                + "(rounds run from 1, and round × sync_every 5 must count its steps)"
        ),
        // Decodes, but cannot be run: the job fails naming it, never resumed with 0 epochs or a batch of 0.
        (
            "epochs 0", "UPDATE jobs SET spec = json_set(spec, '$.epochs', 0)",
            "cannot resume after a restart: its stored spec (table jobs, column spec) cannot be run: epochs must be 1…10000"
        ),
        (
            "batch 0", "UPDATE jobs SET spec = json_set(spec, '$.batch', 0)",
            "cannot resume after a restart: its stored spec (table jobs, column spec) cannot be run: batch must be 1…65536"
        ),
        (
            "negative", "UPDATE jobs SET round = -1, state_sha = NULL",
            "cannot resume after a restart: the job's stored round -1 is not one it can have reached "
                + "(rounds run from 1, and round × sync_every 5 must count its steps)"
        ),
    ]

    @Test(
        "a job whose stored round no job can reach, or whose spec cannot be run, fails naming it, and nothing is sent",
        arguments: impossibleRounds)
    func impossibleRoundFails(_ damage: (label: String, sql: String, error: String)) throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 3, totalSteps: 15)
        try h.edit(damage.sql)
        try h.start()
        #expect(try h.workerJoins().isEmpty, "\(damage.label)")
        let job = try #require(try h.store.job("job-1"))
        #expect(job.state == .failed && job.error == damage.error, "\(damage.label): \(job.error ?? "")")
    }

    /// Durable state a broker must not start without.
    static let unreadable: [(sql: String, named: String)] = [
        ("ALTER TABLE jobs RENAME TO jobs_lost", "jobs"),
        ("ALTER TABLE promotions RENAME TO promotions_lost", "promotions"),
        ("ALTER TABLE models RENAME TO models_lost", "models"),
        ("UPDATE jobs SET round = 'abc'", #"table jobs, row id = "job-1", column round"#),
        ("UPDATE jobs SET spec = 'not json'", #"table jobs, row id = "job-1", column spec"#),
        // A finished job is not resumed, but `recpool jobs` shows it: its damage stops the start too.
        ("UPDATE jobs SET state = 'completed', spec = '{}'", #"table jobs, row id = "job-1", column spec"#),
        ("UPDATE jobs SET state = 'failed', metrics = 'null'", #"table jobs, row id = "job-1", column metrics"#),
        ("UPDATE jobs SET state = 'completed', total_rounds = -5", #"table jobs, row id = "job-1", column total_rounds"#),
        (
            "UPDATE jobs SET state = 'completed'; UPDATE rounds SET metrics = '[1' WHERE round = 2",
            #"table rounds, row job_id = "job-1", round = 2, column metrics"#
        ),
        (
            "UPDATE rounds SET state_sha = x'ff' WHERE round = 2",
            #"table rounds, row job_id = "job-1", round = 2, column state_sha"#
        ),
    ]

    @Test("start throws, publishing no registry, when the jobs or the registry cannot be read", arguments: unreadable)
    func unreadableStateStopsStart(_ damage: (sql: String, named: String)) throws {
        let h = try ResumeHarness(rounds: 2, totalRounds: 3, totalSteps: 15)
        let checkpoint = try h.store.blobs.put(
            Checkpoint(model: .mlp(MLP(inputWidth: 2, hiddenSizes: [3], seed: 1))).encoded())
        _ = try h.store.registerModel(
            job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: checkpoint)
        try h.store.promote(1)
        try h.edit(damage.sql)
        #expect {
            try h.start()
        } throws: { error in
            "\(error)".contains(damage.named)
        }
        #expect(!h.outputs.contains { if case .registry = $0 { true } else { false } })
        #expect(!h.outputs.contains { if case .rollout = $0 { true } else { false } })
    }
}

extension ResumeHarness {
    /// Worker [1]'s finalize result for round 3 of job-1 (after stored round 2), carrying `checkpoint` as frame 2.
    func finalResult(checkpoint: [UInt8]) {
        let report = RoundReport(
            job: "job-1", round: 3, shard: 0, samples: 0, loss: 0, receivedStateSHA: states[2]!,
            metrics: ["auc": 0.75], epoch: 1, step: 10, totalSteps: 10, datasetSHA: "ab", error: nil)
        coordinator.handleWorker(
            identity: [1],
            message: WireMessage(
                header: Header(command: .roundResult, requestId: 3, attempt: 1), payload: [WireJSON.encode(report), checkpoint]),
            nowMs: 3_000)
    }
}
