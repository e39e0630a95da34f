import RecData
import RecWire
import Testing

@testable import Broker

/// A pool serving an earlier catalogue version than the newest (`--online-catalogue 1`) has served the newer versions'
/// rows in the same lineage, and its impressions name them. An `upload --replace` of version 1's rows and another item
/// after them was accepted (it extends the served rows), its item took a row impressions showed another in, and their
/// feedback was learnt and exported as its. A retire of an item the newest version retired said only "already retired"
/// while the pool still recommended it. Every change is now refused there, as a change builds on the newest
/// (``CataloguePinnedPoolTests``); these are the two cases as first reported.
@Suite("Catalogue changes while the pool serves an earlier version")
struct PinnedCatalogueChangeTests {
    static let items = "sku,brand,price\na,x,1.5\nb,y,2.5\n"

    /// Version 1 (a, b), version 2 (a, b, c; c added), the pool serving version 1.
    func pinnedToOne() throws -> CatalogueHarness {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try h.send(ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "c", fields: ["brand": "x", "price": "3"])))
        try h.confirm(2)
        h.coordinator.servedVersion = { 1 }
        h.outputs.removeAll()
        return h
    }

    @Test("an upload that does not keep the newest version's rows in place is refused CONFLICT, --replace or not")
    func replaceKeepsTheNewestRows() throws {
        let h = try pinnedToOne()
        let sha = try h.store.blobs.put(Array("sku,brand,price\na,x,1.5\nb,y,2.5\nz,y,9\n".utf8))
        try h.send(
            ControlRequest(
                .catalogueUpload,
                catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: CatalogueHarness.schema, replace: true)))
        let reply = try #require(h.replies().last)
        #expect(reply.header.status == .conflict)
        #expect(reply.errorText?.contains("serves catalogue version 1 (--online-catalogue 1), not the newest, 2") == true, "\(reply.errorText ?? "")")
        #expect(try h.store.catalogue(3) == nil)
    }

    @Test("a retire of an item the newest version retired names the version served and the newest, storing nothing")
    func retireNamesTheServedVersion() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try h.send(ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: "a")))
        try h.confirm(2)
        h.coordinator.servedVersion = { 1 }
        h.outputs.removeAll()
        try h.send(ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: "a")))
        let reply = try #require(h.replies().last)
        #expect(reply.header.status == .conflict)
        let text = reply.errorText ?? ""
        #expect(text.contains("serves catalogue version 1 (--online-catalogue 1), not the newest, 2"), "\(text)")
        #expect(try h.store.catalogue(3) == nil)
    }
}
