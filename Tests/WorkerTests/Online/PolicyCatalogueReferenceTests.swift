import Crypto
import RecData
import RecPolicy
import RecWire
import Testing

@testable import Worker

/// A POLICY that names a registry catalogue version (issue 20): the replica serves the rows of the version it holds,
/// and refuses with POLICY_STATE `catalogue_missing` (keeping what it served) when it does not hold that version.
@Suite("Worker: POLICY naming a catalogue version")
struct PolicyCatalogueReferenceTests {
    static func catalogue(_ count: Int) throws -> ItemCatalogue {
        try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["f0", "f1"]), ids: (0..<count).map { "sku-\($0)" },
            features: (0..<(2 * count)).map { Float($0 % 13) })
    }

    static func installed(_ catalogue: ItemCatalogue, version: UInt64) throws -> InstalledCatalogue {
        let sha = SHA256.hash(data: try catalogue.canonicalBytes()).map { String(format: "%02x", $0) }.joined()
        return InstalledCatalogue(version: version, sha256: sha, catalogue: catalogue)
    }

    /// POLICY frames at `version` over `catalogue`, naming it as `reference`.
    static func payload(_ catalogue: ItemCatalogue, version: UInt64, reference: CatalogueReference) throws -> [[UInt8]] {
        let spec = OnlinePolicySpec.make(catalogue: catalogue, userFeatures: [DataSchema.Feature("u", .categorical)])
        var install = PolicyInstall(version: version, spec: spec, learningEnabled: true, catalogue: reference)
        let pack = try PolicyWeights.pack(OnlinePolicy.initial(spec: spec)).encoded()
        install.weightsSha256 = PolicyWeights.sha256(of: pack)
        return [WireJSON.encode(install), pack]
    }

    @Test("without the named version the replica refuses catalogue_missing; once it holds it, it serves those rows")
    func refusesThenInstalls() throws {
        let online = manualOnlineLearning()
        let v4 = try Self.installed(Self.catalogue(30), version: 4)
        let reference = CatalogueReference(version: 4, sha256: v4.sha256)
        let payload = try Self.payload(v4.catalogue, version: 7, reference: reference)

        let refused = try #require(online.perform(.install(payload)))
        let (_, report, _) = try decodePolicyState(refused)
        #expect(report.kind == .catalogueMissing && report.version == 7 && report.catalogue == reference)
        #expect(report.error?.contains("catalogue version 4") == true)
        #expect(online.snapshot.current == nil, "nothing is served without the catalogue")

        // The same version under another hash is not the named one.
        let impostor = InstalledCatalogue(version: 4, sha256: String(repeating: "0", count: 64), catalogue: try Self.catalogue(31))
        _ = online.perform(.hold(impostor))
        let again = try #require(online.perform(.install(payload)))
        #expect(try decodePolicyState(again).1.kind == .catalogueMissing)

        _ = online.perform(.hold(v4))
        let accepted = try #require(online.perform(.install(payload)))
        let (_, installed, _) = try decodePolicyState(accepted)
        #expect(installed.kind == .installed && installed.version == 7)
        let served = try #require(online.snapshot.current)
        #expect(served.policy.spec.itemIds == v4.catalogue.ids && served.policy.spec.itemCount == 30)
        #expect(online.state.withLock { $0.servedCatalogue } == 4)
    }

    @Test("held versions: the newest two and the served one are kept; an older CATALOGUE is held, not served")
    func heldVersions() throws {
        let online = manualOnlineLearning()
        let v1 = try Self.installed(Self.catalogue(10), version: 1)
        _ = online.perform(.catalogue(v1))
        let payload = try Self.payload(v1.catalogue, version: 2, reference: CatalogueReference(version: 1, sha256: v1.sha256))
        #expect(try decodePolicyState(#require(online.perform(.install(payload)))).1.kind == .installed)
        for version in 2...4 {
            _ = online.perform(.catalogue(try Self.installed(Self.catalogue(10 + Int(version)), version: UInt64(version))))
        }
        // The policy moved along with each newer version (same lineage: rows appended).
        #expect(online.state.withLock { $0.servedCatalogue } == 4)
        #expect(online.state.withLock { Set($0.held.keys) } == [3, 4])
        #expect(online.snapshot.current?.policy.spec.itemCount == 14)
        // An older version sent again is held but the served policy stays on version 4.
        _ = online.perform(.hold(v1))
        #expect(online.state.withLock { Set($0.held.keys) } == [3, 4])
        _ = online.perform(.catalogue(v1))
        #expect(online.snapshot.current?.policy.spec.itemCount == 14)

        // A POLICY naming that old version is refused; once the broker sends it, it is kept (though older than the
        // two held) and the POLICY installs.
        let old = try Self.payload(v1.catalogue, version: 3, reference: CatalogueReference(version: 1, sha256: v1.sha256))
        #expect(try decodePolicyState(#require(online.perform(.install(old)))).1.kind == .catalogueMissing)
        _ = online.perform(.hold(v1))
        #expect(online.state.withLock { Set($0.held.keys) } == [1, 3, 4])
        #expect(try decodePolicyState(#require(online.perform(.install(old)))).1.kind == .installed)
        #expect(online.snapshot.current?.policy.spec.itemCount == 10)
        #expect(online.state.withLock { ($0.servedCatalogue, $0.wanted, Set($0.held.keys)) } == (1, nil, [1, 3, 4]))
    }

    /// A policy serving registry catalogue version 1 was sent version 2 with fewer items, another width or moved
    /// rows: each was answered `installed: true` while the policy kept serving version 1, and the broker took that
    /// for the replica's confirmation.
    @Test("a newer CATALOGUE the served policy cannot move to is reported not installed, naming why")
    func cannotMove() throws {
        let v1 = try Self.installed(Self.catalogue(10), version: 1)
        let wider = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["f0", "f1", "f2"]), ids: (0..<10).map { "sku-\($0)" },
            features: (0..<30).map { Float($0) })
        let moved = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["f0", "f1"]), ids: (0..<10).reversed().map { "sku-\($0)" },
            features: (0..<20).map { Float($0) })
        let cases: [(ItemCatalogue, String)] = [
            (try Self.catalogue(8), "it has 8 items, fewer than the policy's 10"),
            (wider, "its items have 3 features, the policy's 2"),
            (moved, "its rows are not the policy's rows in place (item ids moved or changed)"),
        ]
        for (catalogue, why) in cases {
            let online = manualOnlineLearning()
            _ = online.perform(.catalogue(v1))
            let payload = try Self.payload(
                v1.catalogue, version: 2, reference: CatalogueReference(version: 1, sha256: v1.sha256))
            #expect(try decodePolicyState(#require(online.perform(.install(payload)))).1.kind == .installed)
            // As the broker sends it, and then again (it resends the newest to a replica that did not confirm it):
            // the resend was answered `installed: true` by the receiver, which had recorded it as the newest.
            let bytes = try catalogue.canonicalBytes()
            let notice = CatalogueInstall(version: 2, sha256: try Self.installed(catalogue, version: 2).sha256)
            for attempt in 1...2 {
                let state = try #require(online.perform(.received(notice, bytes: bytes)))
                let report = try WireJSON.decode(CatalogueState.self, from: state[1])
                #expect(!report.installed && report.version == 2, "attempt \(attempt)")
                #expect(
                    report.error?.contains("cannot move to catalogue version 2: \(why)") == true,
                    "attempt \(attempt): \(report.error ?? "")")
                #expect(online.state.withLock { $0.servedCatalogue } == 1)
            }
        }
    }

    @Test("an older CATALOGUE than the installed one is held by the online thread and reported not installed, naming the served version")
    func olderCatalogueIsHeld() throws {
        let relay = manualOnlineLearning()
        var harness = WorkerHarness.registered(relay: relay)
        let newer = try Self.catalogue(5).canonicalBytes()
        let older = try Self.catalogue(4).canonicalBytes()
        func sha(_ b: [UInt8]) -> String { SHA256.hash(data: b).map { String(format: "%02x", $0) }.joined() }
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 5, sha256: sha(newer))), newer])
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 4, sha256: sha(older))), older])
        let held = try #require(relay.state.withLock { $0.held[4] })
        #expect(held.sha256 == sha(older) && held.catalogue.count == 4)
        #expect(relay.state.withLock { $0.receiver.newest?.version } == 5)
        let state = try #require(harness.takeSent().last?.message)
        #expect(state.header.command == .catalogueState)
        let report = try WireJSON.decode(CatalogueState.self, from: state.payload[0])
        #expect(!report.installed && report.version == 4 && report.sha256 == sha(older))
        #expect(report.error == "held for a POLICY that names it, not served: this worker serves catalogue version 5")
    }
}
