import BrokerCore
import Foundation
import RecData
import RecStore
import RecWire
import Testing

@testable import Broker

/// What a catalogue change stores: an acknowledged retire is never undone by a later upload, and an id is one item
/// whatever spaces surround it.
@Suite("Catalogue registry: changes")
struct CatalogueChangeTests {
    static let items = CatalogueAcknowledgementTests.items

    /// Sends `request`, confirms the version it stored and returns the reply.
    static func confirmed(_ h: CatalogueHarness, _ request: ControlRequest) throws -> WireMessage {
        let id = try h.send(request)
        if let version = try h.store.catalogue(nil)?.version { try h.confirm(version) }
        return try #require(h.replies().first { $0.header.requestId == id })
    }

    @Test("uploading the same file after a retire keeps the item retired, and a slate holding it is refused")
    func uploadKeepsRetirements() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        let retire = try Self.confirmed(h, ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: "b")))
        #expect(retire.header.status == .ok)
        let sha = try h.store.blobs.put(Array(Self.items.utf8))
        let upload = try Self.confirmed(
            h,
            ControlRequest(
                .catalogueUpload,
                catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: CatalogueHarness.schema)))
        #expect(upload.header.status == .ok, "\(upload.errorText ?? "")")
        let view = try WireJSON.decode(CatalogueView.self, from: try upload.frame(0))
        #expect(view.version == 3 && view.change == "upload" && view.items == 3 && view.active == 2)
        let stored = try ItemCatalogue(canonical: h.store.blobs.get(try #require(try h.store.catalogue(3)).sha256))
        #expect(stored.active == [true, false, true])
        #expect(h.coordinator.refusal(forSlate: [0, 1])?.contains("retired in catalogue version 3") == true)
        #expect(h.coordinator.refusal(forSlate: [0, 2]) == nil)
    }

    @Test(
        "an upload that moves or drops a row of the newest version is refused (CONFLICT, nothing stored); appending is not",
        arguments: [
            ("sku,brand,price\na,x,1\nc,x,3\n", "item b is row 1 of catalogue version 1 and missing in the upload"),
            ("sku,brand,price\na,x,1\nc,x,3\nb,y,2\n", "item b is row 1 of catalogue version 1 and at row 2 in the upload"),
            ("sku,brand,price\na,x,1\nb,y,2\n", "item c is row 2 of catalogue version 1 and missing"),
        ])
    func rowsNeverMove(_ file: String, _ says: String) throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        let sha = try h.store.blobs.put(Array(file.utf8))
        let refused = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: CatalogueHarness.schema)))
        #expect(refused.header.status == .conflict)
        #expect((refused.errorText ?? "").contains(says) && (refused.errorText ?? "").contains("rows never move"), "\(refused.errorText ?? "")")
        #expect(try h.store.catalogue(nil)?.version == 1)
        let appended = try h.store.blobs.put(Array((Self.items + "d,y,4\n").utf8))
        let stored = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + appended, schema: CatalogueHarness.schema)))
        #expect(stored.header.status == .ok, "\(stored.errorText ?? "")")
        #expect(try h.store.catalogue(nil)?.version == 2)
        // Asked for, a replacement is stored (no online policy serves this registry's rows here).
        let replaced = try Self.confirmed(
            h,
            ControlRequest(
                .catalogueUpload,
                catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: CatalogueHarness.schema, replace: true)))
        #expect(replaced.header.status == .ok, "\(replaced.errorText ?? "")")
        #expect(try h.store.catalogue(nil)?.version == 3)
    }

    /// A new user's case: with the online policy serving the registry, the hint "upload with replace (--replace)" was
    /// followed and refused again; the hint now says how a replacement is made there.
    @Test("a moved row under an online policy serving the registry: the hint names the restart a replacement needs")
    func movedRowHintWhenServed() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try h.restartServing(version: 1)
        let sha = try h.store.blobs.put(Array("sku,brand,price\na,x,1\nc,x,3\n".utf8))
        let refused = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: CatalogueHarness.schema)))
        #expect(refused.header.status == .conflict)
        let text = refused.errorText ?? ""
        #expect(text.contains("rows never move") && text.contains("from a broker started without --online-catalogue"), "\(text)")
    }

    @Test("an upload with an active role stores its retired items; a later file cannot make a retired item active")
    func activeRole() throws {
        let h = try CatalogueHarness()
        let schema = CatalogueHarness.schema.replacingOccurrences(of: "item = \"sku\"\n[catalogue.item_features]", with: "item = \"sku\"\nactive = \"on\"\n[catalogue.item_features]")
        #expect(schema != CatalogueHarness.schema)
        for (version, file) in [(UInt64(1), "sku,on,brand,price\na,1,x,1\nb,0,y,2\nc,1,x,3\n"), (2, "sku,on,brand,price\na,1,x,1\nb,1,y,2\nc,0,x,3\n")] {
            let sha = try h.store.blobs.put(Array(file.utf8))
            let reply = try Self.confirmed(
                h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: schema)))
            #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
            let stored = try ItemCatalogue(canonical: h.store.blobs.get(try #require(try h.store.catalogue(version)).sha256))
            #expect(stored.active == (version == 1 ? [true, false, true] : [true, false, false]))
        }
    }

    @Test("under sku and active roles an added item's row, as an exported item_context.csv writes it, is accepted")
    func addWithSkuRoles() throws {
        let h = try CatalogueHarness()
        let schema = CatalogueHarness.schema.replacingOccurrences(
            of: "item = \"sku\"\n[catalogue.item_features]",
            with: "item = \"item_id\"\nsku = \"sku\"\nactive = \"active\"\n[catalogue.item_features]")
        let file = "item_id,sku,active,brand,price\n0,a,1,x,1.5\n1,b,0,y,2.5\n"
        let sha = try h.store.blobs.put(Array(file.utf8))
        let upload = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: schema)))
        #expect(upload.header.status == .ok, "\(upload.errorText ?? "")")
        func add(_ fields: [String: String]) throws -> WireMessage {
            try Self.confirmed(h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "n", fields: fields)))
        }
        for (fields, says) in [
            (["item_id": "7", "sku": "n", "brand": "x", "price": "1"], "added at row 2"),
            (["item_id": "2", "sku": "m", "brand": "x", "price": "1"], "another item"),
            (["item_id": "2", "sku": "n", "active": "0", "brand": "x", "price": "1"], "an added item is active"),
        ] {
            let refused = try add(fields)
            #expect(refused.header.status == .badRequest && (refused.errorText ?? "").contains(says), "\(refused.errorText ?? "")")
        }
        let added = try add(["": "2", "item_id": "2", "sku": "n", "active": "1", "brand": "x", "price": "1"].filter { !$0.key.isEmpty })
        #expect(added.header.status == .ok, "\(added.errorText ?? "")")
        let stored = try ItemCatalogue(canonical: h.store.blobs.get(try #require(try h.store.catalogue(nil)).sha256))
        #expect(stored.ids == ["a", "b", "n"] && stored.active == [true, false, true])
    }

    /// Accepted, stored and served, then refused only by `logs export`, days later (and duplicated in pandas).
    @Test(
        "an upload naming a user feature like an exported log column is refused naming it; nothing is stored",
        arguments: ["score", "timestamp", "viewed", "retrieval"])
    func userFeatureNamedLikeALogColumn(_ name: String) throws {
        let h = try CatalogueHarness()
        let schema = CatalogueHarness.schema.replacingOccurrences(
            of: "device = \"categorical\"", with: "\(name) = \"categorical\"")
        let sha = try h.store.blobs.put(Array(Self.items.utf8))
        let upload = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: schema)))
        #expect(upload.header.status == .badRequest)
        #expect(upload.errorText?.contains("user feature '\(name)' has the name of a column the impression log's export writes") == true, "\(upload.errorText ?? "")")
        #expect(try h.store.catalogue(nil) == nil)
    }

    /// Each declared value is a column of the policy's context. With this catalogue's 3 item columns, 8 features of
    /// 64 values (520 context columns) exceed its 2,048 interaction features.
    @Test(
        "an upload whose user features the online policy could not encode is refused naming why; nothing is stored",
        arguments: [(8, "wider than 2048 columns")])
    func unservableUserFeatures(_ count: Int, _ expected: String) throws {
        let h = try CatalogueHarness()
        let values = (0..<64).map { "\"v\($0)\"" }.joined(separator: ", ")
        let schema = CatalogueHarness.schema.replacingOccurrences(
            of: "device = \"categorical\"",
            with: (0..<count).map { "f\($0) = { kind = \"categorical\", values = [\(values)] }" }.joined(separator: "\n"))
        let sha = try h.store.blobs.put(Array(Self.items.utf8))
        let upload = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: schema)))
        #expect(upload.header.status == .badRequest)
        let text = upload.errorText ?? ""
        #expect(text.contains("make \(count * 65) columns of the online policy's context") && text.contains(expected), "\(text)")
        #expect(text.contains("declare fewer values"), "\(text)")
        #expect(try h.store.catalogue(nil) == nil)
        // Declared values within the limits are stored.
        let fits = CatalogueHarness.schema.replacingOccurrences(
            of: "device = \"categorical\"", with: "device = { kind = \"categorical\", values = [\"ios\", \"web\"] }")
        let stored = try Self.confirmed(
            h, ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: fits)))
        #expect(stored.header.status == .ok, "\(stored.errorText ?? "")")
    }

    @Test("an id canonically equivalent to a stored one (é, and e + U+0301) is that item, and the refusal says so")
    func canonicallyEquivalentIds() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        let added = try Self.confirmed(
            h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "caf\u{E9}", fields: ["price": "4.5"])))
        #expect(added.header.status == .ok, "\(added.errorText ?? "")")
        let equivalent = try Self.confirmed(
            h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "cafe\u{301}", fields: ["price": "4.5"])))
        #expect(equivalent.header.status == .badRequest)
        #expect(equivalent.errorText?.contains("canonically equivalent") == true, "\(equivalent.errorText ?? "")")
    }

    @Test("an id with surrounding spaces is the same item: added once, retired by its bare id")
    func spacesAroundAnId() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        let added = try Self.confirmed(
            h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: " d ", fields: ["price": "4.5"])))
        #expect(added.header.status == .ok, "\(added.errorText ?? "")")
        #expect(try WireJSON.decode(CatalogueView.self, from: try added.frame(0)).item == "d")
        let again = try Self.confirmed(
            h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "d", fields: ["price": "4.5"])))
        #expect(again.header.status == .badRequest)
        #expect(again.errorText?.contains("item id d is already in the catalogue") == true, "\(again.errorText ?? "")")
        // A tab is a control character: refused as the request arrives (never a second item a).
        do {
            let twin = try Self.confirmed(
                h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "\ta", fields: ["price": "1"])))
            #expect(twin.header.status == .badRequest, "a second item a was added")
        } catch {
            #expect("\(error)".contains("control character U+0009"), "\(error)")
        }
        // A row file's id column is read as the CSV reads it too.
        let rowFile = try Self.confirmed(
            h, ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "e", fields: ["sku": " e", "price": "5"])))
        #expect(rowFile.header.status == .ok, "\(rowFile.errorText ?? "")")
        let retired = try Self.confirmed(h, ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: " d")))
        #expect(retired.header.status == .ok, "\(retired.errorText ?? "")")
        let stored = try ItemCatalogue(canonical: h.store.blobs.get(try #require(try h.store.catalogue(nil)).sha256))
        #expect(stored.ids == ["a", "b", "c", "d", "e"] && stored.active == [true, true, true, false, true])
    }
}
