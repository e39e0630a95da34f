import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Drives a ``JobCore`` through timeouts, retries and late answers: which request a ROUND_RESULT answers, which
/// worker a shard (or the final request) goes to, and rounds whose only answers trained no row.
struct DispatchMachine {
    var machine = JobMachine()
    static let timeout: UInt64 = 30_000

    /// Accepts `id` with `shards` shards (`model`), on the live workers `live` (both of ``JobMachine``'s by default).
    mutating func start(
        _ id: String = "job-1", shards: Int = 2, model: String = "mlp", live: [TrainingWorker]? = nil,
        nowMs: UInt64 = 2_000
    ) -> [JobAction] {
        _ = machine.feed(.workers(live ?? machine.workers), nowMs: nowMs)
        let spec = TrainJobSpec(model: model, dataset: "synthetic:", workers: shards, syncEvery: 5)
        let record = JobRecord(
            id: id, model: model, spec: String(decoding: WireJSON.encode(spec), as: UTF8.self), totalRounds: 0,
            createdAt: 1)
        return machine.feed(.accepted(JobCore.RunningJob(record: record, spec: spec, state: [], stateSHA: "")), nowMs: nowMs)
    }

    /// A ROUND_RESULT of `job`, echoing `attempt`.
    static func result(
        _ job: String = "job-1", round: Int, shard: Int, stateSHA: String, attempt: UInt16, samples: Int = 10,
        totalSteps: Int = 100, loss: Double? = 0.5, metrics: [String: Double]? = nil, weights: [Float] = [1, 1]
    ) -> WireMessage {
        let report = RoundReport(
            job: job, round: round, shard: shard, samples: samples, loss: samples > 0 ? loss : nil,
            receivedStateSHA: stateSHA, metrics: metrics, epoch: 1, step: round * 5, totalSteps: totalSteps,
            datasetSHA: "ab", error: nil)
        let pack = ParameterPack(step: 0, vectors: [.init(name: "w", values: weights)])
        return WireMessage(
            header: Header(command: .roundResult, requestId: UInt64(round), attempt: attempt),
            payload: [WireJSON.encode(report), pack.encoded()])
    }

    mutating func feed(_ event: JobEvent, nowMs: UInt64 = 2_000) -> [JobAction] { machine.feed(event, nowMs: nowMs) }

    /// Starts job-1 and answers its round 1 for shard 1 alone (attempt 1), leaving shard 0 unanswered; returns the
    /// shard-1 request it answered.
    @discardableResult
    mutating func startAnsweringShard1(samples: Int = 10, totalSteps: Int = 100) throws -> ShardToSend {
        let first = start()
        let shard1 = try #require(first.shards.first { $0.assignment.shard == 1 })
        _ = feed(
            .roundResult(
                identity: shard1.worker,
                message: Self.result(
                    round: 1, shard: 1, stateSHA: "", attempt: 1, samples: samples, totalSteps: totalSteps)))
        return shard1
    }

    var core: JobCore { machine.core }

    /// Runs job-1 (two shards) through three rounds on the live workers, shard 0 measuring round r − 1's average as
    /// 0.30, 0.20, 0.25 (round 2's state is the best), and returns the final checkpoint request.
    mutating func threeRoundsThenFinalize(live: [TrainingWorker]? = nil) throws -> ShardToSend {
        var out = start(live: live)
        let measured: [Int: Double] = [2: 0.30, 3: 0.20]
        var sha = ""
        for round in 1...3 {
            let sent = out.shards
            #expect(sent.count == 2 && sent.allSatisfy { $0.attempt == 1 })
            for s in sent {
                let metrics = s.assignment.shard == 0 ? measured[round].map { ["val_loss": $0] } : nil
                out = feed(
                    .roundResult(
                        identity: s.worker,
                        message: Self.result(
                            round: round, shard: s.assignment.shard, stateSHA: sha, attempt: s.attempt, totalSteps: 15,
                            metrics: metrics)))
            }
            #expect(out.rounds.count == 1)
            sha = "sha-r\(round)"
            out = feed(.roundStored(job: "job-1", .success(sha)))
        }
        let final = try #require(out.shards.first)
        #expect(out.shards.count == 1 && final.assignment.finalize && final.assignment.stateSHA == "sha-r3")
        return final
    }
}

extension [JobAction] {
    var registrations: [ModelToRegister] {
        compactMap { if case .register(let model) = $0 { return model } else { return nil } }
    }
}

@Suite("Job core: answers, retries and where requests go")
struct JobDispatchTests {
    /// The fault: the final request was sent again with the best state, and the answer to the earlier request (the
    /// last state's) still on its way was accepted and registered.
    @Test("after the final request is sent again with the best state, a late answer of the last state is dropped")
    func staleFinalAnswerAfterRestoreIsDropped() throws {
        var m = DispatchMachine()
        let final = try m.threeRoundsThenFinalize()
        let lastState = ["val_loss": 0.28]
        let again = m.feed(
            .roundResult(
                identity: final.worker,
                message: DispatchMachine.result(
                    round: 4, shard: 0, stateSHA: "sha-r3", attempt: final.attempt, metrics: lastState)))
        let best = try #require(again.shards.first)
        #expect(best.assignment.stateSHA == "sha-r2" && best.attempt == final.attempt + 1)
        // The same request's answer again (as a retried request's stalled first answer arrives): the last state's.
        let stale = m.feed(
            .roundResult(
                identity: final.worker,
                message: DispatchMachine.result(
                    round: 4, shard: 0, stateSHA: "sha-r3", attempt: final.attempt, metrics: lastState)))
        #expect(stale.isEmpty)
        #expect(m.core.staleResults == 1)
        // Right attempt, wrong state: not the best state's checkpoint either.
        let wrongState = m.feed(
            .roundResult(
                identity: best.worker,
                message: DispatchMachine.result(
                    round: 4, shard: 0, stateSHA: "sha-r3", attempt: best.attempt, metrics: lastState)))
        #expect(wrongState.isEmpty && m.core.inconsistentReplicas == 1)
        let registered = m.feed(
            .roundResult(
                identity: best.worker,
                message: DispatchMachine.result(
                    round: 4, shard: 0, stateSHA: "sha-r2", attempt: best.attempt, metrics: ["val_loss": 0.20])))
        let model = try #require(registered.registrations.first)
        #expect(model.report.receivedStateSHA == "sha-r2" && model.report.metrics?["val_loss"] == 0.20)
        #expect(model.lastRoundMetrics?["val_loss"] == 0.28)
    }

    @Test("a final request retried on its only worker takes only the retry's answer, then restores the best state")
    func retriedFinalRequestOnOneWorker() throws {
        var m = DispatchMachine()
        let only = [m.machine.workers[0]]
        let first = try m.threeRoundsThenFinalize(live: only)
        let retried = try #require(
            m.feed(.tick, nowMs: 2_000 + DispatchMachine.timeout).shards.first)
        #expect(retried.assignment.finalize && retried.worker == [1] && retried.attempt == first.attempt + 1)
        // The stalled first request answers now: it names attempt 1 and is dropped, not taken as the checkpoint.
        let late = m.feed(
            .roundResult(
                identity: [1],
                message: DispatchMachine.result(
                    round: 4, shard: 0, stateSHA: "sha-r3", attempt: first.attempt, metrics: ["val_loss": 0.28])),
            nowMs: 40_000)
        #expect(late.isEmpty && m.core.staleResults == 1)
        let best = try #require(
            m.feed(
                .roundResult(
                    identity: [1],
                    message: DispatchMachine.result(
                        round: 4, shard: 0, stateSHA: "sha-r3", attempt: retried.attempt, metrics: ["val_loss": 0.28])),
                nowMs: 40_000
            ).shards.first)
        #expect(best.assignment.stateSHA == "sha-r2")
        let model = try #require(
            m.feed(
                .roundResult(
                    identity: [1],
                    message: DispatchMachine.result(
                        round: 4, shard: 0, stateSHA: "sha-r2", attempt: best.attempt, metrics: ["val_loss": 0.2])),
                nowMs: 41_000
            ).registrations.first)
        #expect(model.report.receivedStateSHA == "sha-r2")
    }

    @Test(
        "a late answer from an earlier attempt of a round is dropped, never averaged in",
        arguments: ["mlp", "dqn"])
    func staleTrainingAnswerIsDropped(model: String) throws {
        var m = DispatchMachine()
        let first = m.start(model: model)
        #expect(first.shards.map(\.attempt) == [1, 1])
        let retry = m.feed(.tick, nowMs: 2_000 + DispatchMachine.timeout).shards
        #expect(retry.count == 2 && retry.allSatisfy { $0.attempt == 2 && $0.assignment.round == 1 })
        let at: UInt64 = 33_000
        // Attempt 1's shard 0 answers late, from the worker that now holds attempt 2 of the same shard.
        let holder0 = try #require(retry.first { $0.assignment.shard == 0 })
        let holder1 = try #require(retry.first { $0.assignment.shard == 1 })
        #expect(
            m.feed(
                .roundResult(
                    identity: holder0.worker,
                    message: DispatchMachine.result(round: 1, shard: 0, stateSHA: "", attempt: 1, weights: [100, 100])),
                nowMs: at
            ).isEmpty)
        #expect(m.core.staleResults == 1)
        _ = m.feed(
            .roundResult(
                identity: holder0.worker,
                message: DispatchMachine.result(round: 1, shard: 0, stateSHA: "", attempt: 2, weights: [0, 1])),
            nowMs: at)
        let closed = m.feed(
            .roundResult(
                identity: holder1.worker,
                message: DispatchMachine.result(round: 1, shard: 1, stateSHA: "", attempt: 2, weights: [1, 1])),
            nowMs: at)
        let stored = try #require(closed.rounds.first)
        #expect(try ParameterPack(decoding: stored.state).vectors.first?.values == [0.5, 1])
        #expect(stored.round.replicas == 2 && stored.round.samples == 20)
    }

    /// A worker that sent READY again (the same connection, a new registration) lost the shard it held, and the round
    /// waited for its timeout: the shard now goes out again at once, as a departed worker's does.
    @Test("a shard whose worker registered again is sent out again at once, with a new attempt")
    func shardOfWorkerRegisteredAgain() throws {
        var m = DispatchMachine()
        let sent = m.start().shards
        #expect(sent.count == 2)
        let first = try #require(sent.first)
        let live = m.machine.workers.map { worker -> TrainingWorker in
            var worker = worker
            if worker.identity == first.worker { worker.registration += 1 }
            return worker
        }
        let again = m.feed(.workers(live)).shards
        #expect(again.count == 1 && again.first?.assignment.shard == first.assignment.shard)
        #expect((again.first?.attempt ?? 0) > first.attempt)
        // The same registrations again: nothing is sent.
        #expect(m.feed(.workers(live)).shards.isEmpty)
    }

    /// The fault: a worker that started draining kept its shard until the round's timeout (its drain does not wait for
    /// a training round, so the shard's answer never came), and the next round could give it a new shard.
    @Test("a draining worker's shard goes to another worker at once, and it gets no new one")
    func shardOfDrainingWorker() throws {
        var m = DispatchMachine()
        let sent = m.start().shards
        #expect(sent.count == 2)
        let first = try #require(sent.first)
        let live = m.machine.workers.map { worker -> TrainingWorker in
            var worker = worker
            if worker.identity == first.worker { worker.draining = true }
            return worker
        }
        let other = try #require(live.first { !$0.draining }).identity
        let again = m.feed(.workers(live)).shards
        #expect(again.count == 1)
        #expect(again.first?.assignment.shard == first.assignment.shard)
        #expect(again.first?.worker == other)
        #expect((again.first?.attempt ?? 0) > first.attempt)
        #expect(m.machine.core.drainingTrainers == 1 && m.machine.core.workers.map(\.identity) == [other])
        // A second job while it drains: every shard goes to the other worker.
        let second = m.start("job-2", live: live).shards
        #expect(second.count == 2 && second.allSatisfy { $0.worker == other })
    }

    /// The fault: shard 1 had no steps left and answered with 0 samples, shard 0's worker did not answer in time, and
    /// the round failed as "malformed parameter pack: the replicas reported no samples".
    @Test("a round whose only answers trained no row goes again instead of failing as malformed")
    func zeroSampleAnswersRetryTheRound() throws {
        var m = DispatchMachine()
        let shard1 = try m.startAnsweringShard1(samples: 0)
        let timedOut = m.feed(.tick, nowMs: 2_000 + DispatchMachine.timeout)
        #expect(timedOut.persisted.isEmpty && timedOut.rounds.isEmpty)
        #expect(m.core.jobs["job-1"] != nil)
        let again = timedOut.shards
        #expect(again.count == 2 && again.allSatisfy { $0.assignment.round == 1 && $0.attempt == 2 })
        // Shard 0 now goes to the worker that answered, not back to the silent one.
        #expect(again.first { $0.assignment.shard == 0 }?.worker == shard1.worker)
        for s in again {
            let shard = s.assignment.shard
            _ = m.feed(
                .roundResult(
                    identity: s.worker,
                    message: DispatchMachine.result(
                        round: 1, shard: shard, stateSHA: "", attempt: 2, samples: shard == 0 ? 10 : 0,
                        weights: shard == 0 ? [3, 4] : [9, 9])),
                nowMs: 33_000)
        }
        let stored = try #require(m.core.jobs["job-1"].flatMap { job -> RoundToStore? in
            if case .storing(let r) = job.phase { r } else { nil }
        })
        #expect(try ParameterPack(decoding: stored.state).vectors.first?.values == [3, 4])
        #expect(stored.round.samples == 10)
    }

    @Test("a round every shard answered without training a row carries the state over unchanged")
    func allIdleShardsCarryTheStateOver() throws {
        var m = DispatchMachine()
        let first = m.start()
        for s in first.shards {
            _ = m.feed(
                .roundResult(
                    identity: s.worker,
                    message: DispatchMachine.result(
                        round: 1, shard: s.assignment.shard, stateSHA: "", attempt: 1, weights: [2, 2])))
        }
        let second = m.feed(.roundStored(job: "job-1", .success("sha-r1"))).shards
        let state = try #require(second.first?.state)
        var closed: [JobAction] = []
        for s in second {
            closed = m.feed(
                .roundResult(
                    identity: s.worker,
                    message: DispatchMachine.result(
                        round: 2, shard: s.assignment.shard, stateSHA: "sha-r1", attempt: 1, samples: 0,
                        weights: [7, 7])))
        }
        let stored = try #require(closed.rounds.first)
        #expect(stored.state == state && stored.round.samples == 0 && stored.round.loss == nil)
    }

    @Test("a shard that never answers while the other has no rows left fails the job naming it, not as malformed")
    func idleAnswersUntilTheLastAttempt() throws {
        var m = DispatchMachine()
        var out = m.start()
        var now: UInt64 = 2_000
        for _ in 1...4 {
            let shard1 = try #require(out.shards.first { $0.assignment.shard == 1 })
            _ = m.feed(
                .roundResult(
                    identity: shard1.worker,
                    message: DispatchMachine.result(round: 1, shard: 1, stateSHA: "", attempt: shard1.attempt, samples: 0)),
                nowMs: now)
            now += DispatchMachine.timeout
            out = m.feed(.tick, nowMs: now)
        }
        let record = try #require(out.persisted.first?.record)
        #expect(record.state == .failed)
        let error = record.error ?? ""
        #expect(error.hasPrefix("round 1 got no answer after 4 attempts (shard 0 sent to "), "\(error)")
        #expect(!error.contains("malformed") && !error.contains("no samples"), "\(error)")
        // No late answer came: the wait itself is named, so slower workers are not taken for dead ones.
        #expect(error.contains("each attempt waited the round timeout") && error.contains("--round-timeout-ms"), "\(error)")
    }

    /// A helper's job at `--round-timeout-ms 100`: the workers answered every attempt, each after it timed out, and
    /// the job failed "got no answer", pointing at dead workers; the late answers were only logged as stale.
    @Test("a round whose answers all came after the timeout fails naming them and --round-timeout-ms")
    func lateAnswersAreNamed() throws {
        var m = DispatchMachine()
        var out = m.start()
        var now: UInt64 = 2_000
        for _ in 1...4 {
            let sent = out.shards
            now += DispatchMachine.timeout
            out = m.feed(.tick, nowMs: now)
            for shard in sent {
                _ = m.feed(
                    .roundResult(
                        identity: shard.worker,
                        message: DispatchMachine.result(
                            round: 1, shard: shard.assignment.shard, stateSHA: "", attempt: shard.attempt, samples: 10)),
                    nowMs: now)
            }
        }
        let record = try #require(out.persisted.first?.record)
        #expect(record.state == .failed)
        let error = record.error ?? ""
        #expect(error.hasPrefix("round 1 got no answer after 4 attempts"), "\(error)")
        #expect(error.contains("answers came after the round timeout of") && error.contains("raise --round-timeout-ms"), "\(error)")
    }

    /// The fault: every job's shard 0 went to the first worker by id, so two one-shard jobs shared it while the
    /// other live worker was idle.
    @Test("two jobs' first shards go to different idle workers, and so do their final requests")
    func shardsAndFinalRequestsGoByLoad() throws {
        var m = DispatchMachine()
        let one = m.start("job-1", shards: 1)
        let two = m.start("job-2", shards: 1)
        #expect(one.shards.map(\.worker) == [[1]] && two.shards.map(\.worker) == [[2]])
        _ = m.feed(
            .roundResult(
                identity: [1],
                message: DispatchMachine.result("job-1", round: 1, shard: 0, stateSHA: "", attempt: 1, totalSteps: 5)))
        _ = m.feed(
            .roundResult(
                identity: [2],
                message: DispatchMachine.result("job-2", round: 1, shard: 0, stateSHA: "", attempt: 1, totalSteps: 5)))
        let finalOne = try #require(m.feed(.roundStored(job: "job-1", .success("a"))).shards.first)
        let finalTwo = try #require(m.feed(.roundStored(job: "job-2", .success("b"))).shards.first)
        #expect(finalOne.assignment.finalize && finalTwo.assignment.finalize)
        #expect(finalOne.worker != finalTwo.worker)
    }

    /// Answers every shard of `out`'s round `round` of job-1 and stores it; returns the next round's requests.
    static func answerRound(_ m: inout DispatchMachine, _ out: [JobAction], round: Int) -> [JobAction] {
        for sent in out.shards where sent.assignment.job == "job-1" {
            _ = m.feed(
                .roundResult(
                    identity: sent.worker,
                    message: DispatchMachine.result(
                        round: round, shard: sent.assignment.shard, stateSHA: round == 1 ? "" : "s\(round - 1)",
                        attempt: sent.attempt, totalSteps: 50)))
        }
        return m.feed(.roundStored(job: "job-1", .success("s\(round)")))
    }

    /// The fault: ties rotated round the pool, so a one-shard DQN job on two idle workers went to the other worker
    /// every round, and its replica (replay buffer, ε schedule) started again every round and never filled a batch.
    @Test("a DQN job's shard goes back to its worker every round while that worker is live")
    func dqnShardsStayOnTheirWorker() throws {
        var m = DispatchMachine()
        var out = m.start("job-1", shards: 1, model: "dqn")
        let home = try #require(out.shards.first?.worker)
        for round in 1...3 {
            let sent = try #require(out.shards.first)
            #expect(sent.worker == home && sent.assignment.round == round && !sent.assignment.finalize)
            out = Self.answerRound(&m, out, round: round)
        }
        // Its worker gone, the shard moves to the live one and stays there.
        let other = try #require(m.machine.workers.first { $0.identity != home })
        out = m.feed(.workers([other]))
        let moved = try #require(out.shards.first { $0.assignment.job == "job-1" })
        #expect(moved.worker == other.identity)
    }

    /// With more shards than workers a shard whose home held another shard was placed by load, and moved every round.
    @Test("a DQN job of three shards on two workers keeps every shard on its worker")
    func moreShardsThanWorkers() throws {
        var m = DispatchMachine()
        var out = m.start("job-1", shards: 3, model: "dqn")
        let homes = Dictionary(uniqueKeysWithValues: out.shards.map { ($0.assignment.shard, $0.worker) })
        #expect(homes.count == 3 && Set(homes.values).count == 2)
        for round in 1...4 {
            #expect(Dictionary(uniqueKeysWithValues: out.shards.map { ($0.assignment.shard, $0.worker) }) == homes)
            out = Self.answerRound(&m, out, round: round)
        }
    }

    /// An MLP round carries its whole state: its shards go by load, so a worker that joins takes a share at once.
    @Test("an MLP job's shards go by load: a worker that joins takes shards from the next round")
    func mlpShardsGoByLoad() throws {
        var m = DispatchMachine()
        let first = try #require(m.machine.workers.first)
        var out = m.start("job-1", shards: 2, model: "mlp", live: [first])
        #expect(out.shards.count == 2 && out.shards.allSatisfy { $0.worker == first.identity })
        _ = m.feed(.workers(m.machine.workers))
        out = Self.answerRound(&m, out, round: 1)
        #expect(Set(out.shards.map(\.worker)).count == 2)
    }

    @Test("a retried request moves to another live worker, and the failure names the final request and its workers")
    func retriesMoveAndFailuresName() throws {
        var m = DispatchMachine()
        let first = try #require(m.start(shards: 1).shards.first)
        let retried = try #require(m.feed(.tick, nowMs: 32_000).shards.first)
        #expect(retried.worker != first.worker && retried.attempt == 2)
        _ = m.feed(
            .roundResult(
                identity: retried.worker,
                message: DispatchMachine.result(round: 1, shard: 0, stateSHA: "", attempt: 2, totalSteps: 5)),
            nowMs: 33_000)
        var out = m.feed(.roundStored(job: "job-1", .success("s1")), nowMs: 33_000)
        var workers: [[UInt8]] = []
        var now: UInt64 = 33_000
        while let request = out.shards.first {
            #expect(request.assignment.finalize)
            workers.append(request.worker)
            now += DispatchMachine.timeout
            out = m.feed(.tick, nowMs: now)
        }
        // Four requests, alternating between the two workers instead of all to the first.
        #expect(workers.count == 4 && Set(workers).count == 2)
        let record = try #require(out.persisted.first?.record)
        #expect(record.state == .failed)
        #expect(
            record.error?.hasPrefix(
                "the final checkpoint request got no answer after 4 attempts (sent to "
                    + workers.map { $0 == [1] ? "w-a" : "w-b" }.joined(separator: ", ") + "); each attempt waited the round timeout")
                == true,
            "\(record.error ?? "")")
    }

    /// The fault: shard 0 never answered round 1, so the job's total came from shard 1 alone and it finalized early.
    @Test("the job's total steps wait for every shard's report: one shard's shorter total does not end it")
    func totalStepsFromEveryShard() throws {
        var m = DispatchMachine()
        try m.startAnsweringShard1(totalSteps: 5)
        let closed = m.feed(.tick, nowMs: 32_000)
        let stored = try #require(closed.rounds.first)
        #expect(stored.job.totalRounds == 0 && m.core.jobs["job-1"]?.totalSteps == nil)
        let next = m.feed(.roundStored(job: "job-1", .success("s1")), nowMs: 32_000).shards
        #expect(next.count == 2 && next.allSatisfy { !$0.assignment.finalize && $0.assignment.round == 2 })
        for s in next {
            _ = m.feed(
                .roundResult(
                    identity: s.worker,
                    message: DispatchMachine.result(
                        round: 2, shard: s.assignment.shard, stateSHA: "s1", attempt: 1,
                        samples: s.assignment.shard == 0 ? 10 : 0, totalSteps: s.assignment.shard == 0 ? 15 : 5)),
                nowMs: 33_000)
        }
        #expect(m.core.jobs["job-1"]?.totalSteps == 15)
        let two = try #require(m.core.jobs["job-1"].flatMap { job -> RoundToStore? in
            if case .storing(let r) = job.phase { r } else { nil }
        })
        #expect(two.job.totalRounds == 3 && two.job.step == 10)
    }
}
