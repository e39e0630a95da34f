import Testing

@testable import BrokerCore
@testable import RecWire

/// While the broker runs online learning, RECOMMEND goes only to replicas that reported an installed policy: a
/// replica still waiting for its first POLICY would answer from its model path (an error, or a ranking with no
/// impression id), which is not the served policy's answer.
@Suite("RECOMMEND routing to installed policy replicas")
struct PolicyReplicaRoutingTests {
    static let client: [UInt8] = [0xC1]

    static func registerOnline(_ h: inout CoreHarness, _ identity: [UInt8]) {
        let hello = WorkerHello(
            workerId: "p\(identity[0])", services: ["SCORE", "RECOMMEND", "POLICY"], slots: 16, inputWidth: 2,
            modelVersion: 0, host: "h", pid: Int32(identity[0]))
        h.feed(
            .worker(
                identity: identity,
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
    }

    static func recommend(_ h: inout CoreHarness, id: UInt64) {
        let message = WireMessage(header: Header(command: .recommend, requestId: id), payload: [Array("{}".utf8)])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
    }

    static func recommendsSent(_ h: CoreHarness) -> [[UInt8]] {
        h.sentToWorkers.filter { $0.message.header.command == .recommend && !$0.message.header.isReply }.map(\.identity)
    }

    @Test("before any replica installs the policy a RECOMMEND waits; it goes to the first replica that installs it")
    func waitsForAnInstalledReplica() {
        var h = CoreHarness()
        h.feed(.policyReplicas([]))
        Self.registerOnline(&h, [0xA])
        Self.registerOnline(&h, [0xB])
        for id in 1...4 { Self.recommend(&h, id: UInt64(id)) }
        #expect(Self.recommendsSent(h).isEmpty)
        #expect(h.sentToClients.isEmpty)
        h.feed(.policyReplicas([[0xB]]))
        #expect(Self.recommendsSent(h) == Array(repeating: [0xB], count: 4))
        for id in 5...12 { Self.recommend(&h, id: UInt64(id)) }
        #expect(Set(Self.recommendsSent(h)) == [[0xB]])
        // Once both installed, both take RECOMMEND.
        h.feed(.policyReplicas([[0xA], [0xB]]))
        let before = Self.recommendsSent(h).count
        for id in 13...40 { Self.recommend(&h, id: UInt64(id)) }
        let after = Self.recommendsSent(h).dropFirst(before)
        // As many as their free slots allow (no replies yet): A's 16 and the 4 B has left of its 16.
        #expect(after.count == 20)
        #expect(after.contains([0xA]) && after.contains([0xB]))
    }

    /// Two replicas on version 0 with different checkpoint files: for RECOMMEND the checkpoint names the model, so
    /// the first-registered one's number would bench the other. Over an online policy the slate comes from the
    /// policy, which every replica that installed it serves the same, so the one that installed it is never benched
    /// for the one that has not.
    @Test("a replica that installed the policy is not benched by an earlier one on another checkpoint that has not")
    func installedReplicaIsNotBenchedForAnotherCheckpoint() {
        var h = CoreHarness()
        h.feed(.policyReplicas([]))
        for (identity, sha) in [([UInt8(0xA)], String(repeating: "a", count: 64)), ([0xB], String(repeating: "b", count: 64))] {
            let hello = WorkerHello(
                workerId: "p\(identity[0])", services: ["SCORE", "RECOMMEND", "POLICY"], slots: 16, inputWidth: 2,
                modelVersion: 0, host: "h", pid: Int32(identity[0]), modelSha256: sha)
            h.feed(
                .worker(
                    identity: identity,
                    frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                    peerAddress: "127.0.0.1"))
        }
        h.feed(.policyReplicas([[0xB]]))
        for id in 1...6 { Self.recommend(&h, id: UInt64(id)) }
        #expect(Self.recommendsSent(h) == Array(repeating: [0xB], count: 6))
        #expect(h.sentToClients.isEmpty)
        // Without online learning the checkpoint still decides: the first one's model serves version 0.
        var g = CoreHarness()
        for (identity, sha) in [([UInt8(0xA)], String(repeating: "a", count: 64)), ([0xB], String(repeating: "b", count: 64))] {
            let hello = WorkerHello(
                workerId: "p\(identity[0])", services: ["RECOMMEND"], slots: 16, inputWidth: 2, modelVersion: 0,
                host: "h", pid: Int32(identity[0]), modelSha256: sha)
            g.feed(
                .worker(
                    identity: identity,
                    frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                    peerAddress: "127.0.0.1"))
        }
        for id in 1...6 { Self.recommend(&g, id: UInt64(id)) }
        #expect(Self.recommendsSent(g) == Array(repeating: [0xA], count: 6))
    }

    /// Workers left running from another state directory claimed model version 3, which this broker's registry does
    /// not hold: every policy slate was refused CONFLICT ("no live worker holds a registered model") for as long as
    /// they ran, though the slate comes from the policy they had installed, not from that model.
    @Test("a replica whose model claim the registry does not hold, or on the seeded model during a rollout, serves slates")
    func modelClaimDoesNotDecidePolicySlates() {
        var h = CoreHarness()
        h.core.registeredModels = [1: String(repeating: "1", count: 64)]
        h.feed(.policyReplicas([]))
        let hello = WorkerHello(
            workerId: "stale", services: ["SCORE", "RECOMMEND", "POLICY"], slots: 16, inputWidth: 2, modelVersion: 3,
            host: "h", pid: 7, modelSha256: String(repeating: "3", count: 64))
        h.feed(
            .worker(
                identity: [0xA],
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
        Self.registerOnline(&h, [0xB])  // the seeded model (version 0)
        h.feed(.rollout(version: 1, frames: []))
        h.feed(.policyReplicas([[0xA], [0xB]]))
        for id in 1...4 { Self.recommend(&h, id: UInt64(id)) }
        #expect(Set(Self.recommendsSent(h)) == [[0xA], [0xB]])
        #expect(h.sentToClients.isEmpty)
        // A RECOMMEND pinned to a model version is judged against the replica's model number, which must then be the
        // registry's: the stale claim of 3 does not take a pin of 2.
        let pinned = WireMessage(
            header: Header(command: .recommend, requestId: 20, modelVersion: 2), payload: [Array("{}".utf8)])
        let before = Self.recommendsSent(h).count
        h.feed(.client(identity: Self.client, frames: pinned.frames(), userId: nil))
        #expect(Self.recommendsSent(h).count == before)
        // SCORE still goes by the model: neither holds a registered version, so neither takes it.
        IdentityCoreTests.score(&h, from: Self.client, id: 9, cols: 2)
        #expect(h.dispatches.isEmpty)
    }

    @Test("a RECOMMEND no installed replica takes is answered CONFLICT naming why, after the no-worker timeout")
    func refusedWithTheReasonAfterTheTimeout() throws {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 200 }
        h.feed(.policyReplicas([]))
        Self.registerOnline(&h, [0xA])
        Self.recommend(&h, id: 7)
        h.advance(ms: 300)
        h.feed(.tick)
        let reply = try #require(h.replies(to: Self.client, id: 7).first)
        #expect(reply.header.status == .conflict)
        let text = String(decoding: try reply.frame(0), as: UTF8.self)
        #expect(text.contains("no live worker has installed the online policy yet"))
        #expect(Self.recommendsSent(h).isEmpty)
    }

    @Test("SCORE is not held back: only RECOMMEND needs an installed policy")
    func scoreIsUnaffected() {
        var h = CoreHarness()
        h.feed(.policyReplicas([]))
        Self.registerOnline(&h, [0xA])
        IdentityCoreTests.score(&h, from: Self.client, id: 1, cols: 2)
        #expect(h.dispatches.map(\.identity) == [[0xA]])
    }

    @Test("a broker without online learning (nil) routes RECOMMEND to every worker offering it, as before")
    func withoutOnlineLearningEveryWorkerTakesIt() {
        var h = CoreHarness()
        Self.registerOnline(&h, [0xA])
        Self.registerOnline(&h, [0xB])
        for id in 1...8 { Self.recommend(&h, id: UInt64(id)) }
        #expect(Set(Self.recommendsSent(h)) == [[0xA], [0xB]])
        // Online learning switched off again: the same.
        var g = CoreHarness()
        g.feed(.policyReplicas([]))
        g.feed(.policyReplicas(nil))
        Self.registerOnline(&g, [0xA])
        Self.recommend(&g, id: 1)
        #expect(Self.recommendsSent(g) == [[0xA]])
    }
}
