import Crypto
import RecData
import RecWire
import Testing

@testable import Worker

/// CATALOGUE on the worker: the session thread only hands the notice and bytes to the online thread, which installs
/// them only when the bytes hash to the broker's SHA-256, and answers either way.
@Suite("Worker: catalogue install")
struct WorkerCoreCatalogueTests {
    static func bytes() throws -> [UInt8] {
        let encoding = ItemEncoding(categorical: [], numeric: ["price"])
        return try ItemCatalogue(encoding: encoding, ids: ["A", "B"], features: [1, 2]).canonicalBytes()
    }

    static func sha(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    /// The last CATALOGUE_STATE sent, if the last message sent is one.
    static func state(_ harness: inout WorkerHarness) throws -> CatalogueState? {
        guard let message = harness.takeSent().last?.message, message.header.command == .catalogueState else { return nil }
        return try WireJSON.decode(CatalogueState.self, from: message.payload[0])
    }

    /// The version the online thread received last and serves from.
    static func newest(_ harness: WorkerHarness) -> InstalledCatalogue? {
        harness.relay?.state.withLock { $0.receiver.newest }
    }

    @Test("the session thread neither hashes nor decodes: it hands the notice and the bytes to the online thread as they came")
    func handedOver() throws {
        var harness = WorkerHarness.registered()
        let bytes = try Self.bytes()
        let notice = CatalogueInstall(version: 2, sha256: Self.sha(bytes))
        harness.receive(Header(command: .catalogue), [WireJSON.encode(notice), bytes])
        #expect(harness.takeSent().isEmpty, "nothing is answered before the online thread has verified it")
        guard case .received(let handed, let frame)? = harness.online.last, harness.online.count == 1 else {
            Issue.record("expected the CATALOGUE handed to the online thread")
            return
        }
        #expect(handed == notice && frame == bytes)
    }

    @Test("verified bytes are installed and confirmed; bytes with another hash are refused, naming both hashes")
    func install() throws {
        var harness = WorkerHarness.registered(relay: manualOnlineLearning())
        let bytes = try Self.bytes()
        var damaged = bytes
        damaged[damaged.count - 2] ^= 1
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 2, sha256: Self.sha(bytes))), damaged])
        let refused = try #require(try Self.state(&harness))
        #expect(!refused.installed && refused.version == 2)
        #expect(refused.error?.contains(Self.sha(bytes)) == true)
        #expect(Self.newest(harness) == nil)
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 2, sha256: Self.sha(bytes))), bytes])
        let confirmed = try #require(try Self.state(&harness))
        #expect(confirmed.installed && confirmed.version == 2 && confirmed.sha256 == Self.sha(bytes) && confirmed.error == nil)
        let installed = try #require(Self.newest(harness))
        #expect(installed.version == 2 && installed.sha256 == Self.sha(bytes) && installed.catalogue.ids == ["A", "B"])
        #expect(harness.relay?.state.withLock { $0.held[2] } == installed)
    }

    @Test("bytes that hash right but are no catalogue are refused; a notice without its bytes is answered, refused")
    func malformed() throws {
        var harness = WorkerHarness.registered(relay: manualOnlineLearning())
        let junk = Array("{\"format\":1}".utf8)
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 1, sha256: Self.sha(junk))), junk])
        let refused = try #require(try Self.state(&harness))
        #expect(!refused.installed && refused.error?.hasPrefix("the catalogue does not decode: ") == true)
        #expect(Self.newest(harness) == nil)
        // A notice without its bytes is answered (docs/PROTOCOL.md: CATALOGUE_STATE either way), never left waiting.
        harness.receive(Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: 1, sha256: "x"))])
        let noBytes = try #require(try Self.state(&harness))
        #expect(!noBytes.installed && noBytes.version == 1 && noBytes.error?.isEmpty == false)
        harness.receive(Header(command: .catalogue), [Array("not json".utf8), junk])
        #expect(harness.takeSent().isEmpty)
        #expect(harness.logs.filter { $0.message == "malformed CATALOGUE message ignored" }.count == 1)
    }
}
