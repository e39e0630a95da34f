import RecPolicy
import RecWire
import Testing

@testable import Worker

/// A POLICY payload whose frame 2 is the delta from `base` to `target`, naming `sha` (default: the target's).
private func deltaPayload(
    spec: OnlinePolicySpec, version: UInt64, base: InstalledBase, target: ParameterPack, sha: String? = nil,
    baseVersion: UInt64? = nil
) throws -> [[UInt8]] {
    let delta = try PolicyPackDelta.between(
        base: base.pack, version: baseVersion ?? base.version, sha256: base.sha256, target: target)
    let install = PolicyInstall(
        version: version, spec: spec, learningEnabled: true,
        weightsSha256: sha ?? PolicyWeights.sha256(of: target.encoded()))
    return [WireJSON.encode(install), delta.encoded()]
}

@Suite("Worker: POLICY and POLICY_STATE statistics deltas")
struct PolicyDeltaInstallTests {
    @Test("POLICY_PULL answers the rows changed since the installed version; a POLICY delta installs bit for bit")
    func deltaBothWays() throws {
        let spec = onlineSpec(updateEvery: 2)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        let base = try #require(online.state.withLock { $0.base })
        #expect(base.version == 1 && base.sha256 == PolicyWeights.sha256(of: base.pack.encoded()))
        let events = learnEvents(6, spec: spec)
        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: events))))

        let frames = try #require(online.perform(.pull(sync: 3)))
        #expect(PolicyPackDelta.isDelta(frames[2]))
        let delta = try PolicyPackDelta(decoding: frames[2])
        #expect(delta.baseVersion == 1 && !delta.rows.isEmpty && delta.rows.count <= events.count)
        let (_, report, pack) = try decodePolicyState(frames, base: base)
        let learnt = try #require(pack)
        #expect(report.weightsSha256 == PolicyWeights.sha256(of: learnt.encoded()))
        #expect(learnt == online.state.withLock { $0.syncReport(sync: 3).pack })

        // The broker's next version, sent as the delta from version 1: installed, and it is the new base.
        let next = learnt
        let installed = try #require(
            online.perform(.install(try deltaPayload(spec: spec, version: 2, base: base, target: next))))
        let (_, done, _) = try decodePolicyState(installed)
        #expect(done.kind == .installed && done.version == 2)
        #expect(done.weightsSha256 == PolicyWeights.sha256(of: next.encoded()))
        let newBase = try #require(online.state.withLock { $0.base })
        #expect(newBase.version == 2 && newBase.pack == next)
        // Nothing learnt since: the sync answer is a delta of no rows.
        let idle = try #require(online.perform(.pull(sync: 4)))
        #expect(try PolicyPackDelta(decoding: idle[2]).rows.isEmpty)
    }

    /// A helper's case: a freeze right after a sync sent each replica the served version again, built as a delta
    /// against the version before (the broker had not read the replica's `installed` report yet). The replica, which
    /// held the served version already, refused it, logged an error, and the whole pack went out again.
    @Test("a POLICY delta of the version the replica installed already, against the one before, installs that version")
    func deltaOfTheInstalledVersion() throws {
        let spec = onlineSpec(updateEvery: 2)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        let first = try #require(online.state.withLock { $0.base })
        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: learnEvents(6, spec: spec)))))
        let next = online.state.withLock { $0.syncReport(sync: 3).pack }
        let sync = try deltaPayload(spec: spec, version: 2, base: first, target: next)
        _ = try #require(online.perform(.install(sync)))
        // Learnt after the install: the freeze's POLICY drops it.
        _ = online.perform(.learn(WireJSON.encode(LearnBatch(events: learnEvents(4, spec: spec)))))
        #expect(online.state.withLock { $0.syncReport(sync: 4).pack } != next)
        let again = try decodePolicyState(try #require(online.perform(.install(sync)))).1
        #expect(again.kind == .installed && again.version == 2 && again.error == nil)
        #expect(again.weightsSha256 == PolicyWeights.sha256(of: next.encoded()))
        #expect(online.state.withLock { $0.syncReport(sync: 5).pack } == next)
        // A delta against a version never held, for a version not installed, is still refused.
        let stray = try deltaPayload(spec: spec, version: 3, base: first, target: next)
        #expect(try decodePolicyState(try #require(online.perform(.install(stray)))).1.kind == .deltaRefused)
    }

    @Test(
        "a POLICY delta that cannot be used installs nothing and asks for the whole pack",
        arguments: ["unknown base", "sha mismatch", "no sha", "bad rows"])
    func refusedDelta(kind: String) throws {
        let spec = onlineSpec(updateEvery: 1)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        let base = try #require(online.state.withLock { $0.base })
        let before = try #require(online.snapshot.current)
        let target = try PolicyPackDelta.between(base: base.pack, version: 1, sha256: base.sha256, target: base.pack)
            .apply(to: base.pack, version: 1, sha256: base.sha256)
        var payload: [[UInt8]]
        switch kind {
        case "unknown base":
            payload = try deltaPayload(spec: spec, version: 2, base: base, target: target, baseVersion: 7)
        case "sha mismatch":
            payload = try deltaPayload(
                spec: spec, version: 2, base: base, target: target, sha: String(repeating: "0", count: 64))
        case "no sha":
            payload = try deltaPayload(spec: spec, version: 2, base: base, target: target)
            payload[0] = WireJSON.encode(PolicyInstall(version: 2, spec: spec, learningEnabled: true))
        default:
            var delta = try PolicyPackDelta.between(base: base.pack, version: 1, sha256: base.sha256, target: target)
            delta.rows = [0, 0]
            delta.n = [1, 1]
            delta.s = [0, 0]
            delta.k = [1, 1]
            delta.c = [Float](repeating: 0, count: 2 * delta.width)
            payload = try deltaPayload(spec: spec, version: 2, base: base, target: target)
            payload[1] = delta.encoded()
        }
        let frames = try #require(online.perform(.install(payload)))
        let (_, report, _) = try decodePolicyState(frames)
        #expect(report.kind == .deltaRefused && report.version == 2)
        let error = try #require(report.error)
        switch kind {
        case "unknown base": #expect(error.contains("against version 7") && error.contains("held: version 1"))
        case "sha mismatch": #expect(error.contains("hash to"))
        case "no sha": #expect(error.contains("weights_sha256"))
        default: #expect(error.contains("bucket 0 twice"))
        }
        let after = try #require(online.snapshot.current)
        #expect(after.version == 1 && PolicyWeights.sha256(after.policy) == PolicyWeights.sha256(before.policy))
        #expect(online.state.withLock { $0.base } == base)
    }

    @Test("a whole pack that does not hash to the POLICY's weights_sha256 is rejected")
    func wholePackShaMismatch() throws {
        let spec = onlineSpec()
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        var payload = try policyPayload(spec: spec, version: 2)
        payload[0] = WireJSON.encode(
            PolicyInstall(
                version: 2, spec: spec, learningEnabled: true, weightsSha256: String(repeating: "1", count: 64)))
        let refused = try decodePolicyState(try #require(online.perform(.install(payload)))).1
        #expect(refused.kind == .refused && refused.version == 2 && refused.error?.contains("hashes to") == true)
        #expect(online.snapshot.current?.version == 1)
        // The right hash installs.
        let sha = PolicyWeights.sha256(of: payload[1])
        payload[0] = WireJSON.encode(PolicyInstall(version: 2, spec: spec, learningEnabled: true, weightsSha256: sha))
        #expect(online.perform(.install(payload)) != nil)
        #expect(online.snapshot.current?.version == 2)
    }
}

/// A whole POLICY the worker refuses (a spec out of range, a pack that does not decode, an install that does not
/// decode) was logged and answered with nothing, so the broker never learnt why the replica did not serve it.
@Suite("Worker: a POLICY it cannot install")
struct RefusedPolicyInstallTests {
    @Test("is answered POLICY_STATE refused with its version and why; the served policy stays", arguments: [
        "slate size 0", "epsilon 2", "pack", "install",
    ])
    func refused(kind: String) throws {
        let spec = onlineSpec(updateEvery: 1)
        let online = manualOnlineLearning()
        _ = online.perform(.install(try policyPayload(spec: spec, version: 1)))
        var payload = try policyPayload(spec: spec, version: 2)
        switch kind {
        case "slate size 0":
            var bad = spec
            bad.slateSize = 0
            payload[0] = WireJSON.encode(PolicyInstall(version: 2, spec: bad, learningEnabled: true))
        case "epsilon 2":
            var bad = spec
            bad.exploration.epsilon = 2
            payload[0] = WireJSON.encode(PolicyInstall(version: 2, spec: bad, learningEnabled: true))
        case "pack": payload[1] = Array("not a pack".utf8)
        default: payload[0] = Array("{".utf8)
        }
        let frames = try #require(online.perform(.install(payload)))
        let (header, report, _) = try decodePolicyState(frames)
        #expect(header.command == .policyState)
        #expect(report.kind == .refused && report.version == (kind == "install" ? 0 : 2), "\(report)")
        #expect(report.error?.isEmpty == false)
        #expect(online.snapshot.current?.version == 1)
    }
}
