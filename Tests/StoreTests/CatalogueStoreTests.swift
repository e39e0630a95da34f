import Foundation
import Testing

@testable import RecStore
import RecTestKit

/// Catalogue versions in ``RecStore``: numbered, chained to their parent, durable.
@Suite("Durable store: catalogue versions")
struct CatalogueStoreTests {
    static func record(_ sha: String, parent: UInt64?, change: CatalogueChange, item: String? = nil) -> CatalogueRecord {
        CatalogueRecord(
            version: 0, parent: parent, change: change, item: item, sha256: sha, sourceSHA256: nil, schema: "[catalogue]",
            items: 2, active: 2, width: 3, createdMs: 5)
    }

    @Test("versions are numbered from 1, record parent and change, and survive reopening the store")
    func versions() throws {
        let temporary = try TemporaryDirectory("catalogues")
        defer { temporary.remove() }
        do {
            let store = try RecStore(directory: temporary.path)
            #expect(try store.catalogue(nil) == nil)
            let first = try store.registerCatalogue(Self.record(try store.blobs.put([1]), parent: nil, change: .upload))
            let second = try store.registerCatalogue(
                Self.record(try store.blobs.put([2]), parent: 1, change: .retire, item: "A-1"))
            #expect(first.version == 1 && second.version == 2)
        }
        let store = try RecStore(directory: temporary.path)
        let all = try store.catalogues()
        #expect(all.map(\.version) == [1, 2])
        #expect(all[1].parent == 1 && all[1].change == .retire && all[1].item == "A-1")
        #expect(try store.catalogue(nil)?.version == 2)
        #expect(try store.catalogue(1)?.change == .upload)
        #expect(try store.catalogue(7) == nil)
    }

    @Test("an add or retire that does not build on the newest version, or whose bytes are not stored, is refused")
    func refusals() throws {
        let temporary = try TemporaryDirectory("catalogues")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let sha = try store.blobs.put([1])
        _ = try store.registerCatalogue(Self.record(sha, parent: nil, change: .upload))
        _ = try store.registerCatalogue(Self.record(sha, parent: 1, change: .add, item: "N"))
        #expect(throws: StoreError.staleCatalogueParent(parent: 1, latest: 2)) {
            try store.registerCatalogue(Self.record(sha, parent: 1, change: .retire, item: "N"))
        }
        #expect(throws: StoreError.missingBlob(String(repeating: "0", count: 64))) {
            try store.registerCatalogue(Self.record(String(repeating: "0", count: 64), parent: 2, change: .add))
        }
        // An upload replaces the catalogue whatever the newest version is.
        #expect(try store.registerCatalogue(Self.record(sha, parent: 1, change: .upload)).version == 3)
    }

    /// A damaged version number and the error it must be reported as.
    static let damagedVersions: [(sql: String, row: String, column: String, problem: String)] = [
        (
            "UPDATE catalogue_versions SET version = 9223372036854775807", "version = 9223372036854775807", "version",
            "9223372036854775807 is the largest version there is; no next one can be numbered"
        ),
        ("UPDATE catalogue_versions SET version = -1", "version = -1", "version", "-1 is not a version (they are numbered from 1)"),
        ("UPDATE catalogue_versions SET version = 0", "version = 0", "version", "0 is not a version (they are numbered from 1)"),
    ]

    @Test(
        "a stored version number with no successor, or below 1, is a corruptColumn error naming it, never a trap",
        arguments: damagedVersions)
    func damagedVersionNamed(_ damage: (sql: String, row: String, column: String, problem: String)) throws {
        let temporary = try TemporaryDirectory("catalogues")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let sha = try store.blobs.put([1])
        _ = try store.registerCatalogue(Self.record(sha, parent: nil, change: .upload))
        try UnreadableValueTests.damage(temporary.path, damage.sql)
        let expected = StoreError.corruptColumn(
            table: "catalogue_versions", row: damage.row, column: damage.column, problem: damage.problem)
        // The next version (an add onto the newest, or an upload) cannot be numbered: refused by name.
        #expect(throws: expected) { try store.registerCatalogue(Self.record(sha, parent: nil, change: .upload)) }
        if damage.problem.contains("numbered from 1") {
            // Read back, such a number is never shown as a version near 2^64 (its bit pattern), nor as 0.
            #expect(throws: expected) { try store.catalogue(nil) }
            #expect(throws: expected) { try store.catalogues() }
        } else {
            #expect(try store.catalogue(nil)?.version == UInt64(Int64.max))
        }
    }

    @Test("a stored parent below 1 is a corruptColumn error naming it")
    func damagedParentNamed() throws {
        let temporary = try TemporaryDirectory("catalogues")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let sha = try store.blobs.put([1])
        _ = try store.registerCatalogue(Self.record(sha, parent: nil, change: .upload))
        _ = try store.registerCatalogue(Self.record(sha, parent: 1, change: .retire, item: "A-1"))
        try UnreadableValueTests.damage(temporary.path, "UPDATE catalogue_versions SET parent = -1 WHERE version = 2")
        #expect(
            throws: StoreError.corruptColumn(
                table: "catalogue_versions", row: "version = 2", column: "parent",
                problem: "-1 is not a version (they are numbered from 1)")
        ) { try store.catalogue(2) }
        #expect(try store.catalogue(1)?.version == 1)
    }
}
