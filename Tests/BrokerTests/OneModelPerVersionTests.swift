import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// One version number names one model (docs/PROTOCOL.md, "Model versions"): workers serving different unregistered
/// checkpoints both report version 0, and without a registry two workers may claim one number with different
/// weights; the broker serves each number by one model only, so every answer under a number comes from one model.
@Suite("Broker core: one model per version number")
struct OneModelPerVersionTests {
    let client: [UInt8] = [0xC1]
    static let fileX = String(repeating: "a1", count: 32)
    static let fileY = String(repeating: "b2", count: 32)

    @Test("two version-0 workers with different checkpoints: every request goes to the first one's model, never both")
    func unregisteredFilesAreNotMixed() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 0, pid: 2, sha: Self.fileY)
        // More requests than one worker's slots: before, the second worker (another model) took the overflow.
        for id in 1...8 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(h.dispatches.count == 4)
        #expect(h.dispatches.allSatisfy { $0.identity == [0xA] })
        // Answered, the rest go to the same model too.
        for sent in h.dispatches { h.answer(sent, version: 0) }
        #expect(h.dispatches.count == 8 && h.dispatches.allSatisfy { $0.identity == [0xA] })
        // The first leaves: version 0 is now the other model's, and only its.
        h.feed(
            .worker(identity: [0xA], frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        IdentityCoreTests.score(&h, from: client, id: 9, cols: 2)
        #expect(h.dispatches.last?.identity == [0xB])
    }

    @Test("workers with the same checkpoint share the work; a seeded worker beside a file's model takes none")
    func sameModelShares() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x1", version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "x2", version: 0, pid: 2, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xD], id: "seeded", version: 0, pid: 3, sha: nil)
        for id in 1...12 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(Set(h.dispatches.map(\.identity)) == [[0xA], [0xB]])
        #expect(h.dispatches.count == 8)
    }

    @Test("without a registry, two workers claiming version 3 with different weights do not both answer as version 3")
    func claimedNumberWithoutRegistry() throws {
        var h = CoreHarness()
        #expect(h.core.registeredModels == nil)
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 3, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 3, pid: 2, sha: Self.fileY)
        for id in 1...8 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(h.dispatches.count == 4 && h.dispatches.allSatisfy { $0.identity == [0xA] })
    }

    @Test("a request only the other model's worker could take is answered CONFLICT naming both models, never scored by it")
    func conflictNamesBothModels() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        IdentityCoreTests.register(&h, [0xA], id: "x", width: 3, version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", width: 2, version: 0, pid: 2, sha: Self.fileY)
        IdentityCoreTests.score(&h, from: client, id: 1, cols: 2)
        #expect(h.dispatches.isEmpty)
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .conflict)
        let text = reply.errorText ?? ""
        #expect(text.contains("model version 0 is served by checkpoint sha256 a1a1a1a1a1a1"), "\(text)")
        #expect(text.contains("worker y serves another model") && text.contains("b2b2b2b2b2b2"), "\(text)")
    }
}
