import RecPolicy
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

extension ParameterPack {
    /// This statistics pack with the rows of `buckets` changed (`n`, `s`, `k` and the row of `c`), as a replica's
    /// learning on items of those buckets changes them.
    func touching(_ buckets: [Int], by shift: Float) -> ParameterPack {
        var copy = self
        let width = copy["g"]?.count ?? 0
        for k in copy.vectors.indices {
            for b in buckets {
                switch copy.vectors[k].name {
                case "n", "s", "k": copy.vectors[k].values[b] += shift
                case "c": copy.vectors[k].values[b * width] += shift
                case "a", "g": copy.vectors[k].values[0] += shift
                default: break
                }
            }
        }
        return copy
    }
}

/// A machine whose version 1 is stored under its real SHA-256, with both replicas reporting it installed.
private func installedMachine() throws -> (OnlineMachine, ParameterPack, String) {
    var m = try OnlineMachine()
    let bytes = PolicyWeights.pack(m.core.policy).encoded()
    let sha = PolicyWeights.sha256(of: bytes)
    m.core.adopt(m.core.policy, version: 1, pack: bytes, sha: sha)
    _ = m.feed(.workers([m.workerA, m.workerB]))
    for worker in [m.workerA, m.workerB] {
        _ = m.feed(.policyState(identity: worker.identity, message: installedReport(version: 1, sha: sha)))
    }
    return (m, try ParameterPack(decoding: bytes), sha)
}

/// A POLICY_STATE `installed` message.
private func installedReport(version: UInt64, sha: String, catalogue: CatalogueReference? = nil) -> WireMessage {
    WireMessage(
        header: Header(command: .policyState),
        payload: [
            WireJSON.encode(
                PolicyStateReport(
                    kind: .installed, sync: 0, version: version, events: 0, updates: 0, weightsSha256: sha,
                    catalogue: catalogue))
        ])
}

/// Starts a sync with one learnt event and returns its id.
private func startSync(_ m: inout OnlineMachine) throws -> UInt64 {
    _ = m.feed(.impression(worker: "w-a", record: m.record("imp-d"), reply: nil))
    _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback("imp-d", item: 3)))
    _ = m.feed(.flush)
    _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
    _ = m.feed(.tick, nowMs: 1_000 + OnlineSettings().syncIntervalMs)
    guard case .pulling(let round, _, _) = m.core.phase else { throw CancellationError() }
    return round.id
}

/// A POLICY_STATE `sync` carrying `frame` for a replica whose whole pack is `pack`.
private func syncState(_ sync: UInt64, pack: ParameterPack, frame: [UInt8], events: Int = 2, version: UInt64 = 1)
    -> WireMessage
{
    let report = PolicyStateReport(
        kind: .sync, sync: sync, version: version, events: events, updates: 1,
        weightsSha256: PolicyWeights.sha256(of: pack.encoded()))
    return WireMessage(
        header: Header(command: .policyState, requestId: sync), payload: [WireJSON.encode(report), frame])
}

@Suite("Online core: statistics deltas both ways")
struct OnlineDeltaSyncTests {
    @Test("replica deltas merge bit-identically to whole packs, and the next POLICY carries only the changed rows")
    func deltasBothWays() throws {
        var (m, base, sha1) = try installedMachine()
        var whole = m
        let left = base.touching([3, 17], by: 0.5)
        let right = base.touching([17, 900], by: 0.25)
        let sync = try startSync(&m)
        _ = try startSync(&whole)
        var judged: [GuardCandidate] = []
        var judgedWhole: [GuardCandidate] = []
        for (worker, pack) in [(m.workerA, left), (m.workerB, right)] {
            let delta = try PolicyPackDelta.between(base: base, version: 1, sha256: sha1, target: pack)
            judged +=
                m.feed(
                    .policyState(
                        identity: worker.identity, message: syncState(sync, pack: pack, frame: delta.encoded()))
                )
                .judged
            judgedWhole +=
                whole.feed(
                    .policyState(identity: worker.identity, message: syncState(sync, pack: pack, frame: pack.encoded()))
                ).judged
        }
        let candidate = PolicyWeights.pack(try #require(judged.first).candidate)
        let expected = try PolicyWeights.merge(base: base, replicas: [left, right])
        #expect(candidate.encoded() == expected.encoded())
        #expect(candidate.encoded() == PolicyWeights.pack(try #require(judgedWhole.first).candidate).encoded())

        let stored = try #require(m.feed(.verdict(sync: sync, decision: OnlineMachine.admitted)).versionsToStore.first)
        let sha2 = PolicyWeights.sha256(of: stored.pack)
        let installs = m.feed(.versionStored(sync: sync, .success(sha2))).toWorkers(.policy)
        #expect(installs.count == 2)
        for install in installs {
            let document = try WireJSON.decode(PolicyInstall.self, from: install.message.frame(0))
            #expect(document.version == 2 && document.weightsSha256 == sha2)
            let frame = try install.message.frame(1)
            #expect(PolicyPackDelta.isDelta(frame))
            let delta = try PolicyPackDelta(decoding: frame)
            #expect(delta.baseVersion == 1 && delta.rows == [3, 17, 900])
            let rebuilt = try delta.apply(to: base, version: 1, sha256: sha1)
            #expect(PolicyWeights.sha256(of: rebuilt.encoded()) == sha2)
            #expect(frame.count < stored.pack.count / 4)
        }
    }

    @Test("an install report from a replica that is gone leaves no view and no delta base behind")
    func lateReportFromAGoneReplica() throws {
        var (m, _, sha) = try installedMachine()
        _ = m.feed(.workers([m.workerA]))
        #expect(m.core.installedBases[m.workerB.identity] == nil && m.core.replicas[m.workerB.identity] == nil)
        _ = m.feed(.policyState(identity: m.workerB.identity, message: installedReport(version: 1, sha: sha)))
        #expect(m.core.installedBases[m.workerB.identity] == nil, "a gone replica's delta base was recorded")
        #expect(m.core.replicas[m.workerB.identity] == nil, "a gone replica is in the status view")
        #expect(m.core.view.replicas.map(\.worker) == [m.workerA.id])
    }

    @Test("a replica with no reported base, another catalogue, or a refused delta gets the whole pack")
    func wholePackWhenTheBaseIsUnknown() throws {
        var (m, _, sha1) = try installedMachine()
        // A refused delta: the base is forgotten and the version is sent again whole, to that replica only.
        let refusal = WireMessage(
            header: Header(command: .policyState),
            payload: [
                WireJSON.encode(
                    PolicyStateReport(
                        kind: .deltaRefused, sync: 0, version: 1, events: 0, updates: 0, weightsSha256: "",
                        error: "statistics delta is against version 1 …"))
            ])
        let resent = m.feed(.policyState(identity: m.workerA.identity, message: refusal)).toWorkers(.policy)
        #expect(resent.map(\.identity) == [m.workerA.identity])
        #expect(try !PolicyPackDelta.isDelta(resent[0].message.frame(1)))
        #expect(try resent[0].message.frame(1) == m.core.pack)
        #expect(m.core.installedBases[m.workerA.identity] == nil)

        // Worker B still holds version 1: a POLICY of the same version is a delta of no rows.
        #expect(m.core.policyFrame(for: m.workerB.identity).deltaRows == 0)
        // Installed under another catalogue than the POLICY names: whole.
        let other = CatalogueReference(version: 4, sha256: String(repeating: "c", count: 64))
        _ = m.feed(
            .policyState(
                identity: m.workerB.identity, message: installedReport(version: 1, sha: sha1, catalogue: other)))
        #expect(m.core.policyFrame(for: m.workerB.identity).deltaRows == nil)
        // A base SHA-256 the broker does not hold for that version: whole.
        _ = m.feed(.policyState(identity: m.workerB.identity, message: installedReport(version: 1, sha: "f00")))
        #expect(m.core.policyFrame(for: m.workerB.identity).bytes == m.core.pack)
    }

    @Test("a sync delta from a base the broker does not hold, or a pack (whole or rebuilt) of another hash, is not merged")
    func badSyncDeltas() throws {
        var (m, base, sha1) = try installedMachine()
        let learnt = base.touching([5], by: 1)
        let wrongBase = try PolicyPackDelta.between(
            base: base, version: 1, sha256: String(repeating: "e", count: 64), target: learnt)
        let report = PolicyStateReport(
            kind: .sync, sync: 1, version: 1, events: 1, updates: 1,
            weightsSha256: PolicyWeights.sha256(of: learnt.encoded()))
        #expect(throws: PolicyDeltaError.unknownBase(version: 1, sha256: wrongBase.baseSha256, held: 1)) {
            try m.core.syncPack(wrongBase.encoded(), report: report)
        }
        let good = try PolicyPackDelta.between(base: base, version: 1, sha256: sha1, target: learnt)
        var lying = report
        lying.weightsSha256 = sha1
        #expect(throws: PolicyDeltaError.shaMismatch(expected: sha1, got: report.weightsSha256)) {
            try m.core.syncPack(good.encoded(), report: lying)
        }
        #expect(try m.core.syncPack(good.encoded(), report: report) == learnt)
        #expect(throws: PolicyDeltaError.self) { try m.core.syncPack([1, 2, 3], report: report) }
        // A whole pack is held to its declared hash as a rebuilt one is: it was stored and served as the next version.
        #expect(try m.core.syncPack(learnt.encoded(), report: report) == learnt)
        let other = base.touching([6], by: 1)
        #expect(
            throws: PolicyDeltaError.shaMismatch(
                expected: report.weightsSha256, got: PolicyWeights.sha256(of: other.encoded()))
        ) {
            try m.core.syncPack(other.encoded(), report: report)
        }

        // A whole pack with a vector the statistics do not have (`zz`), hashed as sent: the merge walked the served
        // pack's vectors only, so the extra was dropped unread and the merged version stored under a new number
        // with the weights of the one before.
        var extra = learnt
        extra.vectors.append(ParameterPack.Vector(name: "zz", values: [1, 2, 3]))
        var extraReport = report
        extraReport.weightsSha256 = PolicyWeights.sha256(of: extra.encoded())
        #expect {
            try m.core.syncPack(extra.encoded(), report: extraReport)
        } throws: { error in
            "\(error)".contains("vectors the statistics do not have: zz")
        }

        // In a sync, such a replica's learning is left out: with no other contribution nothing is judged.
        let sync = try startSync(&m)
        var judged: [GuardCandidate] = []
        judged +=
            m.feed(
                .policyState(
                    identity: m.workerA.identity, message: syncState(sync, pack: learnt, frame: wrongBase.encoded()))
            )
            .judged
        judged +=
            m.feed(
                .policyState(
                    identity: m.workerB.identity,
                    message: syncState(sync, pack: learnt, frame: base.touching([6], by: 1).encoded()))
            )
            .judged
        #expect(judged.isEmpty && !m.core.syncing)
    }

    @Test("a sync report's event count: a negative one is not merged, an enormous one saturates instead of trapping")
    func eventCounts() throws {
        var (m, base, _) = try installedMachine()
        let left = base.touching([3], by: 0.5)
        let right = base.touching([9], by: 0.25)
        var sync = try startSync(&m)
        var judged =
            m.feed(.policyState(identity: m.workerA.identity, message: syncState(sync, pack: left, frame: left.encoded(), events: -4)))
            .judged
        judged +=
            m.feed(.policyState(identity: m.workerB.identity, message: syncState(sync, pack: right, frame: right.encoded())))
            .judged
        // Only the valid report's learning is judged.
        let candidate = PolicyWeights.pack(try #require(judged.first).candidate)
        #expect(candidate.encoded() == (try PolicyWeights.merge(base: base, replicas: [right])).encoded())

        (m, base, _) = try installedMachine()
        sync = try startSync(&m)
        _ = m.feed(
            .policyState(
                identity: m.workerA.identity,
                message: syncState(sync, pack: left, frame: left.encoded(), events: Int.max)))
        judged = m.feed(.policyState(identity: m.workerB.identity, message: syncState(sync, pack: right, frame: right.encoded())))
            .judged
        #expect(judged.count == 1)
        guard case .judging(_, _, let contributors, let events) = m.core.phase else {
            Issue.record("expected the sync to be judged, got \(m.core.phase)")
            return
        }
        #expect(contributors == 2 && events == Int.max)
    }
}
