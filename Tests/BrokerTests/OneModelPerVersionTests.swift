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

    /// A worker held back from SCORE and RECOMMEND by the same checkpoint named it twice ("…by checkpoint X, checkpoint X").
    @Test("an idle reason names the model that serves the number once, whatever services it holds back")
    func idleReasonNamesTheModelOnce() throws {
        var h = CoreHarness()
        let both = ["SCORE", "RECOMMEND"]
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 0, sha: Self.fileX, services: both)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 0, pid: 2, sha: Self.fileY, services: both)
        let idle = try #require(h.core.statusDocument(now: h.now).workers.first { $0.id == "y" }?.idleReason)
        #expect(idle.hasPrefix("takes no SCORE or RECOMMEND: model version 0 is served there by checkpoint sha256"), "\(idle)")
        #expect(idle.components(separatedBy: Self.fileX.prefix(12)).count == 2, "named once: \(idle)")
    }

    @Test("two version-0 workers with different checkpoints: every request goes to the first one's model, never both")
    func unregisteredFilesAreNotMixed() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 0, pid: 2, sha: Self.fileY)
        // More requests than one worker's slots: before, the second worker (another model) took the overflow.
        for id in 1...8 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(h.dispatches.count == 4)
        #expect(h.dispatches.allSatisfy { $0.identity == [0xA] })
        // Status says why y takes no work, and x may take some.
        let status = h.core.statusDocument(now: h.now).workers
        let idle = try #require(status.first { $0.id == "y" }?.idleReason)
        #expect(idle.hasPrefix("takes no SCORE: model version 0 is served there by checkpoint sha256 \(Self.fileX.prefix(12))"))
        #expect(status.first { $0.id == "x" }?.idleReason == nil)
        // Answered, the rest go to the same model too.
        for sent in h.dispatches { h.answer(sent, version: 0) }
        #expect(h.dispatches.count == 8 && h.dispatches.allSatisfy { $0.identity == [0xA] })
        // The first leaves: version 0 is now the other model's, and only its.
        h.feed(
            .worker(identity: [0xA], frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        IdentityCoreTests.score(&h, from: client, id: 9, cols: 2)
        #expect(h.dispatches.last?.identity == [0xB])
        #expect(h.core.statusDocument(now: h.now).workers.allSatisfy { $0.idleReason == nil })
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

    @Test("seeded workers with different seeds are two models; the same seed is one, and shares the work")
    func seedsAreModels() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "s7a", version: 0, seed: 7)
        IdentityCoreTests.register(&h, [0xB], id: "s8", version: 0, pid: 2, seed: 8)
        IdentityCoreTests.register(&h, [0xC], id: "s7b", version: 0, pid: 3, seed: 7)
        for id in 1...12 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        // Before, the seed was not reported and all three answered as one model, version 0.
        #expect(Set(h.dispatches.map(\.identity)) == [[0xA], [0xC]])
        #expect(h.dispatches.count == 8)
        let status = h.core.statusDocument(now: h.now)
        #expect(status.workers.first { $0.id == "s8" }?.modelSeed == 8)
        #expect(status.workers.first { $0.id == "s8" }?.modelSource == "seeded")
        // The seeded-with-7 workers leave: version 0 passes to the model seeded with 8.
        for gone: [UInt8] in [[0xA], [0xC]] {
            h.feed(.worker(identity: gone, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        }
        IdentityCoreTests.score(&h, from: client, id: 13, cols: 2)
        #expect(h.dispatches.last?.identity == [0xB])
    }

    @Test("seeded workers with different seeds all take RECOMMEND: a seeded model has no recommender, the seed changes no slate")
    func seedsShareRecommend() throws {
        var h = CoreHarness()
        for (n, seed) in [(UInt8(0xA), UInt64(7)), (0xB, 8)] {
            let hello = WorkerHello(
                workerId: "r\(n)", services: ["SCORE", "RECOMMEND"], slots: 16, inputWidth: 2, modelVersion: 0, host: "h",
                pid: Int32(n), modelSeed: seed)
            h.feed(
                .worker(
                    identity: [n], frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                    peerAddress: "127.0.0.1"))
        }
        for id in 1...8 {
            let message = WireMessage(header: Header(command: .recommend, requestId: UInt64(id)), payload: [Array("{}".utf8)])
            h.feed(.client(identity: client, frames: message.frames(), userId: nil))
        }
        let recommends = h.sentToWorkers.filter { $0.message.header.command == .recommend && !$0.message.header.isReply }
        #expect(recommends.count == 8)
        #expect(Set(recommends.map(\.identity)) == [[0xA], [0xB]])
        // SCORE still goes to the first one's model only.
        for id in 9...24 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(!h.dispatches.isEmpty && h.dispatches.allSatisfy { $0.identity == [0xA] })
    }

    @Test("a draining worker keeps its number until its last answer is in: the next model never answers beside it")
    func drainHandsOverAfterTheLastAnswer() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 0, pid: 2, sha: Self.fileY)
        IdentityCoreTests.score(&h, from: client, id: 1, cols: 2)
        IdentityCoreTests.score(&h, from: client, id: 2, cols: 2)
        #expect(h.dispatches.count == 2 && h.dispatches.allSatisfy { $0.identity == [0xA] })
        #expect(h.core.statusDocument(now: h.now).workers.allSatisfy { !$0.draining })
        h.feed(
            .worker(
                identity: [0xA], frames: [Header(command: .heartbeat, flags: .drain).encoded()], peerAddress: nil))
        // The status says which worker drains (health leaves it out).
        #expect(h.core.statusDocument(now: h.now).workers.map(\.draining) == [true, false])
        // Before, y's model took request 3 at once while x still answered 1 and 2 under the same number.
        IdentityCoreTests.score(&h, from: client, id: 3, cols: 2)
        #expect(h.dispatches.count == 2)
        let held = h.dispatches
        h.answer(held[0], version: 0)
        #expect(h.dispatches.count == 2)
        h.answer(held[1], version: 0)
        // x's last answer is in: version 0 is y's model now, and request 3 goes to it.
        #expect(h.dispatches.count == 3 && h.dispatches.last?.identity == [0xB])
    }

    /// With draining workers no longer counted as takers, a request queued behind a slow last answer of the draining
    /// owner was answered CONFLICT ("served by … takes no work") after no-worker-timeout instead of waiting for it.
    @Test("a request queued while the draining owner of its number still answers waits past no-worker-timeout")
    func drainingOwnerIsWaitedFor() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 0, pid: 2, sha: Self.fileY)
        IdentityCoreTests.score(&h, from: client, id: 1, cols: 2)
        let held = try #require(h.dispatches.first)
        h.feed(
            .worker(
                identity: [0xA], frames: [Header(command: .heartbeat, flags: .drain).encoded()], peerAddress: nil))
        IdentityCoreTests.score(&h, from: client, id: 2, cols: 2)
        h.advance(ms: 1_500)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 2).isEmpty, "answered before the draining owner's last answer")
        h.answer(held, version: 0)
        #expect(h.dispatches.last?.identity == [0xB] && h.dispatches.count == 2)
    }

    @Test("a seed in READY beside a checkpoint hash is ignored: the hash names the model")
    func hashOutranksSeed() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x", version: 0, sha: Self.fileX, seed: 1)
        IdentityCoreTests.register(&h, [0xB], id: "y", version: 0, pid: 2, sha: Self.fileX, seed: 2)
        for id in 1...8 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(Set(h.dispatches.map(\.identity)) == [[0xA], [0xB]])
        #expect(h.core.statusDocument(now: h.now).workers.allSatisfy { $0.modelSeed == nil })
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

    @Test("models of two widths under version 0 each serve their own rows: no request could go to both")
    func twoWidthsServeTheirOwnRows() throws {
        var h = CoreHarness()
        IdentityCoreTests.register(&h, [0xA], id: "x", width: 3, version: 0, sha: Self.fileX)
        IdentityCoreTests.register(&h, [0xB], id: "y", width: 2, version: 0, pid: 2, sha: Self.fileY)
        IdentityCoreTests.score(&h, from: client, id: 1, cols: 2)
        IdentityCoreTests.score(&h, from: client, id: 2, cols: 3)
        #expect(h.dispatches.map(\.identity) == [[0xB], [0xA]])
        // A third model of width 2 registered later takes no 2-wide rows while y is live.
        IdentityCoreTests.register(&h, [0xC], id: "z", width: 2, version: 0, pid: 3, sha: String(repeating: "c3", count: 32))
        for id in 3...10 { IdentityCoreTests.score(&h, from: client, id: UInt64(id), cols: 2) }
        #expect(!h.dispatches.contains { $0.identity == [0xC] })
    }
}
