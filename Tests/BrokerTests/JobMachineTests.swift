import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Drives a ``JobCore`` on values: events in, actions out, no store, no sockets.
struct JobMachine {
    var core = JobCore()
    let workers = [
        TrainingWorker(identity: [1], id: "w-a", trains: true, online: false),
        TrainingWorker(identity: [2], id: "w-b", trains: true, online: false),
    ]
    static let diskFull = StoreError.noSpace(path: "state.sqlite", reason: "disk full")

    /// Feeds one event and returns the actions, logging left out.
    mutating func feed(_ event: JobEvent, nowMs: UInt64 = 2_000) -> [JobAction] {
        var actions: [JobAction] = []
        core.handle(event, nowMs: nowMs, into: &actions)
        return actions.filter { if case .log = $0 { return false } else { return true } }
    }

    /// Accepts `job-1` (two shards, `dataset`) on two live workers; returns the first round's actions.
    mutating func startJob(dataset: String = "synthetic:", promote: Bool = false) -> [JobAction] {
        _ = feed(.workers(workers))
        let spec = TrainJobSpec(dataset: dataset, workers: 2, syncEvery: 5, promote: promote)
        let record = JobRecord(
            id: "job-1", model: "mlp", spec: String(decoding: WireJSON.encode(spec), as: UTF8.self), totalRounds: 0,
            createdAt: 1)
        return feed(.accepted(JobCore.RunningJob(record: record, spec: spec, state: [], stateSHA: "")))
    }

    /// Runs `job-1`'s one round on both workers (5 steps in all) and returns the final checkpoint request it sends.
    mutating func finalRequest() throws -> ShardToSend {
        _ = startJob()
        _ = feed(.roundResult(identity: [1], message: Self.result(round: 1, shard: 0, stateSHA: "", totalSteps: 5)))
        _ = feed(.roundResult(identity: [2], message: Self.result(round: 1, shard: 1, stateSHA: "", totalSteps: 5)))
        return try #require(feed(.roundStored(job: "job-1", .success("sha-r1"))).shards.first)
    }

    /// A worker's ROUND_RESULT for `job-1`, echoing dispatch `attempt` (the round's first request is attempt 1).
    static func result(
        round: Int, shard: Int, stateSHA: String, totalSteps: Int = 100, error: String? = nil,
        metrics: [String: Double]? = nil, samples: Int = 10, loss: Double? = 0.5, weights: [Float]? = nil,
        attempt: UInt16 = 1
    ) -> WireMessage {
        let report = RoundReport(
            job: "job-1", round: round, shard: shard, samples: samples, loss: loss, receivedStateSHA: stateSHA,
            metrics: metrics, epoch: 1, step: round * 5, totalSteps: totalSteps, datasetSHA: "ab", error: error)
        let pack = ParameterPack(step: 0, vectors: [.init(name: "w", values: weights ?? [Float(shard), 1])])
        return WireMessage(
            header: Header(command: .roundResult, requestId: UInt64(round), attempt: attempt),
            payload: [WireJSON.encode(report), pack.encoded()])
    }
}

extension [JobAction] {
    var shards: [ShardToSend] { compactMap { if case .sendShard(let s) = $0 { return s } else { return nil } } }
    var rounds: [RoundToStore] { compactMap { if case .storeRound(let r) = $0 { return r } else { return nil } } }
    var persisted: [(record: JobRecord, what: String)] {
        compactMap { if case .persist(let r, let what) = $0 { return (r, what) } else { return nil } }
    }
}

@Suite("Job core: events in, actions out")
struct JobMachineTests {
    @Test("a round is averaged and stored before the next starts, and the next starts from the stored state")
    func roundStoredBeforeNext() throws {
        var m = JobMachine()
        let first = m.startJob()
        #expect(first.persisted.map(\.record.state) == [.running])
        #expect(first.shards.map(\.assignment.shard) == [0, 1] && first.shards.allSatisfy { $0.assignment.round == 1 })
        _ = m.feed(.persisted(first.persisted[0].record, what: "the job's start", .success(())))
        #expect(
            m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: ""))).isEmpty)
        let closed = m.feed(.roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "")))
        let stored = try #require(closed.rounds.first)
        #expect(closed.shards.isEmpty)
        #expect(stored.job.round == 1 && stored.round.replicas == 2 && stored.round.samples == 20)
        let averaged = try ParameterPack(decoding: stored.state)
        #expect(averaged.vectors.first?.values == [0.5, 1])
        let next = m.feed(.roundStored(job: "job-1", .success("sha-r1")))
        #expect(next.shards.map(\.assignment.round) == [2, 2])
        #expect(next.shards.allSatisfy { $0.assignment.stateSHA == "sha-r1" && $0.state == stored.state })
        #expect(m.core.jobs["job-1"]?.record.stateSHA == "sha-r1")
    }

    @Test("shard 0 evaluates from round 2 on, and what it measured is stored with the previous round")
    func metricsDescribeTheStateAfterTheirRound() throws {
        var m = JobMachine()
        let first = m.startJob()
        // Round 1 starts from the untrained model: nobody evaluates it.
        #expect(first.shards.allSatisfy { !$0.assignment.evaluate })
        _ = m.feed(.persisted(first.persisted[0].record, what: "the job's start", .success(())))
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        let closed = m.feed(.roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "")))
        let one = try #require(closed.rounds.first)
        #expect(one.round.metrics == nil && one.previousRoundMetrics == nil)
        let second = m.feed(.roundStored(job: "job-1", .success("sha-r1")))
        #expect(second.shards.map(\.assignment.evaluate) == [true, false])
        // Round 2's shard 0 measured the state it received (after round 1): those metrics belong to round 1.
        _ = m.feed(
            .roundResult(
                identity: [1],
                message: JobMachine.result(round: 2, shard: 0, stateSHA: "sha-r1", metrics: ["auc": 0.75])))
        let closedTwo = m.feed(
            .roundResult(identity: [2], message: JobMachine.result(round: 2, shard: 1, stateSHA: "sha-r1")))
        let two = try #require(closedTwo.rounds.first)
        #expect(two.round.round == 2 && two.round.metrics == nil)
        #expect(two.previousRoundMetrics.map { $0.contains("0.75") } == true)
    }

    @Test("a shop's log goes out with its catalogue, and only with the dataset")
    func catalogueTravelsWithTheDataset() throws {
        var m = JobMachine()
        _ = m.feed(.workers(m.workers))
        var spec = TrainJobSpec(dataset: "sha256:logs", workers: 2, syncEvery: 5)
        spec.catalogue = "sha256:items"
        let record = JobRecord(
            id: "job-1", model: "mlp", spec: String(decoding: WireJSON.encode(spec), as: UTF8.self), totalRounds: 0,
            createdAt: 1)
        let first = m.feed(.accepted(JobCore.RunningJob(record: record, spec: spec, state: [], stateSHA: "")))
        #expect(first.shards.allSatisfy { $0.dataset == "logs" && $0.catalogue == "items" })
        _ = m.feed(.persisted(first.persisted[0].record, what: "the job's start", .success(())))
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        _ = m.feed(.roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "")))
        let next = m.feed(.roundStored(job: "job-1", .success("sha-r1")))
        // Both workers hold the log now: neither the log nor its catalogue is sent again.
        #expect(next.shards.count == 2 && next.shards.allSatisfy { $0.dataset == nil && $0.catalogue == nil })
    }

    /// Accepts `id` on a shop's log `logs` with catalogue `catalogue` and a schema.
    static func shopJob(_ m: inout JobMachine, id: String, catalogue: String, schema: String) -> [JobAction] {
        var spec = TrainJobSpec(dataset: "sha256:logs", workers: 2, syncEvery: 5)
        spec.catalogue = "sha256:\(catalogue)"
        spec.schema = schema
        let record = JobRecord(
            id: id, model: "mlp", spec: String(decoding: WireJSON.encode(spec), as: UTF8.self), totalRounds: 0,
            createdAt: 1)
        var job = JobCore.RunningJob(record: record, spec: spec, state: [], stateSHA: "")
        job.uploadNames = ["logs": "shop.csv", catalogue: "items.csv"]
        return m.feed(.accepted(job))
    }

    @Test("what a worker holds is known per uploaded file: a new schema sends nothing, a new catalogue sends both")
    func holdersPerFile() {
        var m = JobMachine()
        _ = m.feed(.workers(m.workers))
        let first = Self.shopJob(&m, id: "job-1", catalogue: "items", schema: "a")
        #expect(first.shards.allSatisfy { $0.dataset == "logs" && $0.catalogue == "items" })
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        _ = m.feed(.roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "")))
        #expect(m.core.datasetHolders["logs"] == [[1], [2]] && m.core.datasetHolders["items"] == [[1], [2]])
        m.core.jobs["job-1"] = nil
        // The same log under another schema: the workers resolve it from the bytes they keep.
        let second = Self.shopJob(&m, id: "job-2", catalogue: "items", schema: "b")
        #expect(second.shards.count == 2 && second.shards.allSatisfy { $0.dataset == nil && $0.catalogue == nil })
        m.core.jobs["job-2"] = nil
        // The same log with a catalogue the workers never saw: both go, as frames 3 and 4.
        let third = Self.shopJob(&m, id: "job-3", catalogue: "items2", schema: "a")
        #expect(third.shards.count == 2 && third.shards.allSatisfy { $0.dataset == "logs" && $0.catalogue == "items2" })
    }

    @Test("a worker that dropped the bytes gets the round again with them; a second failure names the file")
    func droppedBytesResent() throws {
        var m = JobMachine()
        _ = m.feed(.workers(m.workers))
        _ = Self.shopJob(&m, id: "job-1", catalogue: "items", schema: "a")
        m.core.datasetHolders = ["logs": [[1], [2]], "items": [[1], [2]]]
        m.core.jobs["job-1"] = nil
        let second = Self.shopJob(&m, id: "job-1", catalogue: "items", schema: "b")
        #expect(second.shards.allSatisfy { $0.dataset == nil })
        let lost = "unknown dataset: sha256:logs is not cached on this worker (never sent, or dropped)"
        let resent = m.feed(
            .roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "", error: lost)))
        #expect(resent.shards.count == 1)
        #expect(resent.shards.first?.worker == [1] && resent.shards.first?.dataset == "logs")
        #expect(resent.shards.first?.catalogue == "items" && resent.persisted.isEmpty)
        #expect(m.core.jobs["job-1"] != nil)
        // Sent with the bytes and still failing: the job fails, and its error names the uploaded file.
        let bad = "bad dataset: sha256:logs: no \"p\" column in the header"
        #expect(resent.shards.first?.attempt == 2)
        let failed = m.feed(
            .roundResult(
                identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "", error: bad, attempt: 2)))
        let record = try #require(failed.persisted.first?.record)
        #expect(record.state == .failed)
        #expect(record.error == "round 1, shard 0 on worker w-a: bad dataset: sha256:logs (shop.csv): no \"p\" column in the header")
    }

    /// A round that failed for a model too large for the dataset's width was logged as "worker no longer holds the
    /// uploaded files" and sent again with the dataset: only the not-cached error resends.
    @Test("a round error that is not about missing files fails the job at once, without sending the dataset again")
    func otherErrorsAreNotResent() throws {
        var m = JobMachine()
        _ = m.feed(.workers(m.workers))
        _ = Self.shopJob(&m, id: "job-1", catalogue: "items", schema: "a")
        m.core.datasetHolders = ["logs": [[1], [2]], "items": [[1], [2]]]
        let tooLarge = "invalid assignment: the model for width 70000 is larger than 50000000 parameters"
        let failed = m.feed(
            .roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "", error: tooLarge)))
        #expect(failed.shards.isEmpty)
        let record = try #require(failed.persisted.first?.record)
        #expect(record.state == .failed)
        #expect(record.error == "round 1, shard 0 on worker w-a: \(tooLarge)")
        #expect(m.core.datasetHolders["logs"]?.contains([1]) == true)
    }

    @Test(
        "a diverged or impossible round report fails the job naming the round, and never reaches the average",
        arguments: [
            (loss: Double.greatestFiniteMagnitude, samples: 10, weights: [Float(1), 1], says: "training diverged"),
            (loss: -1, samples: 10, weights: [Float(1), 1], says: "not a finite number ≥ 0"),
            (loss: 0.5, samples: -3, weights: [Float(1), 1], says: "negative count"),
        ])
    func impossibleReports(loss: Double, samples: Int, weights: [Float], says: String) throws {
        var m = JobMachine()
        _ = m.startJob()
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        let failed = m.feed(
            .roundResult(
                identity: [2],
                message: JobMachine.result(
                    round: 1, shard: 1, stateSHA: "", samples: samples, loss: loss, weights: weights)))
        #expect(failed.rounds.isEmpty)
        let record = try #require(failed.persisted.first?.record)
        #expect(record.state == .failed)
        #expect(record.error?.contains("round 1, shard 1") == true && record.error?.contains(says) == true)
        #expect(m.core.jobs["job-1"] == nil)
    }

    @Test("a replica's non-finite weights fail the round instead of being averaged into the job")
    func nonFiniteWeights() throws {
        var m = JobMachine()
        _ = m.startJob()
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        let failed = m.feed(
            .roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "", weights: [.nan, 1])))
        #expect(failed.rounds.isEmpty)
        let record = try #require(failed.persisted.first?.record)
        #expect(record.state == .failed && record.error?.contains("not finite") == true)
    }

    @Test("the mean loss weighs replicas by their share of the samples, and stays finite for enormous counts")
    func meanLoss() throws {
        var m = JobMachine()
        _ = m.startJob()
        _ = m.feed(
            .roundResult(
                identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "", samples: Int.max / 2, loss: 1)))
        let closed = m.feed(
            .roundResult(
                identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "", samples: Int.max / 2, loss: 3)))
        let stored = try #require(closed.rounds.first)
        #expect(stored.round.loss == 2 && stored.round.samples == Int.max - 1)
    }

    @Test("a round where no replica took a gradient step stores no loss (null), and one that did counts alone")
    func roundWithoutGradientStep() throws {
        var m = JobMachine()
        _ = m.startJob()
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "", loss: nil)))
        let closed = m.feed(
            .roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "", loss: nil)))
        let stored = try #require(closed.rounds.first)
        #expect(stored.round.loss == nil && stored.job.loss == nil && stored.round.samples == 20)
        // Round 2: one replica measured a loss of 3 on its 10 samples, the other took no gradient step. The round's
        // loss is 3 (the replica that measured one), not 1.5 (as if the other had a loss of 0).
        let next = m.feed(.roundStored(job: "job-1", .success("s1")))
        #expect(next.shards.count == 2)
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 2, shard: 0, stateSHA: "s1", loss: nil)))
        let second = m.feed(
            .roundResult(identity: [2], message: JobMachine.result(round: 2, shard: 1, stateSHA: "s1", loss: 3)))
        let round2 = try #require(second.rounds.first)
        #expect(round2.round.loss == 3 && round2.job.loss == 3)
    }

    @Test("a round that cannot be stored fails the job with a durable record that says why")
    func roundNotStored() throws {
        var m = JobMachine()
        _ = m.startJob()
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        _ = m.feed(.roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "")))
        let failed = m.feed(.roundStored(job: "job-1", .failure(JobMachine.diskFull)))
        let record = try #require(failed.persisted.first?.record)
        #expect(record.state == .failed && record.round == 0)
        #expect(record.error?.contains("round 1's averaged state could not be stored") == true, "\(record.error ?? "")")
        #expect(m.core.jobs["job-1"] == nil)
    }

    @Test("a job record that cannot be written is counted and shown as unsaved until a later write succeeds")
    func persistFailureFedBack() throws {
        var m = JobMachine()
        let first = m.startJob()
        let record = try #require(first.persisted.first?.record)
        _ = m.feed(.persisted(record, what: "the job's start", .failure(JobMachine.diskFull)))
        #expect(m.core.durableWriteFailures == 1)
        #expect(m.core.unsavedJobs["job-1"]?.record.state == .running)
        _ = m.feed(.persisted(record, what: "the job's start", .success(())))
        #expect(m.core.unsavedJobs["job-1"] == nil && m.core.durableWriteFailures == 1)
    }

    @Test("an uploaded dataset goes with a shard until the worker holds it; an unreadable one fails the job")
    func uploadedDataset() throws {
        var m = JobMachine()
        let first = m.startJob(dataset: "sha256:abc")
        #expect(first.shards.map(\.dataset) == ["abc", "abc"])
        _ = m.feed(.roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "")))
        #expect(m.core.datasetHolders["abc"] == [[1]])
        let failed = m.feed(.datasetUnreadable(job: "job-1", error: .missingBlob("abc")))
        #expect(failed.persisted.first?.record.error?.contains("the uploaded dataset cannot be read") == true)
        #expect(m.core.jobs["job-1"] == nil)
    }

    @Test("the final round asks one worker for a checkpoint, and the job ends only when it is registered")
    func finalizeAndRegister() throws {
        var m = JobMachine()
        _ = m.startJob(promote: true)
        _ = m.feed(
            .roundResult(identity: [1], message: JobMachine.result(round: 1, shard: 0, stateSHA: "", totalSteps: 5)))
        _ = m.feed(
            .roundResult(identity: [2], message: JobMachine.result(round: 1, shard: 1, stateSHA: "", totalSteps: 5)))
        let finalize = m.feed(.roundStored(job: "job-1", .success("sha-r1"))).shards
        #expect(finalize.count == 1 && finalize.first?.assignment.finalize == true && finalize.first?.worker == [1])
        let register = m.feed(
            .roundResult(identity: [1], message: JobMachine.result(round: 2, shard: 0, stateSHA: "sha-r1")))
        guard case .register(let model)? = register.first else {
            Issue.record("expected a registration, got \(register)")
            return
        }
        #expect(model.promote && model.job.round == 1)
        #expect(m.core.jobs["job-1"] != nil)
        #expect(m.feed(.registered(job: "job-1", .success(3))).isEmpty)
        #expect(m.core.jobs["job-1"] == nil)
    }

    /// A final request whose worker died each time (restarted by a supervisor under a new connection) went out again
    /// for ever: the job stayed `running` with no error and no log line.
    @Test("a final checkpoint request whose worker leaves is sent again at most 3 times, then the job fails naming where it went")
    func finalRequestWhoseWorkerLeaves() throws {
        var m = JobMachine()
        var sent = try m.finalRequest()
        #expect(sent.assignment.finalize)
        var live = m.workers
        for restart in 0..<4 {
            // The worker holding it dies and comes back under a new connection with the same name.
            let name = live.first { $0.identity == sent.worker }?.id ?? "?"
            live = live.map { $0.identity == sent.worker ? TrainingWorker(identity: [UInt8(10 + restart)], id: name) : $0 }
            let actions = m.feed(.workers(live))
            if restart < 3 {
                sent = try #require(actions.shards.first, "attempt \(restart + 2) was not sent")
                #expect(sent.assignment.finalize)
                #expect(m.core.jobs["job-1"] != nil)
            } else {
                #expect(actions.shards.isEmpty)
                let failed = try #require(actions.persisted.last?.record)
                #expect(failed.state == .failed)
                #expect(failed.error?.contains("the final checkpoint request got no answer after 4 attempts") == true)
                // Every worker it went to is named by its id, the departed too (no hexadecimal identities).
                #expect(failed.error?.contains("sent to w-") == true && failed.error?.contains("0a") == false, "\(failed.error ?? "")")
                #expect(m.core.jobs["job-1"] == nil)
            }
        }
    }

    @Test("a drained worker's final checkpoint request goes elsewhere without using an attempt")
    func finalRequestOfADrainedWorker() throws {
        var m = JobMachine()
        let sent = try m.finalRequest()
        let live = m.workers.map { worker -> TrainingWorker in
            var worker = worker
            if worker.identity == sent.worker { worker.draining = true }
            return worker
        }
        let again = try #require(m.feed(.workers(live)).shards.first)
        #expect(again.assignment.finalize && again.worker != sent.worker)
        #expect(m.core.jobs["job-1"]?.attempts == 0)
    }

    @Test("a job whose validation loss rises after round 2 is checkpointed from round 2's state, not the last")
    func finalizeFromBestRound() throws {
        var m = JobMachine()
        _ = m.startJob()
        // Three rounds of 5 steps; shard 0 measures the state it received: round r's result describes round r − 1.
        let measured: [Int: Double] = [2: 0.30, 3: 0.20, 4: 0.25]  // rounds 1, 2, 3's averages
        var sha = ""
        for round in 1...3 {
            let metrics = measured[round].map { ["val_loss": $0] }
            _ = m.feed(
                .roundResult(
                    identity: [1],
                    message: JobMachine.result(round: round, shard: 0, stateSHA: sha, totalSteps: 15, metrics: metrics)))
            let closed = m.feed(
                .roundResult(
                    identity: [2], message: JobMachine.result(round: round, shard: 1, stateSHA: sha, totalSteps: 15)))
            #expect(closed.rounds.count == 1)
            sha = "sha-r\(round)"
            let next = m.feed(.roundStored(job: "job-1", .success(sha)))
            if round == 3 { #expect(next.shards.first?.assignment.finalize == true) }
        }
        let round2State = try #require(m.core.jobs["job-1"]?.best?.state)
        // The finalize request measures the last state (round 3's average) worse than round 2's: ask again for round 2's.
        let again = m.feed(
            .roundResult(
                identity: [1],
                message: JobMachine.result(round: 4, shard: 0, stateSHA: "sha-r3", metrics: ["val_loss": 0.28])))
        let resent = try #require(again.shards.first)
        #expect(again.shards.count == 1 && resent.assignment.finalize)
        #expect(resent.assignment.stateSHA == "sha-r2" && resent.state == round2State)
        #expect(resent.attempt == 2)
        let register = m.feed(
            .roundResult(
                identity: [1],
                message: JobMachine.result(
                    round: 4, shard: 0, stateSHA: "sha-r2", metrics: ["val_loss": 0.20], attempt: 2)))
        guard case .register(let model)? = register.first else {
            Issue.record("expected a registration, got \(register)")
            return
        }
        #expect(model.report.metrics?["val_loss"] == 0.20)
    }

    @Test("a job whose last state is its best is checkpointed from it at once")
    func finalizeFromLastWhenBest() throws {
        var m = JobMachine()
        _ = m.startJob()
        var sha = ""
        for round in 1...2 {
            let metrics = round == 2 ? ["val_loss": 0.3] : nil
            _ = m.feed(
                .roundResult(
                    identity: [1],
                    message: JobMachine.result(round: round, shard: 0, stateSHA: sha, totalSteps: 10, metrics: metrics)))
            _ = m.feed(
                .roundResult(
                    identity: [2], message: JobMachine.result(round: round, shard: 1, stateSHA: sha, totalSteps: 10)))
            sha = "sha-r\(round)"
            _ = m.feed(.roundStored(job: "job-1", .success(sha)))
        }
        let register = m.feed(
            .roundResult(
                identity: [1], message: JobMachine.result(round: 3, shard: 0, stateSHA: "sha-r2", metrics: ["val_loss": 0.2])))
        guard case .register = register.first else {
            Issue.record("expected a registration, got \(register)")
            return
        }
    }
}
