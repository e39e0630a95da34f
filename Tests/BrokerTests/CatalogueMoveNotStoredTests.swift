import GRDB
import RecStore
import Testing

@testable import Broker

/// With the disk full, `catalogue add` was acknowledged while the online policy's move to the new catalogue version
/// was not stored: the policy served the new rows under its number, whose stored row still named the old catalogue,
/// and after a restart that number served the old rows and refused FEEDBACK on impressions of the new ones.
@Suite("An online policy moves to a catalogue version only once the move is stored")
struct CatalogueMoveNotStoredTests {
    @Test("a move the store refuses leaves the policy on its catalogue; a later one that is stored moves it")
    func moveNotStored() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1], [2]], parent: nil)
        let coordinator = try h.start(v1)
        #expect(coordinator.core.catalogueVersion == 1)
        let v2 = try h.register(["f0"], [[0], [1], [2], [3]], parent: 1, change: .add)
        // The store refuses the write, as a full disk does (SQLite's own error, raised by a trigger).
        let database = try DatabaseQueue(path: h.directory + "/recpool.sqlite")
        try database.write { db in
            try db.execute(
                sql: "CREATE TRIGGER full BEFORE UPDATE ON policy_versions BEGIN SELECT RAISE(FAIL, 'disk full'); END")
        }
        coordinator.moveToCatalogue(v2.catalogue, version: v2.record.version, sha256: v2.record.sha256)
        #expect(coordinator.core.catalogueVersion == 1, "served as the stored row says")
        #expect(coordinator.core.policy.spec.itemCount == 3)
        #expect(try h.store.policyVersion(coordinator.version)?.catalogueVersion == 1)
        try database.write { db in try db.execute(sql: "DROP TRIGGER full") }
        let v3 = try h.register(["f0"], [[0], [1], [2], [3], [4]], parent: 2, change: .add)
        coordinator.moveToCatalogue(v3.catalogue, version: v3.record.version, sha256: v3.record.sha256)
        #expect(coordinator.core.catalogueVersion == 3 && coordinator.core.policy.spec.itemCount == 5)
        #expect(try h.store.policyVersion(coordinator.version)?.catalogueVersion == 3)
    }
}
