import Logging
import RecStore
import RecWire
import Testing

@testable import Broker

/// A broker started on an earlier catalogue version than the newest (`--online-catalogue 1` while the newest was 3)
/// sent each registering worker the newest version and every later change, and a replica moves its policy to every
/// newer version it installs: slates showed items version 1 does not have while the broker's policy, its status and
/// its log stayed on version 1; `catalogue add` was stored and acknowledged "confirmed by every worker"; the worker's
/// holding version 1 for the POLICY was logged as a refusal.
@Suite("Catalogue registry: a pool serving an earlier version than the newest")
struct CataloguePinnedPoolTests {
    /// Versions 1 (upload), 2 and 3 (adds), then the harness's coordinator replaced by one started as a broker
    /// restarted with `--online-catalogue 1` (its online policy serves version 1).
    static func pinned() throws -> CatalogueHarness {
        let h = try CatalogueHarness()
        try h.upload(CatalogueAcknowledgementTests.items)
        try h.confirm(1)
        for (item, price) in [("d", "4.5"), ("e", "5.5")] {
            try h.send(ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: item, fields: ["brand": "x", "price": price])))
        }
        #expect(try h.store.catalogue(nil)?.version == 3)
        h.outputs = []
        try h.restartServing(version: 1)
        return h
    }

    /// The CATALOGUE versions sent to workers so far.
    static func sentVersions(_ h: CatalogueHarness) throws -> [UInt64] {
        try h.outputs.compactMap { output -> UInt64? in
            guard case .toWorker(_, let frames) = output, frames.count == 3 else { return nil }
            return try WireJSON.decode(CatalogueInstall.self, from: frames[1]).version
        }
    }

    @Test("a registering worker is sent the served version, with its own bytes, not the newest")
    func servedVersionSent() throws {
        let h = try Self.pinned()
        #expect(try Self.sentVersions(h) == [1])
        let frames = try #require(h.outputs.compactMap { output -> [[UInt8]]? in
            if case .toWorker(_, let frames) = output { return frames }
            return nil
        }.first)
        let record = try #require(try h.store.catalogue(1))
        #expect(try WireJSON.decode(CatalogueInstall.self, from: frames[1]).sha256 == record.sha256)
        #expect(BlobStore.digest(frames[2]) == record.sha256)
    }

    @Test("add, retire and upload are refused CONFLICT naming both versions and the restart; nothing is stored or sent",
          arguments: ["add", "retire", "upload"])
    func changesRefused(operation: String) throws {
        let h = try Self.pinned()
        h.outputs = []
        let request: ControlRequest
        switch operation {
        case "add": request = ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "f", fields: ["brand": "x", "price": "6.5"]))
        case "retire": request = ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: "a"))
        default:
            let sha = try h.store.blobs.put(Array((CatalogueAcknowledgementTests.items + "d,x,4.5\ne,x,5.5\nf,y,1\n").utf8))
            request = ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: CatalogueHarness.schema))
        }
        let id = try h.send(request, nowMs: 4_000)
        let reply = try #require(h.replies().first { $0.header.requestId == id })
        #expect(reply.header.status == .conflict)
        let text = String(decoding: try reply.frame(0), as: UTF8.self)
        #expect(text.contains("serves catalogue version 1 (--online-catalogue 1), not the newest, 3"), "\(text)")
        #expect(text.contains("nothing was stored") && text.contains("--online-catalogue latest"), "\(text)")
        #expect(try h.store.catalogue(nil)?.version == 3)
        #expect(try Self.sentVersions(h).isEmpty)
    }

    @Test("the listing says the served version is confirmed once the worker confirms it, and not the newest")
    func listingConfirmsTheServedVersion() throws {
        let h = try Self.pinned()
        try h.confirm(1, nowMs: 3_100)
        let id = try h.send(ControlRequest(op: "catalogues"), nowMs: 3_200)
        let reply = try #require(h.replies().first { $0.header.requestId == id })
        let list = try WireJSON.decode(CatalogueList.self, from: try reply.frame(0))
        #expect(list.catalogues.map(\.confirmed) == [true, nil, nil])
    }
}
