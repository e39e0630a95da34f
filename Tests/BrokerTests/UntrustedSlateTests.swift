import RecPolicy
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// A policy worker's RECOMMEND reply carries two documents: the slate the client is sent and the impression record the
/// log keeps, against which FEEDBACK is checked. The broker logged the record and forwarded the slate without comparing
/// them, took a policy version the pool never served, and logged an item beyond the simulator's world, after which
/// the log's first page could not be read. Each is now refused before anything is stored, and its client answered
/// INTERNAL.
@Suite("Slates the broker will not log as served")
struct UntrustedSlateTests {
    /// A record of the machine's served version showing `slate`.
    static func record(
        _ m: OnlineMachine, _ id: String = "imp-u", slate: [Int] = [3, 7, 9], version: UInt64? = nil
    ) -> ImpressionRecord {
        ImpressionRecord(
            impressionId: id, createdMs: 1_000, version: version ?? m.core.version,
            userFeatures: ["user_feature_0": "u0_01"], slate: slate, propensities: [0.5, 0.25, 0.1],
            scores: [0.1, 0.05, 0.01])
    }

    /// Feeds `record` with the held reply `frames`; returns the refusal's text, or nil when the slate was queued.
    static func refusal(_ m: inout OnlineMachine, _ record: ImpressionRecord, frames: [[UInt8]]) -> String? {
        let actions = m.feed(
            .impression(worker: "w-a", record: WireJSON.encode(record), reply: HeldSlate(client: [9], frames: frames)))
        guard let reply = actions.heldReplies.first else { return nil }
        #expect(reply.header.status == .internal && reply.header.requestId == 41)
        // The worker's fault: named, and answered as an invalid reply, which the core counts.
        #expect(actions.invalidSlateReplies.count == 1)
        #expect(reply.errorText?.hasPrefix("worker w-a sent an invalid reply: ") == true, "\(reply.errorText ?? "")")
        #expect(m.feed(.flush).commits.allSatisfy { $0.impressions.isEmpty }, "nothing of a refused slate is stored")
        return reply.errorText
    }

    @Test("a slate that matches its record, with or without the catalogue's ids, is queued for the log")
    func matching() throws {
        var m = try OnlineMachine()
        let record = Self.record(m)
        #expect(Self.refusal(&m, record, frames: HeldSlateFixtures.frames(for: record, requestId: 41)) == nil)
        #expect(m.feed(.flush).commits.map { $0.impressions.map(\.id) } == [["imp-u"]])
        let named = Self.record(m, "imp-n")
        var frames = HeldSlateFixtures.frames(for: named, requestId: 41)
        var slate = try WireJSON.decode(PolicyRecommendation.self, from: frames[1])
        for k in slate.items.indices { slate.items[k].id = SimulatorCatalog.itemId(slate.items[k].item) }
        frames[1] = WireJSON.encode(slate)
        #expect(Self.refusal(&m, named, frames: frames) == nil)
    }

    @Test(
        "a slate that is not the impression its record logs is refused naming what differs",
        arguments: [
            ("items", "shows items [1, 2, 3], its impression record logs [3, 7, 9]"),
            ("id", "names impression imp-other, its impression record imp-u"),
            ("propensity", "gives propensities"),
            ("header version", "names policy version 1 (header 5), its impression record 1"),
            ("not json", "does not decode"),
            ("no slate", "is not one header and one slate document (1 frames)"),
            ("position", "numbers its slots [0, 7, 2], not 0, 1, 2, … from the top"),
            // A shop reads the id: one under another row's number sends it to the wrong product.
            ("catalogue id", "names item 7 as 'item_09', which the served catalogue calls 'item_07'"),
        ])
    func mismatch(change: String, problem: String) throws {
        var m = try OnlineMachine()
        let record = Self.record(m)
        var shown = record
        var frames: [[UInt8]]
        switch change {
        case "items": shown.slate = [1, 2, 3]
        case "id": shown.impressionId = "imp-other"
        case "propensity": shown.propensities = [0.5, 0.3, 0.1]
        default: break
        }
        frames = HeldSlateFixtures.frames(for: shown, requestId: 41)
        if change == "header version" {
            var header = try Header(decoding: frames[0])
            header.modelVersion = 5
            frames[0] = header.encoded()
        }
        if change == "not json" { frames[1] = Array("not json at all".utf8) }
        if change == "no slate" { frames = [frames[0]] }
        if change == "position" || change == "catalogue id" {
            var slate = try WireJSON.decode(PolicyRecommendation.self, from: frames[1])
            if change == "position" { slate.items[1].position = 7 } else { slate.items[1].id = "item_09" }
            frames[1] = WireJSON.encode(slate)
        }
        let text = try #require(Self.refusal(&m, record, frames: frames))
        #expect(text.contains(problem), "\(text)")
        #expect(text.contains("feedback on it could not be taken"), "\(text)")
    }

    /// A helper's fake worker answered a request naming no `top` with a 10- and a 40-item slate under a `slate_size` of
    /// 3: both were forwarded and logged with their propensities.
    @Test(
        "a slate longer than the request's top, or than slate_size when it names none, is refused and not logged",
        arguments: [
            (RequestedTop.slateSize, 4, "shows 4 items for a request that names no top, more than the policy's slate_size 3"),
            (.given(2), 3, "shows 3 items, the request asked for at most 2"),
        ])
    func longerThanAsked(top: RequestedTop, length: Int, problem: String) throws {
        var m = try OnlineMachine()
        #expect(m.core.spec.slateSize == 3)
        var record = Self.record(m, slate: Array(0..<length))
        record.propensities = [Double](repeating: 0.01, count: length)
        record.scores = [Double](repeating: 0.01, count: length)
        let frames = HeldSlateFixtures.frames(for: record, requestId: 41)
        let actions = m.feed(
            .impression(
                worker: "w-a", record: WireJSON.encode(record), reply: HeldSlate(client: [9], frames: frames, top: top)))
        let reply = try #require(actions.heldReplies.first)
        #expect(reply.header.status == .internal && reply.errorText?.contains(problem) == true, "\(reply.errorText ?? "")")
        #expect(m.feed(.flush).commits.allSatisfy { $0.impressions.isEmpty })
        // The same slate within what the request asked for is logged.
        let fits: RequestedTop = .given(length)
        record.impressionId = "imp-fits"
        let fitting = m.feed(
            .impression(
                worker: "w-a", record: WireJSON.encode(record),
                reply: HeldSlate(client: [9], frames: HeldSlateFixtures.frames(for: record, requestId: 42), top: fits)))
        #expect(fitting.heldReplies.isEmpty)
        // A request past the reactor's read limit: only the largest top any request may ask for bounds it.
        #expect(m.core.lengthProblem(100, asked: .notRead) == nil)
        #expect(m.core.lengthProblem(101, asked: .notRead) == "shows 101 items, more than any request may ask for (100)")
    }

    @Test("a record of a policy version the pool never served is refused", arguments: [UInt64(0), 2, 99])
    func unservedVersion(version: UInt64) throws {
        var m = try OnlineMachine()
        #expect(m.core.version == 1)
        let record = Self.record(m, version: version)
        let text = try #require(Self.refusal(&m, record, frames: HeldSlateFixtures.frames(for: record, requestId: 41)))
        #expect(text.contains("names policy version \(version), which this pool never served (it serves 1)"), "\(text)")
    }

    @Test("in the simulator's world, an item beyond its items is refused before it can poison the log")
    func itemBeyondTheWorld() throws {
        var m = try OnlineMachine()
        #expect(m.core.catalogue == nil)
        let items = m.core.spec.itemCount
        let record = Self.record(m, slate: [3, items, 9])
        let text = try #require(Self.refusal(&m, record, frames: HeldSlateFixtures.frames(for: record, requestId: 41)))
        #expect(text.contains("names item \(items), beyond the \(items) items the pool serves"), "\(text)")
        // Without a reply (a record alone), nothing is logged either.
        _ = m.feed(.impression(worker: "w-a", record: WireJSON.encode(record), reply: nil))
        #expect(m.feed(.flush).commits.allSatisfy { $0.impressions.isEmpty })
    }

    /// A replica reporting a version the pool never had, or the served version under other weights, was routed
    /// RECOMMEND and its slates went out under that number.
    @Test(
        "an install report of a version the pool did not send keeps the replica out of RECOMMEND's routing",
        arguments: [(UInt64(99), "sha-1"), (UInt64(1), "abab"), (UInt64(0), "sha-1")])
    func unsentInstall(version: UInt64, sha: String) throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA]))
        func install(_ version: UInt64, _ sha: String) -> [OnlineAction] {
            let report = PolicyStateReport(
                kind: .installed, sync: 0, version: version, events: 0, updates: 0, weightsSha256: sha)
            var actions = m.feed(
                .policyState(
                    identity: m.workerA.identity,
                    message: WireMessage(header: Header(command: .policyState), payload: [WireJSON.encode(report)])))
            actions += m.feed(.tick)
            return actions
        }
        #expect(PolicyReplicaViewTests.published(install(1, "sha-1")).last == .some([m.workerA.identity]))
        #expect(PolicyReplicaViewTests.published(install(version, sha)).last == .some([]))
        #expect(m.core.replicas[m.workerA.identity] == nil)
    }
}
