import RecPolicy
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Drives an ``OnlineCore`` on values: events in, actions out, no store, no sockets, no threads.
struct OnlineMachine {
    var core: OnlineCore
    let workerA = TrainingWorker(identity: [1], id: "w-a", trains: false, online: true)
    let workerB = TrainingWorker(identity: [2], id: "w-b", trains: false, online: true)
    static let diskFull = StoreError.noSpace(path: "state.sqlite", reason: "disk full")
    /// The guard's verdict admitting a candidate.
    static let admitted = GuardDecision(
        accepted: true, reason: "accepted", candidateValue: nil, currentValue: nil, margin: 0.01, rows: 0, atMs: 12_000)
    /// The guard's verdict rejecting a candidate that estimates worse.
    static let rejected = GuardDecision(
        accepted: false, reason: "rejected: worse", candidateValue: 0.1, currentValue: 0.2, margin: 0.01, rows: 300,
        atMs: 12_000)

    init(settings: OnlineSettings = OnlineSettings()) throws {
        core = try OnlineCore(settings: settings, nowMs: 1_000)
        core.adopt(core.policy, version: 1, pack: PolicyWeights.pack(core.policy).encoded(), sha: "sha-1")
    }

    /// Feeds one event and returns the actions, logging left out.
    mutating func feed(_ event: OnlineEvent, nowMs: UInt64 = 2_000) -> [OnlineAction] {
        var actions: [OnlineAction] = []
        core.handle(event, nowMs: nowMs, into: &actions)
        return actions.filter { if case .log = $0 { return false } else { return true } }
    }

    /// An impression record's bytes as a worker sends them.
    func record(_ id: String, slate: [Int] = [3, 7, 9], createdMs: UInt64 = 1_000) -> [UInt8] {
        WireJSON.encode(
            ImpressionRecord(
                impressionId: id, createdMs: createdMs, version: core.version,
                userFeatures: ["user_feature_0": "u0_01"],
                slate: slate, propensities: [0.5, 0.25, 0.1], scores: [0.1, 0.05, 0.01]))
    }

    /// A FEEDBACK message.
    static func feedback(_ id: String, item: Int, click: Int = 1) -> WireMessage {
        WireMessage(
            header: Header(command: .feedback, requestId: 42),
            payload: [WireJSON.encode(FeedbackRequest(impressionId: id, item: item, click: click))])
    }

    /// A held RECOMMEND reply showing the impression `record` logs.
    static func slate(_ requestId: UInt64, for record: [UInt8]) -> HeldSlate {
        HeldSlate(client: [9], frames: HeldSlateFixtures.frames(for: record, requestId: requestId))
    }
}

/// What a list of actions sends, decoded.
extension [OnlineAction] {
    var clientReplies: [WireMessage] {
        compactMap {
            if case .send(.toClient(_, let frames)) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
    }
    /// The held RECOMMENDs answered: slates released, and the errors that replace them (an invalid slate's too).
    var heldReplies: [WireMessage] {
        compactMap {
            if case .send(.heldReply(_, let frames)) = $0 { return try? WireMessage(decoding: frames) }
            if case .send(.invalidSlateReply(_, let frames, _)) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
    }
    /// The held RECOMMENDs answered INTERNAL because the worker's slate is invalid (counted by the core).
    var invalidSlateReplies: [WireMessage] {
        compactMap {
            if case .send(.invalidSlateReply(_, let frames, _)) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
    }
    func toWorkers(_ command: Command) -> [(identity: [UInt8], message: WireMessage)] {
        compactMap {
            guard case .send(.toWorker(let identity, let frames)) = $0, let m = try? WireMessage(decoding: frames),
                m.header.command == command
            else { return nil }
            return (identity, m)
        }
    }
    /// The versions the POLICY messages install, in order.
    var installedVersions: [UInt64] {
        toWorkers(.policy).compactMap { try? WireJSON.decode(PolicyInstall.self, from: $0.message.frame(0)).version }
    }
    var commits: [OnlineCommit] { compactMap { if case .commit(let c) = $0 { return c } else { return nil } } }
    var judged: [GuardCandidate] { compactMap { if case .judge(let c) = $0 { return c } else { return nil } } }
    var versionsToStore: [VersionToStore] {
        compactMap { if case .storeVersion(let v) = $0 { return v } else { return nil } }
    }
}

@Suite("Online core: events in, actions out")
struct OnlineMachineTests {
    @Test("a held slate is released only on the committed event of the commit that stores its impression")
    func heldSlateWaitsForCommit() throws {
        var m = try OnlineMachine()
        #expect(m.feed(.impression(worker: "w-a", record: m.record("held-1"), reply: OnlineMachine.slate(41, for: m.record("held-1")))).isEmpty)
        let flushed = m.feed(.flush)
        #expect(flushed.heldReplies.isEmpty)
        #expect(flushed.commits.map { $0.impressions.map(\.id) } == [["held-1"]])
        // A slate that arrives while the commit is out waits for a commit of its own.
        _ = m.feed(.impression(worker: "w-a", record: m.record("held-2"), reply: OnlineMachine.slate(42, for: m.record("held-2"))))
        #expect(m.feed(.flush).isEmpty)
        let released = m.feed(.committed(.success(.init(feedbackNew: [], impressionsStored: 1)))).heldReplies
        #expect(released.map(\.header.requestId) == [41])
        #expect(released.first?.header.status == .ok)
        #expect(m.core.view.impressions == 1)
        #expect(m.feed(.flush).commits.map { $0.impressions.map(\.id) } == [["held-2"]])
        // The count is the store's: impressions it stored less those the trim deleted, past the log's size while it
        // holds impressions whose feedback no sync consumed (capped at the size, it said 1,000 of 1,400 stored).
        let second = m.feed(.committed(.success(.init(feedbackNew: [], impressionsStored: 1, impressionsEvicted: 0))))
        #expect(second.heldReplies.map(\.header.requestId) == [42])
        #expect(m.core.view.impressions == 2)
    }

    /// The impression's time came from the worker's clock: a worker two hours behind the broker made every FEEDBACK on
    /// its slates EXPIRED at once, and the exported log's timestamps followed the worker's clock.
    @Test("an impression is logged at the broker's time, whatever the worker's clock wrote", arguments: [0, 1, 9_000_000, ImpressionRecord.maximumCreatedMs + 1_000, UInt64.max])
    func loggedAtBrokerTime(workerMs: UInt64) throws {
        var m = try OnlineMachine()
        let record = m.record("clock-1", createdMs: workerMs)
        _ = m.feed(.impression(worker: "w-a", record: record, reply: OnlineMachine.slate(61, for: record)), nowMs: 5_000)
        let logged = try #require(m.feed(.flush).commits.first?.impressions.first)
        #expect(logged.createdMs == 5_000)
        let stored = try WireJSON.decode(ImpressionRecord.self, from: Array(logged.record.utf8))
        #expect(stored.createdMs == 5_000)
        // What the record says apart from its time is what the worker sent.
        var sent = try WireJSON.decode(ImpressionRecord.self, from: record)
        sent.createdMs = 5_000
        #expect(stored == sent)
    }

    /// A slate record's `retrieval` holding U+0000 (or any text that is not an index version) was logged, and `logs
    /// export` then wrote a CSV that RecPool's own loader refuses.
    @Test("a record whose retrieval is not an item index version is refused, never logged",
        arguments: ["zzz\u{0}", "zzz", "e1.c2", "e1.c2.g", "e1.c2.g3.x", "E1.c2.g3", "e-1.c2.g3", "e99999999999999999999.c1.g1"])
    func retrievalChecked(retrieval: String) throws {
        var m = try OnlineMachine()
        var record = try WireJSON.decode(ImpressionRecord.self, from: m.record("ret-1"))
        record.retrieval = retrieval
        let bytes = WireJSON.encode(record)
        let refused = m.feed(.impression(worker: "w-a", record: bytes, reply: OnlineMachine.slate(62, for: bytes)))
        #expect(refused.invalidSlateReplies.first?.errorText?.contains("is not an item index version") == true)
        #expect(m.feed(.flush).commits.isEmpty)
    }

    @Test("a record whose retrieval is an item index version is logged")
    func retrievalAccepted() throws {
        var m = try OnlineMachine()
        var record = try WireJSON.decode(ImpressionRecord.self, from: m.record("ret-2"))
        record.retrieval = "e0.c12.g3"
        let bytes = WireJSON.encode(record)
        #expect(m.feed(.impression(worker: "w-a", record: bytes, reply: OnlineMachine.slate(63, for: bytes))).isEmpty)
        #expect(m.feed(.flush).commits.map { $0.impressions.map(\.id) } == [["ret-2"]])
    }

    /// A slate naming an exploration rule no policy can have (ε 7) was logged and forwarded OK.
    @Test("a slate whose exploration rule is not valid or whose source is not 'policy' is refused, never logged")
    func slateExplorationChecked() throws {
        var m = try OnlineMachine()
        let record = m.record("exp-1")
        var frames = HeldSlateFixtures.frames(for: record, requestId: 64)
        var slate = try WireJSON.decode(PolicyRecommendation.self, from: frames[1])
        slate.exploration = ExplorationSpec(kind: .softmax, epsilon: 7, temperature: 1e300)
        frames[1] = WireJSON.encode(slate)
        let refused = m.feed(.impression(worker: "w-a", record: record, reply: HeldSlate(client: [9], frames: frames)))
        #expect(refused.invalidSlateReplies.first?.errorText?.contains("epsilon must be in [0, 1]") == true)
        slate.exploration = ExplorationSpec()
        slate.source = "model"
        frames[1] = WireJSON.encode(slate)
        let record2 = m.record("exp-2")
        slate.impressionId = "exp-2"
        frames[1] = WireJSON.encode(slate)
        let refused2 = m.feed(.impression(worker: "w-a", record: record2, reply: HeldSlate(client: [9], frames: frames)))
        #expect(refused2.invalidSlateReplies.first?.errorText?.contains("source 'model'") == true)
        #expect(m.feed(.flush).commits.isEmpty)
    }

    @Test("a second slate with an impression id already queued is refused, never released as if stored")
    func duplicateImpressionIdRefused() throws {
        var m = try OnlineMachine()
        _ = m.feed(.impression(worker: "w-a", record: m.record("dup-1"), reply: OnlineMachine.slate(51, for: m.record("dup-1"))))
        let second = m.feed(.impression(worker: "w-a", record: m.record("dup-1"), reply: OnlineMachine.slate(52, for: m.record("dup-1"))))
        let refused = second.heldReplies
        #expect(refused.map(\.header.requestId) == [52])
        #expect(refused.first?.header.status != .ok)
        #expect(refused.first?.errorText?.contains("dup-1") == true, "\(refused.first?.errorText ?? "")")
        #expect(m.feed(.flush).commits.map { $0.impressions.map(\.id) } == [["dup-1"]])
        #expect(m.feed(.committed(.success(.init(feedbackNew: [])))).heldReplies.map(\.header.requestId) == [51])
    }

    @Test("feedback is acknowledged only on its commit, then goes to the replica that served the impression")
    func feedbackAcknowledgedAfterCommit() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-b", record: m.record("imp-1"), reply: nil))
        #expect(m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-1", item: 7))).isEmpty)
        let flushed = m.feed(.flush)
        #expect(flushed.clientReplies.isEmpty)
        let commit = try #require(flushed.commits.first)
        #expect(commit.impressions.map(\.id) == ["imp-1"])
        #expect(commit.feedback.map(\.item) == [7])
        let done = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        let ok = try #require(done.clientReplies.first)
        #expect(ok.header.status == .ok && ok.header.command == .feedback)
        #expect(try WireJSON.decode(FeedbackReply.self, from: ok.frame(0)).duplicate == false)
        #expect(m.core.view.feedback == 1)
        let learns = m.feed(.tick).toWorkers(.learn)
        #expect(learns.map(\.identity) == [m.workerB.identity])
        #expect(
            try WireJSON.decode(LearnBatch.self, from: learns[0].message.frame(0)).events.map(\.propensity) == [0.25])
    }

    @Test("a failed commit answers its feedback INTERNAL 'not stored' and its held slates INTERNAL 'not logged'")
    func failedCommit() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-f"), reply: OnlineMachine.slate(43, for: m.record("imp-f"))))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-f", item: 3)))
        _ = m.feed(.flush)
        let failed = m.feed(.committed(.failure(OnlineMachine.diskFull)))
        let feedback = try #require(failed.clientReplies.first)
        #expect(feedback.header.status == .internal)
        #expect(feedback.errorText?.contains("feedback not stored") == true)
        let slate = try #require(failed.heldReplies.first)
        #expect(slate.header.requestId == 43 && slate.header.status == .internal)
        #expect(slate.errorText?.contains("the slate was not logged") == true)
        #expect(m.core.view.feedback == 0 && m.core.view.impressions == 0)
        #expect(m.feed(.tick).toWorkers(.learn).isEmpty)
    }

    @Test(
        "feedback on an impression not queued is looked up in the log; NOT_FOUND, EXPIRED and a failed read are answered"
    )
    func lookUp() throws {
        var m = try OnlineMachine()
        let asked = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("old", item: 3)))
        guard case .lookUp(let query)? = asked.first, asked.count == 1 else {
            Issue.record("expected one look-up, got \(asked)")
            return
        }
        #expect(query.request.impressionId == "old")
        #expect(m.feed(.lookedUp(query, .success(nil))).clientReplies.first?.header.status == .notFound)
        let unreadable = m.feed(.lookedUp(query, .failure(OnlineMachine.diskFull))).clientReplies.first
        #expect(unreadable?.header.status == .internal)
        let record = try WireJSON.decode(ImpressionRecord.self, from: m.record("old"))
        var late = query
        late.receivedMs = 1_000 + OnlineSettings().feedbackWindowMs + 1
        let row = LoggedImpressionRow(record: record, createdMs: 1_000, worker: "w-a")
        #expect(m.feed(.lookedUp(late, .success(row))).clientReplies.first?.header.status == .expired)
        #expect(m.feed(.lookedUp(query, .success(row))).isEmpty)
        #expect(m.feed(.flush).commits.map { $0.feedback.map(\.impressionId) } == [["old"]])
    }

    /// Runs a sync to the guard with two replicas that learnt from 3 and 1 events; returns the judged case.
    static func syncToGuard(
        _ m: inout OnlineMachine, version: UInt64 = 1, requested: Bool = false,
        whilePulling: (inout OnlineMachine) -> Void = { _ in }
    ) throws -> GuardCandidate {
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-s"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-s", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        #expect(!m.core.syncing)
        let pulls = m.feed(requested ? OnlineSyncRequestTests.request(41) : .tick, nowMs: 1_000 + OnlineSettings().syncIntervalMs)
            .toWorkers(.policyPull)
        #expect(Set(pulls.map(\.identity)) == [m.workerA.identity, m.workerB.identity])
        guard case .pulling(let round, let pending, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            throw CancellationError()
        }
        #expect(pending.count == 2)
        whilePulling(&m)
        let base = PolicyWeights.pack(m.core.policy)
        var judged: [GuardCandidate] = []
        for (identity, events, shift) in [(m.workerA.identity, 3, Float(0.3)), (m.workerB.identity, 1, Float(0.1))] {
            let pack = base.shifting("s", by: shift)
            let report = PolicyStateReport(
                kind: .sync, sync: round.id, version: version, events: events, updates: 1,
                weightsSha256: PolicyWeights.sha256(of: pack.encoded()))
            let message = WireMessage(
                header: Header(command: .policyState, requestId: round.id),
                payload: [WireJSON.encode(report), pack.encoded()])
            judged += m.feed(.policyState(identity: identity, message: message), nowMs: 12_000).judged
        }
        guard case .judging = m.core.phase else {
            Issue.record("expected judging, got \(m.core.phase)")
            throw CancellationError()
        }
        return try #require(judged.first)
    }

    /// A replica that sent READY again after its POLICY_PULL held the sync until the 5 s timeout, which then blamed it
    /// for being "behind on learning"; READY replaces the registration and what it held is lost, as at a departure.
    @Test("a replica registered again during a pull leaves the pull at once and is installed again")
    func registeredAgainDuringPull() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-r"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-r", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        _ = m.feed(.tick, nowMs: 1_000 + OnlineSettings().syncIntervalMs)
        guard case .pulling(let round, let pending, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            return
        }
        #expect(pending.count == 2)
        var again = m.workerB
        again.registration += 1
        let actions = m.feed(.workers([m.workerA, again]))
        #expect(actions.installedVersions == [1], "the new registration gets the served policy")
        #expect(actions.toWorkers(.policy).map(\.identity) == [m.workerB.identity])
        guard case .pulling(_, let left, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            return
        }
        #expect(left == [m.workerA.identity])
        // A's answer closes the sync: nothing waits for B's.
        let learnt = PolicyWeights.pack(m.core.policy).shifting("s", by: 0.1).encoded()
        let report = PolicyStateReport(
            kind: .sync, sync: round.id, version: 1, events: 1, updates: 1, weightsSha256: PolicyWeights.sha256(of: learnt))
        let message = WireMessage(
            header: Header(command: .policyState, requestId: round.id), payload: [WireJSON.encode(report), learnt])
        #expect(m.feed(.policyState(identity: m.workerA.identity, message: message), nowMs: 12_000).judged.count == 1)
        // The same registration again changes nothing.
        #expect(m.feed(.workers([m.workerA, again])).toWorkers(.policy).isEmpty)
    }

    @Test("a sync goes idle → pulling → judging → storing → idle, and serves version 2 only once it is stored")
    func syncPhases() throws {
        var m = try OnlineMachine()
        let judged = try Self.syncToGuard(&m)
        let base = PolicyWeights.pack(m.core.policy)
        let candidate = PolicyWeights.pack(judged.candidate)
        for (c, b) in zip(candidate["s"] ?? [], base["s"] ?? []) { #expect(abs(c - (b + 0.4)) < 1e-5) }
        let accepted = OnlineMachine.admitted
        let store = m.feed(.verdict(sync: judged.sync, decision: accepted)).versionsToStore
        #expect(store.map(\.version) == [2])
        guard case .storing = m.core.phase else {
            Issue.record("expected storing, got \(m.core.phase)")
            return
        }
        #expect(m.core.version == 1)
        #expect(m.core.view.lastDecision == nil)
        let finished = m.feed(.versionStored(sync: judged.sync, .success("sha-2")))
        #expect(!m.core.syncing)
        #expect(m.core.version == 2 && m.core.weightsSHA == "sha-2")
        #expect(m.core.view.syncs == 1 && m.core.view.lastDecision?.accepted == true)
        #expect(finished.installedVersions == [2, 2])
    }

    @Test("the POLICY of a stored sync names the sync to the replicas it merged, and to no other")
    func mergedSyncNamed() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-m"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-m", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        _ = m.feed(.tick, nowMs: 1_000 + OnlineSettings().syncIntervalMs)
        guard case .pulling(let round, _, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            return
        }
        // A learnt (merged), B learnt nothing (answered, not merged).
        let answers =
            OnlineSyncPartitionTests.answer(&m, m.workerA, sync: round.id, version: 1, events: 1, nowMs: 12_000)
            + OnlineSyncPartitionTests.answer(&m, m.workerB, sync: round.id, version: 1, events: 0, nowMs: 12_000)
        let judged = try #require(answers.judged.first)
        _ = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted))
        let installs = m.feed(.versionStored(sync: judged.sync, .success("sha-2"))).toWorkers(.policy)
        let named = try installs.map { ($0.identity, try WireJSON.decode(PolicyInstall.self, from: $0.message.frame(0))) }
        #expect(named.count == 2 && named.allSatisfy { $0.1.version == 2 })
        #expect(named.first { $0.0 == m.workerA.identity }?.1.mergedSync == round.id)
        #expect(named.first { $0.0 == m.workerB.identity }.map { $0.1.mergedSync == nil } == true)

        // A rejected sync installs version 2 again, naming no pull: it merged none.
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-n"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-n", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        _ = m.feed(.tick, nowMs: 30_000 + OnlineSettings().syncIntervalMs)
        guard case .pulling(let second, _, _) = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            return
        }
        let again =
            OnlineSyncPartitionTests.answer(&m, m.workerA, sync: second.id, version: 2, events: 1, nowMs: 41_000)
            + OnlineSyncPartitionTests.answer(&m, m.workerB, sync: second.id, version: 2, events: 1, nowMs: 41_000)
        let candidate = try #require(again.judged.first)
        let kept = m.feed(.verdict(sync: candidate.sync, decision: OnlineMachine.rejected)).toWorkers(.policy)
        #expect(kept.count == 2)
        for install in kept {
            let document = try WireJSON.decode(PolicyInstall.self, from: install.message.frame(0))
            #expect(document.version == 2 && document.mergedSync == nil)
        }
    }

    @Test("a rejected candidate is not stored: every replica is told to keep version 1")
    func rejectedCandidate() throws {
        var m = try OnlineMachine()
        let judged = try Self.syncToGuard(&m)
        let actions = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.rejected))
        #expect(actions.versionsToStore.isEmpty)
        #expect(!m.core.syncing && m.core.version == 1)
        #expect(m.core.view.rejected == 1 && m.core.view.lastDecision?.accepted == false)
        #expect(actions.installedVersions == [1, 1])
    }

    @Test(
        "an admitted candidate after version 2^63 - 1, the largest the store holds, is not stored (it would replace that version's row) and the decision says why"
    )
    func largestStoredVersionHasNoSuccessor() throws {
        var m = try OnlineMachine()
        let largest = UInt64(Int64.max)
        m.core.adopt(m.core.policy, version: largest, pack: PolicyWeights.pack(m.core.policy).encoded(), sha: "sha-max")
        let judged = try Self.syncToGuard(&m, version: largest)
        let actions = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted))
        #expect(actions.versionsToStore.isEmpty)
        #expect(!m.core.syncing && m.core.version == largest && m.core.weightsSHA == "sha-max")
        let decision = try #require(m.core.view.lastDecision)
        #expect(!decision.accepted && decision.reason.contains("online policy version \(largest) has no successor"))
    }

    @Test("an admitted candidate whose write fails is not served, is counted, and the decision says why")
    func unstoredVersion() throws {
        var m = try OnlineMachine()
        let judged = try Self.syncToGuard(&m)
        let accepted = OnlineMachine.admitted
        _ = m.feed(.verdict(sync: judged.sync, decision: accepted), nowMs: 12_000)
        let failed = m.feed(.versionStored(sync: judged.sync, .failure(OnlineMachine.diskFull)), nowMs: 12_000)
        #expect(!m.core.syncing && m.core.version == 1)
        #expect(m.core.durableWriteFailures == 1 && m.core.view.rejected == 1 && m.core.view.syncs == 0)
        let decision = try #require(m.core.view.lastDecision)
        #expect(!decision.accepted && decision.reason.contains("could not be stored durably"))
        // Nothing acknowledged is lost: no event is marked learnt; the replicas are installed the served version again
        // (dropping what they learnt), and then the sync's event goes to them again, to be learnt once and merged by
        // the next sync.
        #expect(failed.markedLearnt.isEmpty)
        #expect(Set(failed.toWorkers(.policy).map(\.identity)) == [m.workerA.identity, m.workerB.identity])
        let again = failed.learnt.flatMap(\.events).map(\.impressionId)
        #expect(again == ["imp-s"])
        let install = try #require(failed.firstIndex { if case .send(.toWorker(_, let f)) = $0 { (try? WireMessage(decoding: f))?.header.command == .policy } else { false } })
        let learn = try #require(failed.firstIndex { if case .send(.toWorker(_, let f)) = $0 { (try? WireMessage(decoding: f))?.header.command == .learn } else { false } })
        #expect(install < learn, "the events go out after the install that drops the replicas' learning")
        #expect(m.core.view.pendingEvents == 1)
    }

    /// The guard admits `judged` and its version is stored as `sha-2`; returns the actions of the store's result.
    static func admitAndStore(_ m: inout OnlineMachine, _ judged: GuardCandidate) -> [OnlineAction] {
        _ = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted), nowMs: 12_000)
        return m.feed(.versionStored(sync: judged.sync, .success("sha-2")), nowMs: 12_000)
    }

    /// A freeze acknowledged while a sync's candidate was judged said version 1, then version 2 rolled out frozen.
    @Test("online_freeze during a judged sync takes effect, and is answered, when that sync ends: at its version")
    func freezeWaitsForTheJudgedSync() throws {
        var m = try OnlineMachine()
        let judged = try Self.syncToGuard(&m)
        let requester = Requester(identity: [9], header: Header(command: .control, requestId: 7))
        let waited = m.feed(.frozenStored(true, requester: requester, .success(())), nowMs: 12_000)
        #expect(waited.clientReplies.isEmpty && !m.core.frozen)
        let stored = Self.admitAndStore(&m, judged)
        #expect(m.core.frozen && m.core.version == 2)
        let answers = try stored.clientReplies.map { try WireJSON.decode(OnlineView.self, from: $0.frame(0)) }
        #expect(answers.contains { $0.frozen && $0.version == 2 }, "\(answers)")
    }

    /// `recpool online sync` exited 0 when the version the guard accepted could not be stored (a full disk).
    @Test("a requested sync whose accepted version cannot be stored is answered INTERNAL naming why")
    func requestedSyncNotStored() throws {
        var m = try OnlineMachine()
        let judged = try Self.syncToGuard(&m, requested: true)
        _ = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted), nowMs: 12_000)
        let failed = m.feed(.versionStored(sync: judged.sync, .failure(OnlineMachine.diskFull)), nowMs: 12_000)
        let reply = try #require(failed.clientReplies.first { $0.header.requestId == 41 })
        #expect(reply.header.status == .internal)
        #expect(reply.errorText?.contains("the online sync's version was not stored") == true, "\(reply.errorText ?? "")")
        #expect(m.core.version == 1)
    }

    /// A freeze acknowledged while the sync was still pulling the replicas answered version 20, frozen; the replicas'
    /// answers then came, and version 21 was judged, stored and served.
    @Test("online_freeze while a sync pulls the replicas waits for that sync and names the version it served")
    func freezeWaitsForThePullingSync() throws {
        var m = try OnlineMachine()
        let requester = Requester(identity: [9], header: Header(command: .control, requestId: 7))
        var waited: [OnlineAction] = []
        let judged = try Self.syncToGuard(&m) { m in
            waited = m.feed(.frozenStored(true, requester: requester, .success(())), nowMs: 11_500)
        }
        #expect(waited.clientReplies.isEmpty && !m.core.frozen)
        let stored = Self.admitAndStore(&m, judged)
        #expect(m.core.frozen && m.core.version == 2)
        let answers = try stored.clientReplies.map { try WireJSON.decode(OnlineView.self, from: $0.frame(0)) }
        #expect(answers.contains { $0.frozen && $0.version == 2 }, "\(answers)")
    }

    /// An unfreeze sent while a stored freeze waited for a sync was answered "on" at once, storing nothing; the freeze
    /// then took effect and the pool stayed frozen, its stored flag frozen.
    @Test("online_unfreeze while a freeze waits for a sync is stored and supersedes it; the freeze is answered when the sync ends")
    func unfreezeSupersedesAWaitingFreeze() throws {
        var m = try OnlineMachine()
        let freezer = Requester(identity: [9], header: Header(command: .control, requestId: 7))
        let thawer = Requester(identity: [8], header: Header(command: .control, requestId: 8))
        var asked: [OnlineAction] = []
        var stored: [OnlineAction] = []
        let judged = try Self.syncToGuard(&m) { m in
            _ = m.feed(.frozenStored(true, requester: freezer, .success(())), nowMs: 11_500)
            asked = m.feed(
                .control(identity: [8], header: thawer.header, request: ControlRequest(op: "online_unfreeze")),
                nowMs: 11_600)
            stored = m.feed(.frozenStored(false, requester: thawer, .success(())), nowMs: 11_700)
        }
        guard case .storeFrozen(false, _)? = asked.first else {
            Issue.record("the unfreeze was not stored: \(asked)")
            return
        }
        let answers = try stored.clientReplies.map { ($0.header.requestId, try WireJSON.decode(OnlineView.self, from: $0.frame(0))) }
        #expect(answers.map(\.0) == [8] && answers.allSatisfy { !$0.1.frozen }, "\(answers)")
        let ended = Self.admitAndStore(&m, judged)
        #expect(!m.core.frozen && m.core.version == 2)
        // The superseded freeze is answered when the sync ends, naming the version served from then on.
        let freezeAnswer = try #require(ended.clientReplies.first { $0.header.requestId == 7 })
        let view = try WireJSON.decode(OnlineView.self, from: freezeAnswer.frame(0))
        #expect(!view.frozen && view.version == 2)
    }

    @Test("online_freeze while a sync pulls replicas that never answer takes effect when that sync is abandoned")
    func freezeAfterAnAbandonedSync() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        _ = m.feed(OnlineSyncRequestTests.request(1), nowMs: 2_000)
        guard case .pulling = m.core.phase else {
            Issue.record("expected pulling, got \(m.core.phase)")
            return
        }
        let requester = Requester(identity: [9], header: Header(command: .control, requestId: 7))
        #expect(m.feed(.frozenStored(true, requester: requester, .success(())), nowMs: 11_500).clientReplies.isEmpty)
        let ended = m.feed(.tick, nowMs: 2_000 + OnlineSettings().syncTimeoutMs + 1)
        #expect(m.core.frozen && !m.core.syncing)
        #expect(OnlineSyncRequestTests.answered(ended) == [1: .conflict, 7: .ok])
        let view = try WireJSON.decode(
            OnlineView.self, from: try #require(ended.clientReplies.first { $0.header.requestId == 7 }).frame(0))
        #expect(view.frozen && view.version == 1)
    }

    @Test(
        "online_freeze takes effect only once the flag is stored; a failed write answers INTERNAL and changes nothing")
    func freezeIsDurable() throws {
        var m = try OnlineMachine()
        let requester = Requester(identity: [9], header: Header(command: .control, requestId: 7))
        let asked = m.feed(
            .control(identity: [9], header: requester.header, request: ControlRequest(op: "online_freeze")))
        guard case .storeFrozen(true, _)? = asked.first, asked.count == 1 else {
            Issue.record("expected one write of the flag, got \(asked)")
            return
        }
        #expect(!m.core.frozen)
        let failed = m.feed(.frozenStored(true, requester: requester, .failure(OnlineMachine.diskFull)))
        #expect(failed.clientReplies.first?.header.status == .internal && !m.core.frozen)
        let stored = m.feed(.frozenStored(true, requester: requester, .success(())))
        #expect(m.core.frozen)
        #expect(try WireJSON.decode(OnlineView.self, from: #require(stored.clientReplies.first).frame(0)).frozen)
    }
}
