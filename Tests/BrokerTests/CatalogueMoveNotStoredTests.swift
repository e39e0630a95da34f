import GRDB
import RecStore
import Testing

@testable import Broker

/// With the disk full, `catalogue add` was acknowledged while the online policy's move to the new catalogue version
/// was not stored: the policy served the new rows under its number, whose stored row still named the old catalogue,
/// and after a restart that number served the old rows and refused FEEDBACK on impressions of the new ones. The change
/// and the move are now one transaction.
@Suite("A catalogue change and the online policy's move to it are stored together")
struct CatalogueMoveNotStoredTests {
    @Test("a move the store refuses refuses the change; one it takes is stored with the change")
    func oneTransaction() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1], [2]], parent: nil)
        let coordinator = try h.start(v1)
        let policy = try #require(coordinator.policyToMove(builtOn: 1))
        #expect(try h.store.policyVersion(policy)?.catalogueVersion == 1)
        let sha = try h.store.blobs.put(Array("rows".utf8))
        func add(parent: UInt64) throws -> CatalogueRecord {
            try h.store.registerCatalogue(
                CatalogueRecord(
                    version: 0, parent: parent, change: .add, item: "x", sha256: sha, sourceSHA256: nil, schema: "",
                    items: 4, active: 4, width: 1, createdMs: 0),
                movingPolicyVersion: policy)
        }
        // The store refuses the policy's move, as a full disk does (SQLite's own error, raised by a trigger).
        let database = try DatabaseQueue(path: h.directory + "/recpool.sqlite")
        try database.write { db in
            try db.execute(
                sql: "CREATE TRIGGER full BEFORE UPDATE ON policy_versions BEGIN SELECT RAISE(FAIL, 'disk full'); END")
        }
        #expect(throws: StoreError.self) { try add(parent: 1) }
        #expect(try h.store.catalogue(nil)?.version == 1, "nothing of the change is stored")
        #expect(try h.store.policyVersion(policy)?.catalogueVersion == 1)
        try database.write { db in try db.execute(sql: "DROP TRIGGER full") }
        let stored = try add(parent: 1)
        let moved = try h.store.policyVersion(policy)?.catalogueVersion
        #expect(stored.version == 2 && moved == 2)
    }

    /// A pool pinned to catalogue 1 while the newest was 8: `catalogue add` built version 9 on 8, and the policy moved
    /// to it, dropping what 2…8 retired and showing what they added; the next restart with the same flags moved it back.
    @Test("a pool serving an earlier catalogue version stays on it when a version built on another is stored")
    func pinnedPoolStays() throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1], [2]], parent: nil)
        _ = try h.register(["f0"], [[0], [1], [2], [3]], parent: 1, change: .add)
        let coordinator = try h.start(v1)
        #expect(coordinator.core.catalogueVersion == 1)
        #expect(coordinator.policyToMove(builtOn: 2) == nil)
        let v3 = try h.register(["f0"], [[0], [1], [2], [3], [4]], parent: 2, change: .add)
        coordinator.moveToCatalogue(v3.catalogue, version: v3.record.version, sha256: v3.record.sha256, parent: 2)
        #expect(coordinator.core.catalogueVersion == 1 && coordinator.core.policy.spec.itemCount == 3)
        // Built on the version it serves, it moves.
        #expect(coordinator.policyToMove(builtOn: 1) == coordinator.version)
    }
}
