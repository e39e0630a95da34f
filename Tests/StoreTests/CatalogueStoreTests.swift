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
}
