import Foundation
import GRDB
import Logging
import RecData
import RecPolicy
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Drives an ``OnlineCoordinator`` over a real store in a temporary folder, capturing what it emits.
final class OnlineHarness {
    let directory: String
    var outputs: [ControlOutput] = []
    var coordinator: OnlineCoordinator!
    let workerA = TrainingWorker(identity: [1], id: "w-a", trains: false, online: true)
    let workerB = TrainingWorker(identity: [2], id: "w-b", trains: false, online: true)

    init(settings: OnlineSettings = OnlineSettings()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-online-\(UUID())").path
        try open(settings: settings)
    }

    func open(settings: OnlineSettings) throws {
        let store = try RecStore(directory: directory)
        coordinator = try OnlineCoordinator(settings: settings, store: store, logger: Logger(label: "test")) {
            [unowned self] in self.outputs.append($0)
        }
        try coordinator.start(nowMs: 1_000)
        // The guard's thread, inline: the verdict comes back at once.
        coordinator.judge = { [unowned self] c in
            self.coordinator.handleVerdict(sync: c.sync, decision: GuardJudge.decide(c), nowMs: c.nowMs)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Takes the outputs emitted so far.
    func take() -> [ControlOutput] {
        defer { outputs.removeAll() }
        return outputs
    }

    /// Frames sent to clients, decoded.
    func clientReplies() -> [WireMessage] {
        take().compactMap {
            if case .toClient(_, let frames) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
    }

    /// Logs an impression as a worker would.
    func serve(_ id: String, slate: [Int] = [3, 7, 9], createdMs: UInt64 = 1_000, worker: String = "w-a") {
        let record = ImpressionRecord(
            impressionId: id, createdMs: createdMs, version: coordinator.version,
            userFeatures: ["user_feature_0": "u0_01"], slate: slate, propensities: [0.5, 0.25, 0.1],
            scores: [0.1, 0.05, 0.01])
        coordinator.handleImpression(worker: worker, record: WireJSON.encode(record), nowMs: createdMs)
    }

    /// Sends FEEDBACK and returns the reply.
    func feedback(_ id: String, item: Int, click: Int = 1, nowMs: UInt64 = 2_000) -> WireMessage? {
        let request = WireMessage(
            header: Header(command: .feedback, requestId: 42),
            payload: [WireJSON.encode(FeedbackRequest(impressionId: id, item: item, click: click))])
        coordinator.handleFeedback(identity: [9], message: request, nowMs: nowMs)
        coordinator.flushPending()
        return clientReplies().last
    }
}

@Suite("Online learning in the broker's control plane")
struct OnlineCoordinatorTests {
    @Test("feedback: unknown impressions are NOT_FOUND, shown items OK once, duplicates ignored, others refused")
    func feedbackRules() throws {
        let h = try OnlineHarness()
        #expect(h.feedback("nope", item: 3)?.header.status == .notFound)
        h.serve("imp-1")
        let first = try #require(h.feedback("imp-1", item: 7))
        #expect(first.header.status == .ok)
        #expect(try WireJSON.decode(FeedbackReply.self, from: first.frame(0)).duplicate == false)
        let again = try #require(h.feedback("imp-1", item: 7, click: 0))
        #expect(again.header.status == .ok)
        #expect(try WireJSON.decode(FeedbackReply.self, from: again.frame(0)).duplicate == true)
        #expect(h.feedback("imp-1", item: 8)?.header.status == .badRequest)
        #expect(h.feedback("imp-1", item: 3, click: 2)?.header.status == .badRequest)
        let late = h.feedback("imp-1", item: 3, nowMs: 1_000 + OnlineSettings().feedbackWindowMs + 1)
        #expect(late?.header.status == .expired)
        #expect(h.coordinator.view.feedback == 1)
        #expect(h.coordinator.view.duplicates == 1)
        // Everything so far published (what STATUS shows), so the next tick publishes only what the repeat changes.
        h.coordinator.tick(nowMs: 1_000 + OnlineSettings().feedbackWindowMs + 1)
        _ = h.take()
        // A late repeat of feedback the log holds is a duplicate, not EXPIRED: a client retrying to learn whether
        // its event was kept hears that it was (it was answered EXPIRED, as if lost).
        let lateRepeat = try #require(h.feedback("imp-1", item: 7, nowMs: 1_000 + OnlineSettings().feedbackWindowMs + 1))
        #expect(lateRepeat.header.status == .ok && lateRepeat.header.modelVersion == h.coordinator.version)
        #expect(try WireJSON.decode(FeedbackReply.self, from: lateRepeat.frame(0)).duplicate == true)
        #expect(h.coordinator.view.feedback == 1 && h.coordinator.view.duplicates == 2)
        // The view STATUS shows is republished with it (it stayed one behind `online status` until something else
        // changed).
        h.coordinator.tick(nowMs: 1_000 + OnlineSettings().feedbackWindowMs + 2)
        let published = h.take().compactMap { output -> OnlineView? in
            if case .online(let view) = output { return view }
            return nil
        }
        #expect(published.last?.duplicates == 2, "\(published.map(\.duplicates))")
        #expect(try RecStore(directory: h.directory).impression("imp-1")?.clicks == [7: 1])
    }

    @Test("feedback is answered only after its group commit, and duplicates within one batch are caught")
    func groupCommit() throws {
        let h = try OnlineHarness()
        h.serve("imp-g")
        for click in [1, 0] {
            let request = WireMessage(
                header: Header(command: .feedback, requestId: 50),
                payload: [WireJSON.encode(FeedbackRequest(impressionId: "imp-g", item: 3, click: click))])
            h.coordinator.handleFeedback(identity: [9], message: request, nowMs: 2_000)
        }
        #expect(h.clientReplies().isEmpty)
        h.coordinator.flushPending()
        let replies = try h.clientReplies().map { try WireJSON.decode(FeedbackReply.self, from: $0.frame(0)).duplicate }
        #expect(replies == [false, true])
        #expect(try RecStore(directory: h.directory).impression("imp-g")?.clicks == [3: 1])
    }

    @Test("acknowledged feedback is in the store before the OK, and survives a restart")
    func feedbackIsDurable() throws {
        let h = try OnlineHarness()
        h.serve("imp-2")
        #expect(h.feedback("imp-2", item: 9, click: 0)?.header.status == .ok)
        let reopened = try RecStore(directory: h.directory)
        #expect(try reopened.impression("imp-2")?.clicks == [9: 0])
        try h.open(settings: OnlineSettings())
        #expect(h.coordinator.view.feedback == 1)
        #expect(h.coordinator.version == 1)
    }

    @Test("a restart with another policy spec serves the learnt statistics as the next version, never under the old number")
    func changedSpecIsANewVersion() throws {
        let h = try OnlineHarness()
        #expect(h.coordinator.version == 1)
        let store = try RecStore(directory: h.directory)
        let first = try #require(try store.policyVersion(1))
        // The same settings resume version 1.
        try h.open(settings: OnlineSettings())
        #expect(h.coordinator.version == 1)
        // Another ε: version 2, whose stored spec says so; version 1 keeps the spec its impressions were served with.
        var settings = OnlineSettings()
        settings.exploration = ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.3)
        try h.open(settings: settings)
        #expect(h.coordinator.version == 2)
        let second = try #require(try store.policyVersion(2))
        let spec = try WireJSON.decode(OnlinePolicySpec.self, from: Array(second.spec.utf8))
        #expect(spec.exploration.epsilon == 0.3)
        #expect(try store.policyVersion(1)?.spec == first.spec)
        #expect(second.weightsSHA == first.weightsSHA)  // the statistics carried over, unchanged
        // And a restart with the new settings resumes version 2.
        try h.open(settings: settings)
        #expect(h.coordinator.version == 2)
    }

    /// Stores version `version` as version `from` after learning something: its pack with 3 more events in the first
    /// id bucket (`k`), as a sync would have stored it. Returns the stored row.
    static func storeLearntVersion(_ store: RecStore, from: UInt64, as version: UInt64) throws -> PolicyVersionRow {
        var learnt = try #require(try store.policyVersion(from))
        var pack = try ParameterPack(decoding: try store.blobs.get(learnt.weightsSHA))
        let k = try #require(pack.vectors.firstIndex { $0.name == "k" })
        pack.vectors[k].values[0] += 3
        learnt.version = version
        learnt.weightsSHA = try store.blobs.put(pack.encoded())
        try store.savePolicyVersion(learnt, createdMs: 2_000)
        return learnt
    }

    /// Switching learners on one state directory carried the bandit's log-odds into the session DQN's Q regression
    /// (and back) under the next number: the bandit then scored "click probabilities" near 0.6 against a 3.5% rate.
    /// The next version starts from the prior; the lineage (and so the log, its export and its feedback) carries on.
    @Test("a restart with another learner or γ serves the prior as the next version, keeping the log and its feedback")
    func anotherLearnerStartsFromThePrior() throws {
        let h = try OnlineHarness()
        h.serve("imp-1")
        #expect(h.feedback("imp-1", item: 3)?.header.status == .ok)
        let store = try RecStore(directory: h.directory)
        let prior = try #require(try store.policyVersion(1)).weightsSHA
        // Version 2 learnt something (its statistics differ from the prior), as a sync would have stored it.
        let learnt = try Self.storeLearntVersion(store, from: 1, as: 2)
        try h.open(settings: OnlineSettings())
        #expect(h.coordinator.version == 2)
        var settings = OnlineSettings()
        settings.learning.learner = .sessionDQN
        try h.open(settings: settings)
        #expect(h.coordinator.version == 3)
        let third = try #require(try store.policyVersion(3))
        #expect(try WireJSON.decode(OnlinePolicySpec.self, from: Array(third.spec.utf8)).learning.learner == .sessionDQN)
        #expect(third.weightsSHA == prior && third.weightsSHA != learnt.weightsSHA, "the prior, not version 2's statistics")
        // The log carries on: the acknowledged event is handed to the new learner, not dropped.
        #expect(try store.unlearntFeedback().rows.count == 1)
        // Another γ rescales the session DQN's Q-values: the prior again, under the next number.
        settings.learning.gamma = 0.5
        try h.open(settings: settings)
        #expect(h.coordinator.version == 4)
        try h.open(settings: settings)
        #expect(h.coordinator.version == 4, "the same γ resumes")
        // Back to the bandit: the next number, never an earlier one again.
        try h.open(settings: OnlineSettings())
        #expect(h.coordinator.version == 5)
    }

    /// The newest version's row deleted (a helper's test: version 68 of 68, after 60 acknowledged events were merged
    /// into it): the broker resumed version 67's weights under the number 69 with a warning, and those 60 events,
    /// marked learnt, were never learnt again.
    @Test("impressions that name a version past the newest stored one stop the start: that version's learning is lost")
    func impressionsPastTheNewestVersion() throws {
        let h = try OnlineHarness()
        #expect(h.coordinator.version == 1)
        // Impressions logged under version 5, whose row is gone (a partial restore, an edit).
        let store = try RecStore(directory: h.directory)
        let record = ImpressionRecord(
            impressionId: "old-5", createdMs: 900, version: 5, userFeatures: [:], slate: [1, 2, 3],
            propensities: [0.5, 0.25, 0.1], scores: [0.1, 0.05, 0.01])
        _ = try store.commitOnline(
            impressions: [("old-5", 900, "w-a", 5, String(decoding: WireJSON.encode(record), as: UTF8.self))],
            keep: 1_000, feedback: [])
        do {
            try h.open(settings: OnlineSettings())
            Issue.record("the start resumed version 1 past impressions of version 5")
        } catch let error as StoreError {
            #expect(ControlPlane.isUnreadable(error))
            #expect("\(error)".contains("the newest stored version is 1 while impressions name versions up to 5"), "\(error)")
            #expect("\(error)".contains("versions 2…5"), "\(error)")
        }
        // Nothing was stored by the refused start: version 1 is still the newest.
        #expect(try store.policyVersion(2) == nil)
    }

    @Test("every policy version gone while impressions name versions stops the start: learnt weights are never replaced by a fresh policy")
    func lostVersionsStopTheStart() throws {
        let h = try OnlineHarness()
        let store = try RecStore(directory: h.directory)
        let record = ImpressionRecord(
            impressionId: "i-1", createdMs: 900, version: 1, userFeatures: [:], slate: [1, 2, 3],
            propensities: [0.5, 0.25, 0.1], scores: [0.1, 0.05, 0.01])
        _ = try store.commitOnline(
            impressions: [("i-1", 900, "w-a", 1, String(decoding: WireJSON.encode(record), as: UTF8.self))],
            keep: 1_000, feedback: [])
        // The table emptied by hand (the helper's case: 187 versions deleted; the broker served version 187 with the
        // untrained weights of version 1 and logged only "online policy created").
        try DatabaseQueue(path: h.directory + "/recpool.sqlite").write { db in
            try db.execute(sql: "DELETE FROM policy_versions")
        }
        do {
            try h.open(settings: OnlineSettings())
            Issue.record("the start served a fresh policy over lost versions")
        } catch let error as StoreError {
            #expect(ControlPlane.isUnreadable(error))
            #expect("\(error)".contains("impressions name versions up to 1"), "\(error)")
        }
    }

    @Test("feedback on an impression whose stored record does not decode is INTERNAL naming it, never NOT_FOUND")
    func corruptStoredImpression() throws {
        let h = try OnlineHarness()
        let store = try RecStore(directory: h.directory)
        _ = try store.commitOnline(
            impressions: [("broken", 1_000, "w-a", 1, "{\"impression_id\": \"broken\", \"slate\": [1,")], keep: 1_000,
            feedback: [])
        try h.open(settings: OnlineSettings())
        let reply = try #require(h.feedback("broken", item: 1))
        #expect(reply.header.status == .internal, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains("\"broken\"") == true, "\(reply.errorText ?? "")")
    }

    @Test("a restart over a registry catalogue: a later version resumes the number, an earlier one carries the statistics, moved rows start anew")
    func restartOverRegistryCatalogues() throws {
        let h = try RegistryOnlineHarness()
        let store = h.store
        func register(_ ids: [String], parent: UInt64?, change: CatalogueChange) throws -> (catalogue: ItemCatalogue, record: CatalogueRecord) {
            try h.register(["f0"], ids.indices.map { [Float($0)] }, ids: ids, parent: parent, change: change)
        }
        let v1 = try register(["a", "b", "c"], parent: nil, change: .upload)
        let v2 = try register(["a", "b", "c", "d"], parent: 1, change: .add)
        let v3 = try register(["c", "b", "a", "d"], parent: 2, change: .upload)
        func start(_ served: (catalogue: ItemCatalogue, record: CatalogueRecord)) throws -> (version: UInt64, sha: String) {
            let coordinator = try h.start(served)
            return (coordinator.version, try #require(try store.policyVersion(coordinator.version)).weightsSHA)
        }
        let first = try start(v1)
        #expect(first.version == 1)
        // Catalogue 2 extends 1's rows (an add): the same policy, the same number, which now names catalogue 2 (as
        // a running broker's move to a new catalogue version stores it).
        #expect(try start(v2).version == 1)
        #expect(try store.policyVersion(1)?.catalogueVersion == 2)
        // Back to catalogue 1, an earlier version whose rows are a prefix of 2's: the statistics are carried under the
        // next number, never served under one that names more rows.
        let back = try start(v1)
        #expect(back.version == 2 && back.sha == first.sha)
        #expect(try store.policyVersion(2)?.catalogueVersion == 1)
        // Catalogue 3 moved the rows (another upload): a new lineage.
        let moved = try start(v3)
        #expect(moved.version == 3)
        #expect(try store.policyVersion(3)?.catalogueVersion == 3)
        // Catalogue 2's rows are not 3's rows in place either (a, c moved): a new lineage again.
        #expect(try start(v2).version == 4)
        // Version 4 learns something (its statistics change), stored as version 5 on catalogue 2.
        let learnt = try Self.storeLearntVersion(store, from: 4, as: 5)
        // Catalogue 1 is a prefix of version 5's catalogue (2): what it learnt is carried, under a new number.
        let carried = try start(v1)
        #expect(carried.version == 6)
        #expect(carried.sha == learnt.weightsSHA)
        #expect(carried.sha != (try #require(try store.policyVersion(4))).weightsSHA)
        // Back on catalogue 2 (a, b, c, d: resumed, the number now naming it), then a later upload of its first three
        // rows (`upload --replace` that dropped d): its rows are a prefix of 2's, but a later number, whose next add
        // would take d's row 3 and have the impressions that showed d learnt and exported as the new item. A new
        // lineage, not carried.
        let onTwo = try start(v2)
        #expect(onTwo.version == 6)
        #expect(try store.policyVersion(6)?.catalogueVersion == 2)
        let v4 = try register(["a", "b", "c"], parent: 3, change: .upload)
        let truncated = try start(v4)
        #expect(truncated.version == 7)
        #expect(truncated.sha != onTwo.sha)
        #expect(try store.policyVersion(7)?.catalogueVersion == v4.record.version)
    }

    /// The newest stored version names a catalogue version the registry lost (a row deleted) or cannot read (its file
    /// damaged). Before, either was taken for a catalogue the configuration changed to: a new lineage served the
    /// untrained policy under a new number and every logged impression went to an earlier lineage, with a warning.
    @Test("a stored version's catalogue that the registry lost or cannot read stops the start; it is not a new lineage")
    func lostPolicyCatalogueIsRefused() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0.1], [0.2], [0.3]], parent: nil)
        let v2 = try h.register(["f0"], [[0.1], [0.2], [0.3], [0.4]], parent: nil)
        #expect(try h.start(v1).version == 1)
        // A row naming catalogue 9, which was never registered.
        var row = try #require(try h.store.policyVersion(1))
        row.catalogueVersion = 9
        row.version = 2
        try h.store.savePolicyVersion(row, createdMs: 2_000)
        #expect {
            try h.start(v2)
        } throws: { error in
            (error as? StoredPolicyUnusable)?.version == 2
                && "\(error)".contains("it was learnt over catalogue version 9, and the catalogue registry holds no such version")
        }
        #expect(try h.store.latestPolicyVersion()?.version == 2)
        // Catalogue 1's file damaged: the newest row names it again.
        row.catalogueVersion = 1
        row.version = 3
        try h.store.savePolicyVersion(row, createdMs: 3_000)
        let path = h.store.blobs.path(v1.record.sha256)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect {
            try h.start(v2)
        } throws: { error in
            (error as? StoredPolicyUnusable)?.version == 3
                && "\(error)".contains("it was learnt over catalogue version 1, and it cannot be read")
        }
        #expect(try h.store.latestPolicyVersion()?.version == 3)
    }

    /// A helper's case: the served version's `catalogue_version` set to NULL was taken for a change of configuration,
    /// and the start began a new lineage serving untrained weights.
    @Test("a stored version over a registry catalogue whose row names no catalogue stops the start; it is not a new lineage")
    func policyRowWithoutItsCatalogueIsRefused() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0.1], [0.2], [0.3]], parent: nil)
        #expect(try h.start(v1).version == 1)
        var row = try #require(try h.store.policyVersion(1))
        row.catalogueVersion = nil
        row.version = 2
        try h.store.savePolicyVersion(row, createdMs: 2_000)
        #expect {
            try h.start(v1)
        } throws: { error in
            guard case .corruptColumn("policy_versions", "version = 2", "catalogue_version", let problem) = error as? StoreError
            else { return false }
            return problem.contains("the catalogue version its statistics were learnt over is lost")
        }
        #expect(try h.store.latestPolicyVersion()?.version == 2)
    }

    /// Hashed into 8 columns, or 7 declared values and a shared column: the same widths, so the weights fit, but
    /// each column means other users. What was learnt is not carried into the new encoding.
    @Test("a restart whose schema encodes the user features otherwise begins a new lineage, even at the same width")
    func restartWithOtherUserEncoding() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0.1], [0.2], [0.3]], parent: nil)
        let hashed = [DataSchema.Feature("user_feature_0", .categorical)]
        let declared = [DataSchema.Feature("user_feature_0", .categorical, values: (0..<7).map { "u0_0\($0)" })]
        #expect(try h.start(v1, userFeatures: hashed).version == 1)
        // Version 1 learns something (its statistics change), stored as version 2.
        var learnt = try #require(try h.store.policyVersion(1))
        var pack = try ParameterPack(decoding: try h.store.blobs.get(learnt.weightsSHA))
        let k = try #require(pack.vectors.firstIndex { $0.name == "k" })
        pack.vectors[k].values[0] += 3
        learnt.version = 2
        learnt.weightsSHA = try h.store.blobs.put(pack.encoded())
        try h.store.savePolicyVersion(learnt, createdMs: 2_000)
        // The same encoding resumes it.
        #expect(try h.start(v1, userFeatures: hashed).version == 2)
        // Declared values: a new lineage from the prior, under the next number.
        let other = try h.start(v1, userFeatures: declared)
        #expect(other.version == 3)
        #expect(other.policy.spec.userFeatures.first?.values.count == 7 && other.policy.spec.userFeatures.first?.buckets == 1)
        let stored = try ParameterPack(decoding: try h.store.blobs.get(try #require(try h.store.policyVersion(3)).weightsSHA))
        #expect(stored["k"]?.allSatisfy { $0 == 0 } == true, "nothing learnt under the hashed encoding is carried")
    }

    /// One byte of the newest row's stored spec changed: a user feature's `"buckets":8` → `9` was taken for a changed
    /// schema (a new lineage serving the untrained policy in place of what the pool had learnt); `id_buckets` 1024 → 512
    /// or `item_dims` for a changed setting (the start warned "the configured online policy differs", carried the
    /// weights on under the next number, and left the damaged row to be served by `data ope --online-version` as a
    /// spec its weights do not fit).
    @Test("a stored spec whose user encoding, bucket count or item dims its own weights do not fit stops the start", arguments: [
        ("\"buckets\":8", "\"buckets\":9"), ("\"id_buckets\":1024", "\"id_buckets\":512"),
        ("\"item_dims\":16", "\"item_dims\":1"),
    ])
    func damagedStoredShapeIsRefused(field: (String, String)) throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0", "f1"], [[0.1, 1], [0.2, 2], [0.3, 3]], parent: nil)
        let hashed = [DataSchema.Feature("user_feature_0", .categorical)]
        #expect(try h.start(v1, userFeatures: hashed).version == 1)
        var damaged = try #require(try h.store.policyVersion(1))
        #expect(damaged.spec.contains(field.0), "\(damaged.spec.prefix(400))")
        damaged.spec = damaged.spec.replacingOccurrences(of: field.0, with: field.1)
        damaged.version = 2
        try h.store.savePolicyVersion(damaged, createdMs: 2_000)
        #expect {
            try h.start(v1, userFeatures: hashed)
        } throws: { error in
            (error as? StoredPolicyUnusable)?.version == 2
        }
        #expect(try h.store.latestPolicyVersion()?.version == 2)
    }

    @Test("a restart after items were added keeps the lineage's item scaling: the same number, the rows read as learnt")
    func restartKeepsItemScaling() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["price"], [[20], [40], [60]], parent: nil)
        let v2 = try h.register(["price"], [[20], [40], [60], [1_000]], parent: 1, change: .add)
        func start(_ served: (catalogue: ItemCatalogue, record: CatalogueRecord)) throws -> (version: UInt64, scaling: ItemScaling?) {
            let coordinator = try h.start(served)
            return (coordinator.version, coordinator.policy.spec.itemScaling)
        }
        let first = try start(v1)
        let scaling = try #require(first.scaling)
        #expect(abs(scaling.mean[0] - 40) < 1e-9 && abs(scaling.scale[0] - (800.0 / 3).squareRoot()) < 1e-9)
        // Catalogue 2 would scale by its own four prices; the lineage keeps catalogue 1's, so it resumes its number.
        #expect(OnlinePolicySpec.itemScaling(for: v2.catalogue) != scaling)
        let resumed = try start(v2)
        #expect(resumed.version == first.version)
        #expect(resumed.scaling == scaling)

        // `online_policy` names the registry version its rows come from (it said `"catalogue": null`), rows inlined.
        var outputs: [ControlOutput] = []
        let coordinator = try h.start(v2) { outputs.append($0) }
        coordinator.handleControl(
            identity: [7], header: Header(command: .control, requestId: 3), request: ControlRequest(.onlinePolicy),
            nowMs: 1_000)
        let frames = try #require(outputs.compactMap { output -> [[UInt8]]? in
            if case .toClient([7], let frames) = output { return frames }
            return nil
        }.last)
        let install = try WireJSON.decode(PolicyInstall.self, from: frames[1])
        #expect(install.catalogue == CatalogueReference(version: 2, sha256: v2.record.sha256))
        #expect(install.spec.itemCount == 4 && install.spec.itemScaling == scaling)
        // Its weights are named as an install names them: the SHA-256 of frame 2 (it was `null`).
        #expect(install.weightsSha256 == BlobStore.digest(frames[2]))
        // And so for an earlier version asked by number.
        outputs.removeAll()
        coordinator.handleControl(
            identity: [7], header: Header(command: .control, requestId: 4),
            request: ControlRequest(op: "online_policy", version: 1), nowMs: 1_001)
        let earlier = try #require(outputs.compactMap { output -> [[UInt8]]? in
            if case .toClient([7], let frames) = output { return frames }
            return nil
        }.last)
        let earlierInstall = try WireJSON.decode(PolicyInstall.self, from: earlier[1])
        #expect(earlierInstall.version == 1 && earlierInstall.weightsSha256 == BlobStore.digest(earlier[2]))
    }

    /// A catalogue uploaded again with another encoding (a column more) stopped the start ("item_scaling has 1 means
    /// … for 2 item columns", as if the row were damaged); and a new lineage kept the old lineage's scaling.
    @Test("a restart over a catalogue of another width starts a new lineage scaled on the new catalogue")
    func restartOverAnotherWidth() throws {
        let h = try RegistryOnlineHarness()
        func start(_ served: (catalogue: ItemCatalogue, record: CatalogueRecord)) throws -> (version: UInt64, scaling: ItemScaling?) {
            let coordinator = try h.start(served)
            return (coordinator.version, coordinator.policy.spec.itemScaling)
        }
        let v1 = try h.register(["price"], [[20], [40], [60]], parent: nil)
        #expect(try start(v1).version == 1)
        // The same ids (a prefix), another width and other prices.
        let v2 = try h.register(["price", "stock"], [[200, 1], [400, 2], [600, 3], [800, 4]], parent: 1)
        let next = try start(v2)
        #expect(next.version == 2)
        #expect(next.scaling == OnlinePolicySpec.itemScaling(for: v2.catalogue) && next.scaling?.mean.first == 500)
    }

    @Test(
        "a stored pack holding non-finite statistics, or that no longer fits its own spec and catalogue (a vector missing or cut short), stops the start; never replaced by the untrained policy",
        arguments: ["nan", "missing", "short", "foreign"])
    func damagedPackIsRefused(damage: String) throws {
        let h = try OnlineHarness()
        let store = try RecStore(directory: h.directory)
        let row = try #require(try store.latestPolicyVersion())
        var pack = try ParameterPack(decoding: try store.blobs.get(row.weightsSHA))
        let a = try #require(pack.vectors.firstIndex { $0.name == "a" })
        switch damage {
        case "nan": pack.vectors[a].values[0] = .nan
        case "missing": pack.vectors.remove(at: a)
        case "short": pack.vectors[a].values.removeLast()
        default: break
        }
        var damaged = row
        damaged.version = row.version + 1
        // "foreign": the row names a stored blob that is no pack (a model's checkpoint, a catalogue). A helper's case:
        // the start took the decoding error for a write that failed and ran with online learning off.
        damaged.weightsSHA = try store.blobs.put(damage == "foreign" ? Array("RPCK a checkpoint".utf8) : pack.encoded())
        try store.savePolicyVersion(damaged, createdMs: 2_000)
        // Before, a pack that did not fit logged "does not fit the configured catalogue" and served the untrained
        // policy as a new lineage, though neither the catalogue nor the spec had changed.
        #expect {
            try h.open(settings: OnlineSettings())
        } throws: { error in
            (error as? StoredPolicyUnusable)?.version == damaged.version && "\(error)".contains("cannot be served")
        }
        // Nothing was stored over it: the damaged version is still the newest, for an operator to restore.
        #expect(try RecStore(directory: h.directory).latestPolicyVersion()?.version == damaged.version)
    }

    @Test("a sync pulls every replica, averages by events, serves version + 1 to all, and reports it")
    func syncAveragesAndInstalls() throws {
        var settings = OnlineSettings()
        settings.syncEvents = 2
        let h = try OnlineHarness(settings: settings)
        h.coordinator.updateWorkers([h.workerA, h.workerB], nowMs: 1_000)
        let installs = h.take().filter { if case .toWorker(_, let f) = $0 { return f.count == 3 } else { return false } }
        #expect(installs.count == 2)
        h.serve("imp-3", worker: "w-a")
        h.serve("imp-4", worker: "w-b")
        _ = h.feedback("imp-3", item: 3)
        _ = h.feedback("imp-4", item: 7, click: 0)
        h.coordinator.tick(nowMs: 2_000)
        var pulls: [[UInt8]: UInt64] = [:]
        var learns = 0
        for output in h.take() {
            guard case .toWorker(let identity, let frames) = output, let m = try? WireMessage(decoding: frames) else {
                continue
            }
            if m.header.command == .policyPull { pulls[identity] = m.header.requestId }
            if m.header.command == .learn { learns += try WireJSON.decode(LearnBatch.self, from: m.frame(0)).events.count }
        }
        #expect(learns == 2)
        #expect(pulls.count == 2)
        // Both replicas answer with their own learning; the exact merge (base + both deltas) is served as version 2.
        let base = PolicyWeights.pack(h.coordinator.policy)
        for (identity, events, shift) in [(h.workerA.identity, 3, Float(0.3)), (h.workerB.identity, 1, Float(0.1))] {
            let pack = base.shifting("s", by: shift)
            let report = PolicyStateReport(
                kind: .sync, sync: pulls[identity]!, version: 1, events: events, updates: 1,
                weightsSha256: PolicyWeights.sha256(of: pack.encoded()))
            let message = WireMessage(
                header: Header(command: .policyState, requestId: pulls[identity]!),
                payload: [WireJSON.encode(report), pack.encoded()])
            h.coordinator.handleWorker(identity: identity, message: message, nowMs: 2_100)
        }
        #expect(h.coordinator.version == 2)
        let served = PolicyWeights.pack(h.coordinator.policy)
        for (s, b) in zip(served["s"] ?? [], base["s"] ?? []) { #expect(abs(s - (b + 0.4)) < 1e-5) }
        #expect(served["a"] == base["a"] && served["c"] == base["c"])
        var versions: Set<UInt64> = []
        for output in h.take() {
            if case .toWorker(_, let frames) = output, let m = try? WireMessage(decoding: frames), m.header.command == .policy {
                versions.insert(try WireJSON.decode(PolicyInstall.self, from: m.frame(0)).version)
            }
        }
        #expect(versions == [2])
        #expect(h.coordinator.view.syncs == 1)
        #expect(h.coordinator.view.lastDecision?.accepted == true)
    }

    @Test("a sync starts after M events or once T has passed since the last one (or the start), not before")
    func syncSchedule() throws {
        var settings = OnlineSettings()
        settings.syncEvents = 100
        settings.syncIntervalMs = 1_000
        let h = try OnlineHarness(settings: settings)
        h.coordinator.updateWorkers([h.workerA], nowMs: 1_000)
        _ = h.take()
        h.serve("imp-t", worker: "w-a")
        _ = h.feedback("imp-t", item: 3, nowMs: 1_500)
        func pulls() -> Int {
            h.take().filter {
                if case .toWorker(_, let frames) = $0, let m = try? WireMessage(decoding: frames) {
                    return m.header.command == .policyPull
                }
                return false
            }.count
        }
        h.coordinator.tick(nowMs: 1_900)
        #expect(pulls() == 0)
        h.coordinator.tick(nowMs: 2_001)
        #expect(pulls() == 1)
    }

    @Test("fault injection is refused unless the broker allows it; a frozen pool does not sync")
    func controlRules() throws {
        let h = try OnlineHarness()
        h.coordinator.handleControl(
            identity: [9], header: Header(command: .control, requestId: 1),
            request: ControlRequest(op: "online_sync", corrupt: "noise"), nowMs: 2_000)
        #expect(h.clientReplies().last?.header.status == .badRequest)
        h.coordinator.handleControl(
            identity: [9], header: Header(command: .control, requestId: 2), request: ControlRequest(op: "online_freeze"),
            nowMs: 2_000)
        let frozen = try #require(h.clientReplies().last)
        #expect(try WireJSON.decode(OnlineView.self, from: frozen.frame(0)).frozen)
        h.coordinator.handleControl(
            identity: [9], header: Header(command: .control, requestId: 3), request: ControlRequest(op: "online_sync"),
            nowMs: 2_000)
        #expect(h.clientReplies().last?.header.status == .conflict)
    }
}

@Suite("Online coordinator: held slates")
struct HeldSlateCoordinatorTests {
    /// The held answers the coordinator released to clients, decoded (slates, and the errors that replace them).
    static func released(_ h: OnlineHarness) -> [WireMessage] {
        h.take().compactMap {
            if case .heldReply(_, let frames) = $0 { return try? WireMessage(decoding: frames) }
            if case .invalidSlateReply(_, let frames, _) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
    }

    @Test("a held slate goes to its client only after the group commit that stores its impression")
    func releasedAfterCommit() throws {
        let h = try OnlineHarness()
        _ = h.take()
        let record = ImpressionRecord(
            impressionId: "held-1", createdMs: 1_000, version: h.coordinator.version,
            userFeatures: ["user_feature_0": "u0_01"], slate: [3, 7, 9], propensities: [0.5, 0.25, 0.1],
            scores: [0.1, 0.05, 0.01])
        h.coordinator.handleImpression(
            worker: "w-a", record: WireJSON.encode(record),
            reply: ([9], HeldSlateFixtures.frames(for: record, requestId: 41)), nowMs: record.createdMs)
        #expect(Self.released(h).isEmpty)
        h.coordinator.flushPending()
        let sent = Self.released(h)
        #expect(sent.map(\.header.requestId) == [41] && sent.first?.header.status == .ok)
        #expect(try h.coordinator.store.impressions(after: 0, limit: 10).map(\.id).contains("held-1"))
    }

    /// A slate checked when it arrived, then queued for its group commit while the catalogue retired one of its
    /// items, reached its client after the retirement was acknowledged (seen once in OwnCatalogueEndToEndTests).
    @Test("a queued slate whose item is retired before its commit is answered CONFLICT and its impression never logged")
    func retiredWhileQueued() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0.1], [0.2], [0.3], [0.4]], parent: nil)
        var outputs: [ControlOutput] = []
        let coordinator = try h.start(v1) { outputs.append($0) }
        func record(_ id: String, _ slate: [Int]) -> [UInt8] {
            WireJSON.encode(
                ImpressionRecord(
                    impressionId: id, createdMs: 1_000, version: coordinator.version,
                    userFeatures: ["user_feature_0": "u0_01"], slate: slate, propensities: [0.5, 0.25],
                    scores: [0.1, 0.05]))
        }
        func slate(_ requestId: UInt64, _ record: [UInt8]) -> [[UInt8]] {
            HeldSlateFixtures.frames(for: record, requestId: requestId)
        }
        coordinator.handleImpression(worker: "w-a", record: record("held-r", [2, 0]), reply: ([9], slate(43, record("held-r", [2, 0]))), nowMs: 1_000)
        coordinator.handleImpression(worker: "w-a", record: record("held-k", [1, 3]), reply: ([9], slate(44, record("held-k", [1, 3]))), nowMs: 1_000)
        // A FEEDBACK naming the queued impression (a guessed id: its slate was never sent) is looked up again.
        let feedback = WireMessage(
            header: Header(command: .feedback, requestId: 45),
            payload: [Array("{\"impression_id\":\"held-r\",\"item\":2,\"click\":1}".utf8)])
        coordinator.handleFeedback(identity: [8], message: feedback, nowMs: 1_500)
        var retired = v1.catalogue
        try retired.retire(id: "sku-2")
        let sha = try h.store.blobs.put(try retired.canonicalBytes())
        outputs.removeAll()
        coordinator.moveToCatalogue(retired, version: 2, sha256: sha, parent: 1)
        coordinator.flushPending()
        let sent = outputs.compactMap { output -> WireMessage? in
            switch output {
            case .heldReply(_, let frames), .invalidSlateReply(_, let frames, _), .toClient(_, let frames):
                return try? WireMessage(decoding: frames)
            default: return nil
            }
        }
        let statuses = Dictionary(uniqueKeysWithValues: sent.map { ($0.header.requestId, $0.header.status) })
        #expect(statuses == [43: .conflict, 44: .ok, 45: .notFound], "\(sent.map(\.header))")
        let refusal = try #require(sent.first { $0.header.requestId == 43 })
        #expect(String(decoding: try refusal.frame(0), as: UTF8.self).contains("sku-2"))
        let logged = try h.store.impressions(after: 0, limit: 10).map(\.id)
        #expect(logged == ["held-k"], "the dropped slate's impression is never logged: \(logged)")
    }

    @Test("a held slate whose impression record is malformed is answered INTERNAL saying feedback cannot be taken")
    func refusedWhenUnusable() throws {
        let h = try OnlineHarness()
        _ = h.take()
        let slate = WireMessage(
            header: Header(command: .recommend, isReply: true, requestId: 42), payload: [Array("{\"items\":[]}".utf8)])
        h.coordinator.handleImpression(worker: "w-a", record: Array("not json".utf8), reply: ([9], slate.frames()), nowMs: 1_000)
        let sent = Self.released(h)
        #expect(sent.map(\.header.requestId) == [42])
        #expect(sent.first?.header.status == .internal)
        #expect(sent.first?.errorText?.contains("feedback on it could not be taken") == true)
    }

    /// Each was acknowledged and logged, then refused by `recpool logs export` for the whole log (or exported as a CSV
    /// no reader takes): a propensity below the log's floor, a user feature the policy does not have, a NUL in a value.
    @Test("a held slate whose record the log could not export is INTERNAL and never logged")
    func refusedWhenNotExportable() throws {
        let cases: [(features: [String: String], propensities: [Double], says: String)] = [
            (["user_feature_0": "u0_01"], [1e-320, 0.25, 0.1], "propensity 1e-320 is below 1e-100"),
            (["zzz": "q"], [0.5, 0.25, 0.1], "names user feature 'zzz', which the policy does not have"),
            (["user_feature_0": "a\u{0}b"], [0.5, 0.25, 0.1], "user feature 'user_feature_0' holds U+0000"),
        ]
        for (index, bad) in cases.enumerated() {
            let h = try OnlineHarness()
            _ = h.take()
            let record = ImpressionRecord(
                impressionId: "bad-\(index)", createdMs: 1_000, version: h.coordinator.version,
                userFeatures: bad.features, slate: [3, 7, 9], propensities: bad.propensities, scores: [0.1, 0.05, 0.01])
            h.coordinator.handleImpression(
                worker: "w-a", record: WireJSON.encode(record),
                reply: ([9], HeldSlateFixtures.frames(for: record, requestId: 50)), nowMs: record.createdMs)
            h.coordinator.flushPending()
            let sent = Self.released(h)
            #expect(sent.map(\.header.requestId) == [50] && sent.first?.header.status == .internal, "\(bad.says)")
            #expect(sent.first?.errorText?.contains(bad.says) == true, "\(sent.first?.errorText ?? "")")
            #expect(try h.coordinator.store.impressions(after: 0, limit: 10).isEmpty)
        }
    }
}
