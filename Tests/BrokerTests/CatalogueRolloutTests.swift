import BrokerCore
import RecWire
import Testing

@testable import Broker

/// ``CatalogueRollout``: a catalogue change is acknowledged only once every live policy-serving worker has it.
@Suite("Catalogue rollout")
struct CatalogueRolloutTests {
    static let a = TrainingWorker(identity: [1], id: "a", online: true)
    static let b = TrainingWorker(identity: [2], id: "b", online: true)
    static let trainer = TrainingWorker(identity: [3], id: "t", online: false)
    static let header = Header(command: .control, requestId: 9)

    static func installed(_ version: UInt64) -> CatalogueState {
        CatalogueState(version: version, sha256: "s\(version)", installed: true, error: nil)
    }

    static func acknowledgements(_ actions: [CatalogueRollout.Action]) -> [(UInt64, Bool)] {
        actions.compactMap {
            if case .acknowledge(_, _, let version, let confirmed) = $0 { return (version, confirmed) }
            return nil
        }
    }

    @Test("every live worker gets the version; the acknowledgement waits for each serving worker's confirmation")
    func waitsForEveryReplica() {
        var rollout = CatalogueRollout()
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([Self.a, Self.b, Self.trainer], nowMs: 0, into: &actions)
        #expect(actions.isEmpty)
        rollout.stored(1, requester: ([7], Self.header), nowMs: 0, into: &actions)
        #expect(actions == [.install(worker: [1], version: 1), .install(worker: [2], version: 1), .install(worker: [3], version: 1)])
        actions = []
        rollout.state(Self.installed(1), from: [1], expectedSHA: "s1", nowMs: 1, into: &actions)
        #expect(actions.isEmpty)
        // A confirmation with another hash does not count; the version is sent again.
        rollout.state(
            CatalogueState(version: 1, sha256: "bad", installed: false, error: "hash"), from: [2], expectedSHA: "s1",
            nowMs: 2, into: &actions)
        #expect(actions == [.install(worker: [2], version: 1)])
        actions = []
        rollout.state(Self.installed(1), from: [2], expectedSHA: "s1", nowMs: 3, into: &actions)
        #expect(actions == [.acknowledge(identity: [7], header: Self.header, version: 1, confirmed: true)])
    }

    @Test("a worker that refuses every copy is sent the version again at most maximumResends times, then acknowledged unconfirmed")
    func boundedResends() {
        var rollout = CatalogueRollout()
        rollout.timeoutMs = 100
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([Self.a], nowMs: 0, into: &actions)
        rollout.stored(1, requester: ([7], Self.header), nowMs: 0, into: &actions)
        actions = []
        let refusal = CatalogueState(version: 1, sha256: "", installed: false, error: "cannot decode")
        for step in 0..<50 { rollout.state(refusal, from: [1], expectedSHA: "s1", nowMs: UInt64(1 + step), into: &actions) }
        #expect(actions == [CatalogueRollout.Action](repeating: .install(worker: [1], version: 1), count: CatalogueRollout.maximumResends))
        actions = []
        rollout.tick(nowMs: 200, into: &actions)
        #expect(actions == [.acknowledge(identity: [7], header: Self.header, version: 1, confirmed: false)])
        // Registering again starts the count afresh.
        rollout.workers([], nowMs: 201, into: &actions)
        rollout.workers([Self.a], nowMs: 202, into: &actions)
        actions = []
        rollout.state(refusal, from: [1], expectedSHA: "s1", nowMs: 203, into: &actions)
        #expect(actions == [.install(worker: [1], version: 1)])
    }

    @Test("a worker that leaves stops counting; a new worker gets the newest version at once")
    func membership() {
        var rollout = CatalogueRollout()
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([Self.a, Self.b], nowMs: 0, into: &actions)
        rollout.stored(4, requester: ([7], Self.header), nowMs: 0, into: &actions)
        actions = []
        rollout.state(Self.installed(4), from: [1], expectedSHA: "s4", nowMs: 1, into: &actions)
        rollout.workers([Self.a], nowMs: 2, into: &actions)
        #expect(Self.acknowledgements(actions).map(\.0) == [4])
        actions = []
        rollout.workers([Self.a, Self.b], nowMs: 3, into: &actions)
        #expect(actions == [.install(worker: [2], version: 4)])
        #expect(!rollout.allConfirmed(4))
    }

    /// A worker that sent READY again within one tick kept its identity and its confirmation here, though its new
    /// registration had forgotten the version: the newest one was never sent again.
    @Test("a worker registered again is sent the newest version, and its earlier confirmation no longer counts")
    func registeredAgain() {
        var rollout = CatalogueRollout()
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([Self.a, Self.b], nowMs: 0, into: &actions)
        rollout.stored(4, requester: ([7], Self.header), nowMs: 0, into: &actions)
        rollout.state(Self.installed(4), from: [1], expectedSHA: "s4", nowMs: 1, into: &actions)
        rollout.state(Self.installed(4), from: [2], expectedSHA: "s4", nowMs: 1, into: &actions)
        #expect(rollout.allConfirmed(4))
        actions = []
        var again = Self.b
        again.registration += 1
        rollout.workers([Self.a, again], nowMs: 2, into: &actions)
        #expect(actions == [.install(worker: [2], version: 4)])
        #expect(!rollout.allConfirmed(4))
        actions = []
        rollout.workers([Self.a, again], nowMs: 3, into: &actions)
        #expect(actions.isEmpty, "the same registration is not sent the version twice")
    }

    @Test("a change nobody confirms is acknowledged after the timeout, saying it is not confirmed")
    func timeout() {
        var rollout = CatalogueRollout()
        rollout.timeoutMs = 100
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([Self.a], nowMs: 0, into: &actions)
        rollout.stored(1, requester: ([7], Self.header), nowMs: 10, into: &actions)
        rollout.tick(nowMs: 109, into: &actions)
        #expect(Self.acknowledgements(actions).isEmpty)
        rollout.tick(nowMs: 110, into: &actions)
        #expect(Self.acknowledgements(actions).map(\.1) == [false])
    }

    @Test("with no serving worker the change is acknowledged at once")
    func noWorkers() {
        var rollout = CatalogueRollout()
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([Self.trainer], nowMs: 0, into: &actions)
        rollout.stored(1, requester: ([7], Self.header), nowMs: 0, into: &actions)
        #expect(Self.acknowledgements(actions).map(\.1) == [true])
    }
}

/// A worker's refusal of a catalogue version reaches the catalogue command's answer (review fault F7).
@Suite("Catalogue rollout: refusals")
struct CatalogueRolloutRefusalTests {
    @Test("a refusal is kept with its reason until the worker confirms that version or a newer one")
    func refusalKeptUntilConfirmed() {
        var rollout = CatalogueRollout()
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([CatalogueRolloutTests.a], nowMs: 0, into: &actions)
        rollout.stored(2, requester: nil, nowMs: 0, into: &actions)
        actions = []
        rollout.state(
            CatalogueState(version: 2, sha256: "s2", installed: false, error: "the served policy cannot move"),
            from: [1], expectedSHA: "s2", nowMs: 1, into: &actions)
        #expect(actions == [.install(worker: [1], version: 2)])
        #expect(rollout.refusal(of: [1]) == "version 2 not installed: the served policy cannot move")
        rollout.state(CatalogueRolloutTests.installed(2), from: [1], expectedSHA: "s2", nowMs: 2, into: &actions)
        #expect(rollout.refusal(of: [1]) == nil)
    }

    @Test("a confirmation of a SHA-256 the registry does not hold is a refusal naming both hashes, and does not count")
    func wrongHashConfirmation() {
        var rollout = CatalogueRollout()
        var actions: [CatalogueRollout.Action] = []
        rollout.workers([CatalogueRolloutTests.a], nowMs: 0, into: &actions)
        rollout.stored(2, requester: ([7], CatalogueRolloutTests.header), nowMs: 0, into: &actions)
        rollout.state(
            CatalogueState(version: 2, sha256: "other-sha", installed: true, error: nil), from: [1], expectedSHA: "s2",
            nowMs: 1, into: &actions)
        #expect(!rollout.allConfirmed(2))
        #expect(rollout.refusal(of: [1]) == "version 2 not installed: the worker confirmed sha256 other-sha…, the registry's is s2…")
        // Refused without a reason: the answer says so rather than showing nothing.
        rollout.state(
            CatalogueState(version: 2, sha256: "s2", installed: false, error: nil), from: [1], expectedSHA: "s2",
            nowMs: 2, into: &actions)
        #expect(rollout.refusal(of: [1]) == "version 2 not installed: the worker gave no reason")
        // A worker that leaves takes its refusal with it.
        rollout.workers([], nowMs: 3, into: &actions)
        #expect(rollout.refusal(of: [1]) == nil)
    }
}
