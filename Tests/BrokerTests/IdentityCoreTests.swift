import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Issue 13 §1 ("one name, one thing") on the core: widths, worker ids, and workers that serve no
/// registered model while one is promoted.
@Suite("Broker core: model identity")
struct IdentityCoreTests {
    let client: [UInt8] = [0xC1]
    let narrow: [UInt8] = [0xA]
    let wide: [UInt8] = [0xB]

    static func register(
        _ h: inout CoreHarness, _ identity: [UInt8], id: String, width: Int = 2, version: UInt64 = 1, pid: Int32 = 1,
        sha: String? = nil, seed: UInt64? = nil, services: [String] = ["SCORE"]
    ) {
        let hello = WorkerHello(
            workerId: id, services: services, slots: 4, inputWidth: width, modelVersion: version, host: "h", pid: pid,
            modelSha256: sha, modelSeed: seed)
        h.feed(
            .worker(
                identity: identity,
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
    }

    static func score(_ h: inout CoreHarness, from client: [UInt8], id: UInt64, cols: Int) {
        let message = WireMessage(
            header: Header(command: .score, requestId: id),
            payload: [Tensor(rows: 1, cols: cols, values: [Float](repeating: 0.5, count: cols)).encoded()])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
    }

    @Test("rows go only to a worker whose model has their width (153 and 154 wide 'v1' fleets)")
    func routesByWidth() {
        var h = CoreHarness()
        Self.register(&h, narrow, id: "n", width: 153)
        Self.register(&h, wide, id: "w", width: 154)
        for id in 1...6 { Self.score(&h, from: client, id: UInt64(id), cols: 154) }
        for id in 7...12 { Self.score(&h, from: client, id: UInt64(id), cols: 153) }
        let dispatched = h.dispatches
        #expect(dispatched.count == 8)  // 4 slots each
        for sent in dispatched {
            let cols = try? Tensor(decoding: sent.message.payload[0], maxRows: 10, maxCols: 1000).cols
            #expect(sent.identity == (cols == 154 ? wide : narrow))
        }
    }

    @Test("rows no live model takes are refused BAD_REQUEST at once, naming the widths served")
    func refusesUnservedWidth() throws {
        var h = CoreHarness()
        Self.register(&h, narrow, id: "n", width: 153)
        Self.score(&h, from: client, id: 1, cols: 7)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText?.contains("rows have 7 features") == true)
        #expect(reply.errorText?.contains("expects 153") == true)
        #expect(h.dispatches.isEmpty)
        // The refused request's bytes are no longer held against its client or the service (found when the
        // byte limits and width routing met: every later request of that client was BUSY).
        #expect(h.core.heldBytes == 0)
        #expect(h.core.counters[.invalidRequests] == 1)
    }

    @Test("a 12-byte heartbeat updates the width the broker routes by and the status shows")
    func heartbeatWidth() {
        var h = CoreHarness()
        Self.register(&h, narrow, id: "n", width: 153)
        let load = WorkerLoad(slots: 4, queued: 0, inputWidth: 154)
        h.feed(
            .worker(
                identity: narrow,
                frames: [Header(command: .heartbeat, modelVersion: 1).encoded(), load.encoded()], peerAddress: nil))
        #expect(h.core.statusDocument(now: h.now).workers.map(\.inputWidth) == [154])
        Self.score(&h, from: client, id: 1, cols: 154)
        #expect(h.dispatches.count == 1)
    }

    /// STATUS showed `model_seed: 7` beside the checkpoint's hash a heartbeat had just reported ("file" and a seed).
    @Test("a heartbeat naming a checkpoint's SHA-256 clears the seed READY reported: status shows no seed beside a hash")
    func heartbeatHashClearsSeed() {
        var h = CoreHarness()
        Self.register(&h, narrow, id: "n", version: 0, seed: 7)
        #expect(h.core.statusDocument(now: h.now).workers.first?.modelSeed == 7)
        let load = WorkerLoad(slots: 4, queued: 0, inputWidth: 2, modelSHA256: [UInt8](repeating: 0x11, count: 32))
        h.feed(
            .worker(
                identity: narrow,
                frames: [Header(command: .heartbeat, modelVersion: 0).encoded(), load.encoded()], peerAddress: nil))
        let worker = h.core.statusDocument(now: h.now).workers.first
        #expect(worker?.modelSha256 == String(repeating: "11", count: 32))
        #expect(worker?.modelSeed == nil && worker?.modelSource == "file")
    }

    /// A load frame with width 0 was counted malformed, and its slots were applied all the same.
    @Test("a heartbeat whose load names a width no model has is malformed: counted, and none of it applied",
          arguments: [UInt32(0), UInt32(1 << 24 + 1)])
    func heartbeatWithImpossibleWidth(width: UInt32) {
        var h = CoreHarness()
        Self.register(&h, narrow, id: "n", width: 153)
        let before = h.core.statusDocument(now: h.now).workers.first
        let load = WorkerLoad(slots: 99, queued: 0, inputWidth: width)
        h.feed(
            .worker(
                identity: narrow,
                frames: [Header(command: .heartbeat, modelVersion: 1).encoded(), load.encoded()], peerAddress: nil))
        let after = h.core.statusDocument(now: h.now).workers.first
        #expect(after?.slots == before?.slots && after?.inputWidth == 153)
        #expect(h.core.counters[.malformedWorkerMessages] == 1)
    }

    /// A READY of protocol version 2 (or a header that does not decode) from a peer that is no worker was only
    /// counted: the peer retried in silence, never told why. It gets DISCONNECT, as an unknown worker does, at most
    /// once per heartbeat interval.
    @Test("an undecodable message from a peer that is no registered worker is answered DISCONNECT, once per interval")
    func undecodableFromUnknownPeer() throws {
        var h = CoreHarness()
        var ready = Header(command: .ready).encoded()
        ready[3] = 2  // the protocol version byte
        let peer: [UInt8] = [0xE7]
        for frames in [[ready, Array("{}".utf8)], [[0x00, 0x01, 0x02]]] {
            h.feed(.worker(identity: peer, frames: frames, peerAddress: nil))
        }
        let disconnects = h.sentToWorkers.filter { $0.identity == peer && $0.message.header.command == .disconnect }
        #expect(disconnects.count == 1)
        #expect(h.core.counters[.malformedWorkerMessages] == 2)
        #expect(h.core.statusDocument(now: h.now).workers.isEmpty)
    }

    @Test("a second live worker with the same id is registered as id#2 and told so; one process reconnecting is not")
    func uniqueIds() throws {
        var h = CoreHarness()
        Self.register(&h, narrow, id: "dup", pid: 10)
        Self.register(&h, wide, id: "dup", pid: 11)
        #expect(h.core.statusDocument(now: h.now).workers.map(\.id) == ["dup", "dup#2"])
        let ack = try #require(h.sentToWorkers.last { $0.identity == wide && $0.message.header.command == .heartbeat })
        let registration = try WireJSON.decode(WorkerRegistration.self, from: try #require(ack.message.payload.first))
        // The registration names the broker's heartbeat interval and liveness, which the worker adopts.
        #expect(
            registration == WorkerRegistration(workerId: "dup#2", requestedId: "dup", heartbeatMs: 1_000, liveness: 3))
        #expect(h.core.counters[.workersRenamed] == 1)
        // The same process (pid 10) on a new connection replaces its old registration.
        Self.register(&h, [0xC], id: "dup", pid: 10)
        #expect(h.core.statusDocument(now: h.now).workers.map(\.id).sorted() == ["dup", "dup#2"])
        #expect(h.core.liveWorkerCount == 2)
    }

    @Test("a renamed id stays within a READY's 256 bytes: the requested id is cut at a character to fit the suffix")
    func renamedIdFits() throws {
        var h = CoreHarness()
        // 255 bytes ending in a two-byte character: `#2` leaves room for 254, so the id keeps 127 characters of 2 bytes.
        let long = String(repeating: "é", count: 127) + "x"
        #expect(long.utf8.count == 255)
        Self.register(&h, narrow, id: long, pid: 10)
        Self.register(&h, wide, id: long, pid: 11)
        let ids = h.core.statusDocument(now: h.now).workers.map(\.id)
        #expect(ids.contains(String(repeating: "é", count: 127) + "#2"), "\(ids.map(\.utf8.count))")
        #expect(ids.allSatisfy { $0.utf8.count <= WorkerHello.maximumNameBytes })
        #expect(BrokerCore.renamed(String(repeating: "é", count: 128), 10) == String(repeating: "é", count: 126) + "#10")
        #expect(BrokerCore.renamed("dup", 2) == "dup#2")
    }

    @Test("while a version is promoted, a worker on the seeded or a file model takes no work, and status says so")
    func unregisteredWorkersWait() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        Self.register(&h, narrow, id: "seeded", width: 2, version: 0)
        // Version 1 is promoted but its checkpoint is unreadable: no WEIGHTS can go out.
        h.feed(.rollout(version: 1, frames: []))
        #expect(!h.sentToWorkers.contains { $0.message.header.command == .weights })
        Self.score(&h, from: client, id: 1, cols: 2)
        #expect(h.dispatches.isEmpty)
        let status = h.core.statusDocument(now: h.now)
        #expect(status.promotedVersion == 1)
        #expect(status.workers.first?.waitingForVersion == 1)
        #expect(status.workers.first?.modelSource == "seeded")
        // A seeded worker registering now is told at once.
        Self.register(&h, wide, id: "late", width: 2, version: 0)
        let ack = try #require(h.sentToWorkers.last { $0.identity == wide && $0.message.header.command == .heartbeat })
        let registration = try WireJSON.decode(WorkerRegistration.self, from: try #require(ack.message.payload.first))
        #expect(registration.waitingForVersion == 1)
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .conflict)
        #expect(reply.errorText?.contains("promoted model version 1") == true)
    }

    /// Rows of the promoted model's width (133) were refused BAD_REQUEST at once, naming the seeded model's width
    /// (106), while workers waited for the promoted version; rows of the seeded width got the documented CONFLICT.
    @Test("while a promoted version rolls out, rows of a width no live worker takes wait and are CONFLICT, not BAD_REQUEST")
    func rowsWaitForTheRollout() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        Self.register(&h, narrow, id: "seeded", width: 106, version: 0)
        h.feed(.rollout(version: 2, frames: []))
        Self.score(&h, from: client, id: 1, cols: 133)
        #expect(h.replies(to: client, id: 1).isEmpty, "refused before the promoted version could arrive")
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 1).first)
        #expect(reply.header.status == .conflict, "\(reply.errorText ?? "")")
        // Once every worker serves the promoted version, a width none takes is BAD_REQUEST at once again.
        Self.register(&h, narrow, id: "seeded", width: 133, version: 2)
        Self.score(&h, from: client, id: 2, cols: 7)
        #expect(h.replies(to: client, id: 2).first?.header.status == .badRequest)
    }

    @Test("a file model is shown unregistered with its hash; after WEIGHTS it is the registry's version")
    func fileModelStatus() {
        var h = CoreHarness { $0.keepsRegistry = true }
        Self.register(&h, narrow, id: "f", width: 2, version: 0, sha: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        var worker = h.core.statusDocument(now: h.now).workers[0]
        #expect(worker.modelVersion == 0 && worker.modelSource == "file" && worker.modelSha256 == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        #expect(worker.waitingForVersion == nil)
        let weights = [
            Header(command: .weights, modelVersion: 3).encoded(), WireJSON.encode(WeightsNotice(version: 3, sha256: "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd")),
            [1],
        ]
        // A rollout comes from a registry, which holds the version it rolls out.
        h.core.registeredModels = [3: "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"]
        h.feed(.rollout(version: 3, frames: weights))
        h.feed(.worker(identity: narrow, frames: [Header(command: .heartbeat, modelVersion: 3).encoded()], peerAddress: nil))
        worker = h.core.statusDocument(now: h.now).workers[0]
        #expect(worker.modelVersion == 3 && worker.modelSource == "registry" && worker.modelSha256 == "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd")
    }

    @Test("a broker without a registry shows a claimed version as unchecked, never as the registry's")
    func claimedVersionWithoutRegistry() {
        var h = CoreHarness()
        #expect(h.core.registeredModels == nil)
        Self.register(&h, narrow, id: "c", width: 2, version: 1, sha: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        let worker = h.core.statusDocument(now: h.now).workers[0]
        #expect(worker.modelVersion == 1 && worker.modelSource == "unchecked")
    }
}

@Suite("Broker core: a slate is acknowledged only once its impression is stored")
struct HeldSlateTests {
    @Test("with online learning running, a policy RECOMMEND reply goes to the control plane with its impression, not to the client")
    func slateIsHeld() throws {
        var h = CoreHarness()
        h.core.onlineView = OnlineView(
            enabled: true, frozen: false, version: 1, weightsSha256: "", syncs: 0, rejected: 0, lastSyncMs: 0,
            syncIntervalMs: 1000, syncEvents: 100, impressions: 0, feedback: 0, duplicates: 0, pendingEvents: 0,
            lastDecision: nil, replicas: [])
        let hello = WorkerHello(
            workerId: "w7", services: ["RECOMMEND", "POLICY"], slots: 2, inputWidth: 2, modelVersion: 1, host: "h", pid: 1)
        h.feed(
            .worker(
                identity: [7], frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: nil))
        let query = WireMessage(header: Header(command: .recommend, requestId: 5), payload: [Array("{}".utf8)])
        h.feed(.client(identity: [1], frames: query.frames(), userId: nil))
        let dispatched = try #require(h.sentToWorkers.last { $0.message.header.command == .recommend })
        let record = Array("{\"impression_id\":\"x\"}".utf8)
        let reply = WireMessage(
            header: dispatched.message.header.reply(status: .ok, modelVersion: 3),
            payload: [Array("{\"items\":[]}".utf8), record])
        h.feed(.worker(identity: [7], frames: reply.frames(), peerAddress: nil))
        #expect(h.replies(to: [1], id: 5).isEmpty)
        let held = h.toControl.compactMap { input -> (String, [UInt8], [UInt8], [[UInt8]])? in
            if case .heldImpression(let worker, let bytes, let client, let frames, _) = input { return (worker, bytes, client, frames) }
            return nil
        }
        #expect(held.count == 1)
        let (worker, bytes, client, frames) = try #require(held.first)
        #expect(worker == "w7" && bytes == record && client == [1])
        let message = try WireMessage(decoding: frames)
        #expect(message.header.requestId == 5 && message.payload.count == 1)
        // Answered by the worker, but outstanding until the control plane sends it (a shutdown drain waits).
        #expect(h.core.inflightCount == 0 && h.core.outstandingRequests == 1)
        h.core.controlAnswered(identity: client, frames: frames)
        #expect(h.core.outstandingRequests == 0)
    }
}

@Suite("Broker core: claimed versions are checked against the registry")
struct ClaimedVersionTests {
    @Test("with nothing promoted and only unverified workers, CONFLICT says why, naming no version it does not have")
    func unverifiedWithNothingPromoted() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        h.core.registeredModels = [1: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"]
        IdentityCoreTests.register(&h, [0xA], id: "stale", width: 2, version: 1, sha: "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
        IdentityCoreTests.score(&h, from: [0xC1], id: 1, cols: 2)
        #expect(h.dispatches.isEmpty)
        h.advance(ms: 600)
        h.feed(.tick)
        let reply = try #require(h.replies(to: [0xC1], id: 1).first)
        #expect(reply.header.status == .conflict)
        #expect(reply.errorText?.contains("no live worker holds a registered model") == true, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains("?") == false)
    }

    @Test("a worker claiming version 1 with other weights than the registry's v1 takes no work and is sent the promoted weights")
    func mismatchedClaim() throws {
        var h = CoreHarness {
            $0.noWorkerTimeoutMs = 500
            $0.keepsRegistry = true
        }
        h.core.registeredModels = [1: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"]
        let weights = [
            Header(command: .weights, modelVersion: 1).encoded(),
            WireJSON.encode(WeightsNotice(version: 1, sha256: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")), [1],
        ]
        h.feed(.rollout(version: 1, frames: weights))
        IdentityCoreTests.register(&h, [0xA], id: "stale", width: 2, version: 1, sha: "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
        IdentityCoreTests.register(&h, [0xB], id: "good", width: 2, version: 1, sha: "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")
        #expect(h.sentToWorkers.filter { $0.message.header.command == .weights }.map(\.identity) == [[0xA]])
        for id in 1...4 { IdentityCoreTests.score(&h, from: [0xC1], id: UInt64(id), cols: 2) }
        #expect(!h.dispatches.isEmpty && h.dispatches.allSatisfy { $0.identity == [0xB] })
        let status = h.core.statusDocument(now: h.now)
        let stale = try #require(status.workers.first { $0.id == "stale" })
        #expect(stale.modelSource == "unverified" && stale.waitingForVersion == 1)
        // A heartbeat that still reports the other weights leaves it unverified…
        let other = [UInt8](repeating: 0x11, count: 32)
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        h.core.registeredModels = [1: hex([UInt8](repeating: 0x22, count: 32))]
        let stillOther = WorkerLoad(slots: 4, queued: 0, inputWidth: 2, modelSHA256: other)
        h.feed(.worker(identity: [0xA], frames: [Header(command: .heartbeat, modelVersion: 1).encoded(), stillOther.encoded()], peerAddress: nil))
        #expect(h.core.statusDocument(now: h.now).workers.first { $0.id == "stale" }?.modelSource == "unverified")
        // …and once it reports the registry's hash (after WEIGHTS), it is verified.
        let swapped = WorkerLoad(slots: 4, queued: 0, inputWidth: 2, modelSHA256: [UInt8](repeating: 0x22, count: 32))
        h.feed(.worker(identity: [0xA], frames: [Header(command: .heartbeat, modelVersion: 1).encoded(), swapped.encoded()], peerAddress: nil))
        let verified = try #require(h.core.statusDocument(now: h.now).workers.first { $0.id == "stale" })
        #expect(verified.modelSource == "registry" && verified.waitingForVersion == nil)
    }
}
