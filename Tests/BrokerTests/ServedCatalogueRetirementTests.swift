import RecData
import RecWire
import Testing

@testable import Broker

/// A pool restarted onto an earlier catalogue version (`--online-catalogue 1`, after version 2 retired an item) had
/// nearly every slate refused CONFLICT for good: the broker judged slates by the registry's newest version, whose
/// retirement the served policy, built on version 1, knows nothing of. Slates are judged by the version served.
@Suite("Retired items, judged by the catalogue version the policy serves")
struct ServedCatalogueRetirementTests {
    static let rows: [[Float]] = [[0.1], [0.2], [0.3], [0.4]]

    @Test("version 1 served: its items are shown, whatever a later version retired")
    func earlierVersionServed() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], Self.rows, parent: nil)
        let coordinator = try h.start(v1)
        #expect(coordinator.retiredRefusal(forSlate: [0, 1, 2]) == nil)
    }

    @Test("once the served policy moves to a version that retired an item, a slate holding it is refused naming it")
    func servedVersionRetires() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], Self.rows, parent: nil)
        let coordinator = try h.start(v1)
        let retired = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["f0"]), ids: (0..<4).map { "sku-\($0)" },
            features: Self.rows.flatMap { $0 }, active: [true, false, true, true])
        coordinator.moveToCatalogue(retired, version: 2, sha256: try h.store.blobs.put(try retired.canonicalBytes()), parent: 1)
        let reason = try #require(coordinator.retiredRefusal(forSlate: [0, 1]))
        #expect(reason.contains("item sku-1, retired in catalogue version 2"), "\(reason)")
        #expect(coordinator.retiredRefusal(forSlate: [0, 2, 3]) == nil)
    }
}
