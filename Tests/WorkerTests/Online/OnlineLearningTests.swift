import RecModel
import RecPolicy
import RecWire
import Testing

@testable import Worker

@Suite("Online learning on the worker: POLICY, LEARN and POLICY_PULL")
struct OnlineLearningTests {
    @Test("POLICY installs the policy, serves it and reports the SHA-256 of its statistics")
    func installReportsTheServedNetwork() throws {
        let spec = onlineSpec()
        let online = manualOnlineLearning()
        let frames = try #require(online.perform(.install(try policyPayload(spec: spec, version: 1))))
        let (header, report, pack) = try decodePolicyState(frames)
        let served = try #require(online.snapshot.current)
        #expect(header.command == .policyState && !header.isReply && header.requestId == 0)
        #expect(report.kind == .installed && report.sync == 0 && report.version == 1)
        #expect(report.events == 0 && report.updates == 0)
        #expect(report.weightsSha256 == PolicyWeights.sha256(served.policy))
        #expect(report.weightsSha256 == PolicyWeights.sha256(try OnlinePolicy.initial(spec: spec)))
        #expect(pack == nil)
        #expect(served.version == 1 && served.learningEnabled)
    }

    @Test("after update_every events an update runs and the served snapshot holds the learnt statistics")
    func learningPublishesANewSnapshot() throws {
        let spec = onlineSpec(updateEvery: 4)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        let installed = PolicyWeights.sha256(try #require(online.snapshot.current).policy)
        let events = learnEvents(4, spec: spec)

        #expect(online.perform(.learn(WireJSON.encode(LearnBatch(events: Array(events[0..<3]))))) == nil)
        #expect(PolicyWeights.sha256(try #require(online.snapshot.current).policy) == installed)

        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: [events[3]]))))
        let served = try #require(online.snapshot.current)
        #expect(PolicyWeights.sha256(served.policy) != installed)
        #expect(served.version == 1)

        let (header, report, pack) = try decodePolicyState(try #require(online.perform(.pull(sync: 77))), base: online.state.withLock { $0.base })
        #expect(header.command == .policyState && header.requestId == 77 && header.status == .ok)
        #expect(report.kind == .sync && report.sync == 77 && report.version == 1)
        #expect(report.events == 4 && report.updates == 1)
        #expect(report.weightsSha256 == PolicyWeights.sha256(served.policy))
        #expect(pack == PolicyWeights.pack(served.policy))
    }

    @Test("one LEARN batch of several update_every events runs one update per update_every events")
    func batchesUpdateEveryKEvents() throws {
        let spec = onlineSpec(updateEvery: 4)
        var state = OnlineLearningState(seed: 2)
        _ = try state.install(
            PolicyInstall(version: 1, spec: spec, learningEnabled: true),
            pack: PolicyWeights.pack(try OnlinePolicy.initial(spec: spec)))
        #expect(state.learn(learnEvents(10, spec: spec)) == LearnOutcome(learnt: 10, dropped: 0, steps: 2))
        #expect(state.learn(learnEvents(2, spec: spec)) == LearnOutcome(learnt: 2, dropped: 0, steps: 1))
        #expect(state.syncReport(sync: 1).report.events == 12)
    }

    @Test("a frozen policy counts and drops LEARN events")
    func frozenDropsEvents() throws {
        let spec = onlineSpec(updateEvery: 1)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 3, learningEnabled: false)))
        let installed = PolicyWeights.sha256(try #require(online.snapshot.current).policy)

        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: learnEvents(10, spec: spec, version: 3)))))
        #expect(online.droppedEvents == 10)
        #expect(PolicyWeights.sha256(try #require(online.snapshot.current).policy) == installed)
        let (_, report, _) = try decodePolicyState(try #require(online.perform(.pull(sync: 1))), base: online.state.withLock { $0.base })
        #expect(report.version == 3 && report.events == 0 && report.updates == 0)
    }

    @Test(
        "a bad POLICY is rejected and the old policy keeps serving",
        arguments: ["wrong size", "no pack frame", "bad json", "version 0", "invalid spec", "no sha, damaged pack"])
    func badPolicyKeepsTheOld(kind: String) throws {
        let spec = onlineSpec()
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        let before = try #require(online.snapshot.current)

        var bad = try policyPayload(spec: spec, version: 2)
        switch kind {
        case "wrong size": bad[1] = ParameterPack(step: 0, vectors: [.init(name: "a", values: [1, 2, 3])]).encoded()
        case "no pack frame": bad.removeLast()
        case "bad json": bad[0] = Array("{\"version\": 2".utf8)
        case "version 0": bad = try policyPayload(spec: spec, version: 0)
        case "no sha, damaged pack":
            // A whole pack whose POLICY names no SHA-256 was installed unchecked: any bytes that decode were served.
            var pack = try ParameterPack(decoding: bad[1])
            pack.vectors[0].values[0] += 1
            bad[0] = WireJSON.encode(PolicyInstall(version: 2, spec: spec, learningEnabled: true))
            bad[1] = pack.encoded()
        default:
            var broken = spec
            broken.slateSize = 0
            bad[0] = WireJSON.encode(PolicyInstall(version: 2, spec: broken, learningEnabled: true))
        }
        // The broker is told why (POLICY_STATE refused), and the served policy stays.
        let report = try decodePolicyState(try #require(online.perform(.install(bad)))).1
        #expect(report.kind == .refused && report.error?.isEmpty == false, "\(report)")
        let after = try #require(online.snapshot.current)
        #expect(after.version == 1)
        #expect(PolicyWeights.sha256(after.policy) == PolicyWeights.sha256(before.policy))
    }

    @Test("a new version replaces the learner's statistics and restarts its counters")
    func reinstallRestartsCounters() throws {
        let spec = onlineSpec(updateEvery: 2)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: learnEvents(6, spec: spec)))))
        let learnt = try #require(online.snapshot.current).policy

        let averaged = PolicyWeights.pack(learnt)
        let frames = try #require(online.perform(.install(try policyPayload(spec: spec, version: 2, pack: averaged))))
        let (_, installed, _) = try decodePolicyState(frames)
        #expect(installed.version == 2 && installed.weightsSha256 == PolicyWeights.sha256(learnt))

        let (_, report, pack) = try decodePolicyState(try #require(online.perform(.pull(sync: 5))), base: online.state.withLock { $0.base })
        #expect(report.version == 2 && report.events == 0 && report.updates == 0)
        #expect(pack == averaged)
    }

    @Test("before any POLICY, LEARN is dropped and POLICY_PULL answers NOT_FOUND with no events")
    func nothingInstalled() throws {
        let spec = onlineSpec()
        let online = manualOnlineLearning()
        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: learnEvents(3, spec: spec)))))
        #expect(online.droppedEvents == 3)
        #expect(online.snapshot.current?.version == nil)
        let (header, report, pack) = try decodePolicyState(try #require(online.perform(.pull(sync: 9))), base: online.state.withLock { $0.base })
        #expect(header.status == .notFound && header.requestId == 9)
        #expect(report.kind == .sync && report.version == 0 && report.events == 0)
        #expect(pack?.vectors.isEmpty == true)
    }

    @Test("events whose context the spec rejects are dropped, the rest are learnt")
    func rejectedContextsAreDropped() throws {
        let spec = onlineSpec(updateEvery: 100)
        var state = OnlineLearningState(seed: 1)
        _ = try state.install(
            PolicyInstall(version: 1, spec: spec, learningEnabled: true),
            pack: PolicyWeights.pack(try OnlinePolicy.initial(spec: spec)))
        var events = learnEvents(3, spec: spec)
        events[1].userFeatures = ["no_such_feature": "x"]
        events[2].item = spec.itemCount
        #expect(state.learn(events) == LearnOutcome(learnt: 1, dropped: 2, steps: 0))
        #expect(state.droppedEvents == 2)
    }
}
