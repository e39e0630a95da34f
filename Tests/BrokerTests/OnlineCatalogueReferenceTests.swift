import BrokerCore
import RecStore
import RecData
import RecPolicy
import RecWire
import Testing

@testable import Broker

/// POLICY over a registry catalogue names the catalogue version instead of inlining its rows (issue 20), and a
/// replica that reports the version missing gets it shipped, then the POLICY again, a bounded number of times.
@Suite("POLICY names its registry catalogue version")
struct OnlineCatalogueReferenceTests {
    /// A catalogue of `count` items with 6 numeric features each.
    static func catalogue(_ count: Int) throws -> ItemCatalogue {
        let width = 6
        return try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: (0..<width).map { "f\($0)" }),
            ids: (0..<count).map { "item-\($0)" },
            features: (0..<(count * width)).map { Float($0 % 97) / 97 })
    }

    /// A machine serving `catalogue` as registry version `version`.
    static func machine(_ catalogue: ItemCatalogue, version: UInt64 = 3) throws -> OnlineMachine {
        var settings = OnlineSettings()
        settings.catalogue = "\(version)"
        settings.served = (
            catalogue, [DataSchema.Feature("user_feature_0", .categorical)], version,
            String(repeating: "ab", count: 32)
        )
        return try OnlineMachine(settings: settings)
    }

    /// The POLICY frames a newcomer gets.
    static func policyFor(_ machine: inout OnlineMachine) throws -> WireMessage {
        let actions = machine.feed(.workers([machine.workerA]))
        return try #require(actions.toWorkers(.policy).first?.message)
    }

    @Test("a POLICY's size does not grow with the catalogue: 100 and 20,000 items give the same bytes")
    func policySizeIndependentOfCatalogue() throws {
        var small = try Self.machine(Self.catalogue(100))
        var large = try Self.machine(Self.catalogue(20_000))
        let a = try Self.policyFor(&small)
        let b = try Self.policyFor(&large)
        #expect(a.payload[0].count == b.payload[0].count, "\(a.payload[0].count) vs \(b.payload[0].count) bytes")
        #expect(a.payload[0].count < 4_096, "\(a.payload[0].count) bytes")
        let install = try WireJSON.decode(PolicyInstall.self, from: b.payload[0])
        #expect(install.catalogue == CatalogueReference(version: 3, sha256: String(repeating: "ab", count: 32)))
        #expect(install.spec.itemsDetached && install.spec.problem != nil)
        // The stored spec does not inline the catalogue either; the core keeps the full one to serve from.
        #expect(large.core.storedSpec.itemsDetached && large.core.spec.itemCount == 20_000)
    }

    @Test("an impressions page carries the spec on the first page only")
    func specOnFirstPageOnly() throws {
        var m = try Self.machine(Self.catalogue(1_000))
        func pageSpec(after: Int64?) throws -> OnlinePolicySpec?? {
            let actions = m.feed(
                .control(
                    identity: [9], header: Header(command: .control, requestId: 1),
                    request: ControlRequest(.impressions, after: after, limit: 10), bytes: nil))
            for case .answerImpressionPage(_, _, _, let spec, _) in actions { return .some(spec) }
            return nil
        }
        let first = try #require(try pageSpec(after: nil))
        #expect(first?.itemCount == 1_000)
        #expect(try #require(try pageSpec(after: 0)) != nil)
        #expect(try #require(try pageSpec(after: 500)) == nil)
        // A negative cursor is no sequence number: BAD_REQUEST, not the first page.
        #expect(try pageSpec(after: -5) == nil)
        let refused = m.feed(
            .control(
                identity: [9], header: Header(command: .control, requestId: 2),
                request: ControlRequest(.impressions, after: -5, limit: 10), bytes: nil))
        let texts = refused.compactMap { action -> String? in
            guard case .send(.toClient(_, let frames)) = action, let message = try? WireMessage(decoding: frames),
                message.header.status == .badRequest
            else { return nil }
            return message.errorText
        }
        #expect(texts.contains { $0.contains("after must be a sequence number ≥ 0, got -5") }, "\(texts)")
    }

    @Test("the simulator world's POLICY still inlines its items and names no catalogue")
    func simulatorWorldInlines() throws {
        var m = try OnlineMachine()
        let install = try WireJSON.decode(PolicyInstall.self, from: Self.policyFor(&m).payload[0])
        #expect(install.catalogue == nil && install.spec.itemCount == 40 && install.spec.problem == nil)
    }

    @Test("catalogue_missing ships the served version and the POLICY again, at most 3 times; stale refusals only log")
    func missingCatalogueIsShipped() throws {
        var m = try Self.machine(Self.catalogue(50))
        _ = m.feed(.workers([m.workerA]))
        let named = try #require(m.core.catalogue)
        func refusal(policy: UInt64, catalogue: CatalogueReference) -> OnlineEvent {
            let report = PolicyStateReport(
                kind: .catalogueMissing, sync: 0, version: policy, events: 0, updates: 0, weightsSha256: "",
                catalogue: catalogue, error: "missing")
            return .policyState(
                identity: m.workerA.identity,
                message: WireMessage(header: Header(command: .policyState), payload: [WireJSON.encode(report)]))
        }
        for _ in 0..<3 {
            let actions = m.feed(refusal(policy: m.core.version, catalogue: named))
            let shipped = actions.compactMap { action -> UInt64? in
                if case .shipCatalogue(let worker, let version) = action, worker == m.workerA.identity { return version }
                return nil
            }
            #expect(shipped == [named.version])
            // The catalogue goes before the POLICY, which names it again.
            let ship = try #require(actions.firstIndex { if case .shipCatalogue = $0 { true } else { false } })
            let policy = try #require(actions.firstIndex { if case .send(.toWorker) = $0 { true } else { false } })
            #expect(ship < policy)
            #expect(actions.toWorkers(.policy).count == 1)
        }
        // A replica that still cannot install it is not sent it forever.
        let fourth = m.feed(refusal(policy: m.core.version, catalogue: named))
        #expect(fourth.isEmpty)
        // Installing resets the count.
        let installed = PolicyStateReport(
            kind: .installed, sync: 0, version: m.core.version, events: 0, updates: 0, weightsSha256: m.core.weightsSHA)
        _ = m.feed(
            .policyState(
                identity: m.workerA.identity,
                message: WireMessage(header: Header(command: .policyState), payload: [WireJSON.encode(installed)])))
        #expect(m.core.catalogueShipments[m.workerA.identity] == nil)
        // A refusal of an older policy or another catalogue version ships nothing.
        let stale = m.feed(refusal(policy: m.core.version, catalogue: CatalogueReference(version: 1, sha256: "old")))
        #expect(stale.isEmpty)
    }
}

/// Stored policy versions over a registry catalogue keep their spec without items and name the catalogue version;
/// reading one back resolves the rows from the registry, and a version stored before (items inlined) still reads.
@Suite("Stored policy versions name their catalogue version")
struct StoredPolicyCatalogueTests {
    @Test("the stored spec holds no items and reads back with the registry's rows; an inlined legacy spec still reads")
    func storedSpecResolves() throws {
        let catalogue = try OnlineCatalogueReferenceTests.catalogue(5_000)
        let bytes = try catalogue.canonicalBytes()
        var settings = OnlineSettings()
        settings.catalogue = "1"
        settings.served = (catalogue, [DataSchema.Feature("user_feature_0", .categorical)], 1, "placeholder")
        let h = try OnlineHarness(settings: settings)
        let store = h.coordinator.store
        let sha = try store.blobs.put(bytes)
        _ = try store.registerCatalogue(
            CatalogueRecord(
                version: 0, parent: nil, change: .upload, item: nil, sha256: sha, sourceSHA256: nil, schema: "",
                items: catalogue.count, active: catalogue.activeCount, width: catalogue.width, createdMs: 1))
        let row = try #require(try store.policyVersion(1))
        #expect(row.catalogueVersion == 1)
        #expect(row.spec.utf8.count < 2_048, "stored spec of \(row.spec.utf8.count) bytes")
        let stored = try WireJSON.decode(OnlinePolicySpec.self, from: Array(row.spec.utf8))
        #expect(stored.itemsDetached)
        let resolved = try h.coordinator.storedSpec(row)
        #expect(resolved == h.coordinator.core.spec)
        #expect(resolved.itemIds == catalogue.ids && resolved.itemCount == 5_000)

        // A version stored before this change inlines its items: read as it is.
        let legacy = PolicyVersionRow(
            version: 2, weightsSHA: row.weightsSHA,
            spec: String(decoding: WireJSON.encode(h.coordinator.core.spec), as: UTF8.self), decision: nil,
            catalogueVersion: 1)
        try store.savePolicyVersion(legacy, createdMs: 2)
        #expect(try h.coordinator.storedSpec(#require(try store.policyVersion(2))) == h.coordinator.core.spec)
        // A detached spec whose catalogue version is not registered is a typed error, never a spec without items.
        let orphan = PolicyVersionRow(version: 3, weightsSHA: row.weightsSHA, spec: row.spec, decision: nil, catalogueVersion: 9)
        try store.savePolicyVersion(orphan, createdMs: 3)
        #expect(throws: StoreError.unknownCatalogue(9)) { try h.coordinator.storedSpec(#require(try store.policyVersion(3))) }
    }
}

/// A catalogue version stored while a sync's candidate is with the guard: the candidate was built on the version
/// before, and adopting it must not put that catalogue back (CatalogueRegistryTests saw a re-upload that drops an
/// added item accepted after such a sync, because the served policy had lost the item).
@Suite("A catalogue move during a sync")
struct CatalogueMoveDuringSyncTests {
    @Test("a candidate judged on catalogue v3 and admitted after the move to v4 is served on v4's rows")
    func candidateMovesWithTheCatalogue() throws {
        let before = try OnlineCatalogueReferenceTests.catalogue(50)
        var m = try OnlineCatalogueReferenceTests.machine(before, version: 3)
        let judged = try OnlineMachineTests.syncToGuard(&m)
        #expect(judged.candidate.catalogue.count == 50)

        // An item is added (version 4) while the guard judges.
        var after = before
        _ = try after.add(id: "NEW-1", fields: Dictionary(uniqueKeysWithValues: (0..<6).map { ("f\($0)", "0.5") }))
        var moved: [OnlineAction] = []
        try m.core.moveToCatalogue(
            after, as: CatalogueReference(version: 4, sha256: String(repeating: "cd", count: 32)), into: &moved)
        #expect(moved.isEmpty)
        #expect(m.core.policy.catalogue.count == 51)

        let store = m.feed(.verdict(sync: judged.sync, decision: OnlineMachine.admitted)).versionsToStore
        #expect(store.map(\.catalogueVersion) == [4])
        _ = m.feed(.versionStored(sync: judged.sync, .success("sha-2")))
        #expect(m.core.version == 2)
        #expect(m.core.policy.catalogue.count == 51, "the admitted candidate put the old catalogue back")
        #expect(m.core.policy.catalogue.ids.last == "NEW-1")
        // Its statistics are the candidate's: the merge of what the replicas learnt.
        #expect(PolicyWeights.pack(m.core.policy) == PolicyWeights.pack(judged.candidate))
        // And a catalogue that drops the added row is refused against what is served now.
        let refused = (try? m.core.policy.with(catalogue: before)) == nil
        #expect(refused, "a catalogue without NEW-1's row was accepted against the served policy")
    }
}

/// `online_register` (a warm start) stores and serves a version without being a sync.
@Suite("A registered policy is not a sync")
struct OnlineRegistrationTests {
    @Test("registering serves the next version but leaves the sync count and the last sync's time alone")
    func registrationIsNotASync() throws {
        var m = try OnlineCatalogueReferenceTests.machine(OnlineCatalogueReferenceTests.catalogue(20), version: 3)
        _ = m.feed(.workers([m.workerA]))
        let pack = PolicyWeights.pack(m.core.policy).shifting("s", by: 0.2)
        let stored = m.feed(
            .control(
                identity: [9], header: Header(command: .control, requestId: 7),
                request: ControlRequest(op: "online_register", version: m.core.version, catalogueVersion: 3),
                bytes: pack.encoded()),
            nowMs: 50_000
        ).versionsToStore
        #expect(stored.map(\.version) == [2] && stored.map(\.catalogueVersion) == [3])
        let done = m.feed(.versionStored(sync: try #require(stored.first).sync, .success("sha-r")), nowMs: 50_000)
        #expect(m.core.version == 2 && done.installedVersions == [2])
        #expect(m.core.view.syncs == 0, "a registration counted as a sync")
        #expect(m.core.view.lastSyncMs == 0, "a registration set the last sync's time")
        #expect(m.core.view.lastDecision?.accepted == true)
    }

    /// One replica learns one event (`imp-r`), then a warm-started policy is registered; returns the version to store.
    static func registerAfterOneEvent(_ m: inout OnlineMachine) throws -> [VersionToStore] {
        _ = m.feed(.workers([m.workerA]))
        _ = m.feed(.impression(worker: "w-a", record: m.record("imp-r"), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-r", item: 3)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
        #expect(m.feed(.tick, nowMs: 1_500).learntKeys.count == 1)
        let pack = PolicyWeights.pack(m.core.policy).shifting("s", by: 0.2)
        return m.feed(
            .control(
                identity: [9], header: Header(command: .control, requestId: 7),
                request: ControlRequest(op: "online_register", version: m.core.version, catalogueVersion: 3),
                bytes: pack.encoded()),
            nowMs: 50_000
        ).versionsToStore
    }

    /// An older client's `policy warmstart --register` put the bandit's logistic statistics into a session DQN pool.
    @Test("online_register on a session DQN pool is refused CONFLICT naming its learner, and stores nothing")
    func registrationOnASessionDQNPool() throws {
        var settings = OnlineSettings()
        settings.catalogue = "3"
        settings.served = (
            try OnlineCatalogueReferenceTests.catalogue(20), [DataSchema.Feature("user_feature_0", .categorical)], 3,
            String(repeating: "ab", count: 32))
        settings.learning.learner = .sessionDQN
        var m = try OnlineMachine(settings: settings)
        _ = m.feed(.workers([m.workerA]))
        let pack = PolicyWeights.pack(m.core.policy).shifting("s", by: 0.2)
        let actions = m.feed(
            .control(
                identity: [9], header: Header(command: .control, requestId: 7),
                request: ControlRequest(op: "online_register", version: m.core.version, catalogueVersion: 3),
                bytes: pack.encoded()),
            nowMs: 50_000)
        #expect(actions.versionsToStore.isEmpty)
        let reply = try #require(actions.clientReplies.first)
        #expect(reply.header.status == .conflict && reply.errorText?.contains("session_dqn") == true, "\(reply.errorText ?? "")")
    }

    @Test("feedback learnt since the last sync is sent again after the registered version's install, never refused")
    func registrationSendsUnsyncedAgain() throws {
        var m = try OnlineCatalogueReferenceTests.machine(OnlineCatalogueReferenceTests.catalogue(20), version: 3)
        let stored = try Self.registerAfterOneEvent(&m)
        #expect(stored.map(\.version) == [2] && stored.map(\.learnt) == [[]])
        let done = m.feed(.versionStored(sync: try #require(stored.first).sync, .success("sha-r")), nowMs: 50_000)
        #expect(done.markedLearnt.isEmpty)
        #expect(done.learntKeys == [RecStore.FeedbackKey(impressionId: "imp-r", item: 3)])
        let order = done.compactMap { action -> Command? in
            guard case .send(.toWorker(_, let frames)) = action else { return nil }
            return try? WireMessage(decoding: frames).header.command
        }
        #expect(order == [.policy, .learn], "the LEARN must follow the install that resets the learner")
        #expect(m.core.view.pendingEvents == 1)
    }

    /// The registered version could not be stored: the replicas had learnt the event and it was held again for them;
    /// with no install it would have been sent to them a second time and learnt twice.
    @Test("a registration that cannot be stored installs the served version again before the held feedback: learnt once")
    func failedRegistrationLearnsOnce() throws {
        var m = try OnlineCatalogueReferenceTests.machine(OnlineCatalogueReferenceTests.catalogue(20), version: 3)
        let stored = try Self.registerAfterOneEvent(&m)
        let failed = m.feed(
            .versionStored(sync: try #require(stored.first).sync, .failure(OnlineMachine.diskFull)), nowMs: 50_000)
        #expect(m.core.version == 1 && failed.markedLearnt.isEmpty)
        let order = failed.compactMap { action -> Command? in
            guard case .send(.toWorker(_, let frames)) = action else { return nil }
            return try? WireMessage(decoding: frames).header.command
        }
        #expect(order == [.policy, .learn], "the held feedback goes out once, after the install that resets the learner")
        #expect(failed.learntKeys == [RecStore.FeedbackKey(impressionId: "imp-r", item: 3)])
        #expect(m.feed(.tick, nowMs: 50_100).learntKeys.isEmpty, "sent a second time")
        #expect(m.core.view.pendingEvents == 1)
    }

    /// A warm start trained on version N while a sync merged acknowledged feedback into N + 1; registering it as N + 2
    /// dropped that feedback from every policy (the sync had consumed it), with nothing said.
    @Test("a policy warm-started from a version the pool no longer serves is CONFLICT, naming both; without version it registers, warned")
    func staleStartRefused() throws {
        var m = try OnlineCatalogueReferenceTests.machine(OnlineCatalogueReferenceTests.catalogue(20), version: 3)
        _ = m.feed(.workers([m.workerA]))
        let pack = PolicyWeights.pack(m.core.policy).shifting("s", by: 0.2)
        func register(_ start: UInt64?) -> [OnlineAction] {
            m.feed(
                .control(
                    identity: [9], header: Header(command: .control, requestId: 9),
                    request: ControlRequest(op: "online_register", version: start, catalogueVersion: 3),
                    bytes: pack.encoded()),
                nowMs: 50_000)
        }
        let served = m.core.version
        let stale = register(served + 1)
        #expect(stale.versionsToStore.isEmpty)
        let reply = try #require(stale.clientReplies.first)
        #expect(reply.header.status == .conflict)
        #expect(
            reply.errorText?.contains("warm-started from version \(served + 1), the pool serves version \(served)") == true,
            "\(reply.errorText ?? "")")
        #expect(m.core.version == served)
        // A client from before `version` existed still registers (unchecked, with a warning logged).
        var actions: [OnlineAction] = []
        m.core.handle(
            .control(
                identity: [9], header: Header(command: .control, requestId: 10),
                request: ControlRequest(op: "online_register", catalogueVersion: 3), bytes: pack.encoded()),
            nowMs: 50_000, into: &actions)
        #expect(actions.versionsToStore.map(\.version) == [served + 1])
        #expect(actions.contains { if case .log(.warning, let text, _) = $0 { text.contains("names no version") } else { false } })
    }

    @Test("a frame 2 that is not a pack is refused naming the decoding problem, not as a missing pack")
    func malformedPackIsNamed() throws {
        var m = try OnlineCatalogueReferenceTests.machine(OnlineCatalogueReferenceTests.catalogue(20), version: 3)
        _ = m.feed(.workers([m.workerA]))
        let refused = m.feed(
            .control(
                identity: [9], header: Header(command: .control, requestId: 8),
                request: ControlRequest(op: "online_register", version: m.core.version, catalogueVersion: 3),
                bytes: Array("not a pack".utf8)),
            nowMs: 50_000
        ).clientReplies
        let reply = try #require(refused.first)
        #expect(reply.header.status == .badRequest)
        let text = reply.errorText ?? ""
        #expect(text.contains("frame 2 is not a weights pack") && text.contains("malformed parameter pack") && text.contains("do not start with the pack magic RPK1"), "\(text)")
        #expect(!text.contains("needs the policy's weights pack"), "\(text)")
    }
}
