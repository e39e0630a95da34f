import Crypto
import RecData
import RecWire
import Testing

@testable import Worker

/// CATALOGUE on the worker: installed only when the bytes hash to the broker's SHA-256, answered either way.
@Suite("Worker core: catalogue install")
struct WorkerCoreCatalogueTests {
    static func bytes() throws -> [UInt8] {
        let encoding = ItemEncoding(categorical: [], numeric: ["price"])
        return try ItemCatalogue(encoding: encoding, ids: ["A", "B"], features: [1, 2]).canonicalBytes()
    }

    static func sha(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    static func state(_ harness: inout WorkerHarness) throws -> CatalogueState? {
        guard let message = harness.takeSent().last?.message, message.header.command == .catalogueState else { return nil }
        return try WireJSON.decode(CatalogueState.self, from: message.payload[0])
    }

    @Test("verified bytes are installed and confirmed; bytes with another hash are refused, naming both hashes")
    func install() throws {
        var harness = WorkerHarness.registered()
        _ = harness.takeSent()
        let bytes = try Self.bytes()
        var damaged = bytes
        damaged[damaged.count - 2] ^= 1
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 2, sha256: Self.sha(bytes))), damaged])
        let refused = try #require(try Self.state(&harness))
        #expect(!refused.installed && refused.version == 2)
        #expect(refused.error?.contains(Self.sha(bytes)) == true)
        #expect(harness.core.catalogue == nil)
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 2, sha256: Self.sha(bytes))), bytes])
        let installed = try #require(try Self.state(&harness))
        #expect(installed.installed && installed.sha256 == Self.sha(bytes) && installed.error == nil)
        #expect(harness.core.catalogue?.version == 2 && harness.core.catalogue?.catalogue.ids == ["A", "B"])
    }

    @Test("bytes that hash right but are no catalogue are refused; a notice without its bytes is ignored")
    func malformed() throws {
        var harness = WorkerHarness.registered()
        _ = harness.takeSent()
        let junk = Array("{\"format\":1}".utf8)
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 1, sha256: Self.sha(junk))), junk])
        let refused = try #require(try Self.state(&harness))
        #expect(!refused.installed && refused.error != nil)
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 1, sha256: "x"))])
        #expect(harness.takeSent().isEmpty)
        #expect(harness.logs.contains { $0.message == "malformed CATALOGUE message ignored" })
    }
}
