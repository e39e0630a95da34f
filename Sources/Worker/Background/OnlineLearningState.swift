import RecData
import RecPolicy
import RecWire

/// Why a POLICY message was rejected; the worker keeps serving (and learning) its current policy.
enum PolicyInstallError: Error, Equatable, CustomStringConvertible {
    /// The frames do not decode: a missing frame, bad JSON or a bad pack.
    case malformed(String)
    /// The spec or the weights cannot make a policy.
    case unusable(PolicyError)
    /// Policy version `policy` names a registry catalogue version this worker does not hold (or holds under
    /// another SHA-256); it is refused rather than served over any other catalogue.
    case catalogueMissing(policy: UInt64, catalogue: CatalogueReference)

    var description: String {
        switch self {
        case .malformed(let why): "malformed POLICY: \(why)"
        case .unusable(let error): "unusable POLICY: \(error)"
        case .catalogueMissing(let policy, let catalogue):
            "POLICY version \(policy) names catalogue version \(catalogue.version) (sha256 "
                + "\(catalogue.sha256.prefix(12))…), which this worker does not hold"
        }
    }
}

/// What one LEARN batch did.
struct LearnOutcome: Sendable, Equatable {
    /// Events that went into the learner's statistics.
    var learnt = 0
    /// Events counted and dropped: no policy installed, learning frozen, or a context the spec rejects.
    var dropped = 0
    /// Gradient steps taken.
    var steps = 0
    /// Whether an update ran, so a new snapshot should be served.
    var updated: Bool { steps > 0 }
}

/// The online learning thread's state: the learner (RecPolicy's ``OnlineLearner``) of the installed policy.
///
/// A value with three transitions, one per broker message: ``install(_:pack:)`` (POLICY), ``learn(_:)`` (LEARN)
/// and ``syncReport(sync:)`` (POLICY_PULL). The thread that owns it publishes ``served`` after a change.
struct OnlineLearningState: Sendable {
    /// The contextual bandit learning the installed policy, `nil` before the first POLICY or when the spec's
    /// `learner` is `session_dqn`.
    var learner: OnlineLearner?
    /// The session DQN learning the installed policy when the spec's `learner` is `session_dqn` (at most one of
    /// the two is set).
    var sessionLearner: SessionQLearner?
    /// Whether the installed version may learn.
    private(set) var learningEnabled = false
    /// Events counted and dropped since the worker started.
    private(set) var droppedEvents = 0
    /// Registry catalogue versions held for POLICY messages that name one (``hold(_:)``): the newest few and the
    /// one served.
    private(set) var held: [UInt64: InstalledCatalogue] = [:]
    /// The registry catalogue version whose rows the installed policy serves, nil when its spec inlined them.
    private(set) var servedCatalogue: UInt64?
    /// The registry catalogue version the last refused POLICY named (``PolicyInstallError/catalogueMissing(policy:catalogue:)``),
    /// kept once it arrives even when it is older than the versions held, until a POLICY installs.
    private(set) var wanted: UInt64?
    /// Registry versions kept besides the served one.
    static let heldVersions = 2
    private let seed: UInt64

    /// Creates an empty state; `seed` drives the learner's Thompson samples.
    init(seed: UInt64) {
        self.seed = seed
    }

    /// The snapshot to serve, `nil` before the first POLICY.
    var served: ServedPolicy? {
        if let sessionLearner {
            return ServedPolicy(
                policy: sessionLearner.current, version: sessionLearner.baseVersion, learningEnabled: learningEnabled)
        }
        return learner.map { ServedPolicy(policy: $0.current, version: $0.baseVersion, learningEnabled: learningEnabled) }
    }

    /// The installed policy's spec, `nil` before the first POLICY.
    var installedSpec: OnlinePolicySpec? { sessionLearner?.current.spec ?? learner?.current.spec }

    /// Decodes a POLICY message's payload: JSON ``PolicyInstall``, then the ``ParameterPack`` bytes.
    /// - Throws: ``PolicyInstallError/malformed(_:)`` naming the problem.
    static func decode(_ payload: [[UInt8]]) throws(PolicyInstallError) -> (PolicyInstall, ParameterPack) {
        guard payload.count >= 2 else {
            throw .malformed("expected a PolicyInstall and a ParameterPack, got \(payload.count) frames")
        }
        let install: PolicyInstall
        let pack: ParameterPack
        do {
            install = try WireJSON.decode(PolicyInstall.self, from: payload[0])
            pack = try ParameterPack(decoding: payload[1])
        } catch {
            throw .malformed(error.description)
        }
        guard install.version >= 1 else { throw .malformed("policy versions start at 1, got 0") }
        return (install, pack)
    }

    /// Installs a version: the learner takes its statistics (the same learner when the spec is unchanged) and its
    /// counters restart. On error nothing changes, except that a catalogue version found missing is remembered
    /// (``wanted``) so that it is kept when the broker sends it.
    /// - Returns: the snapshot to serve and the POLICY_STATE `installed` report.
    /// - Throws: ``PolicyInstallError/unusable(_:)`` when the spec or weights do not make a policy.
    mutating func install(_ install: PolicyInstall, pack: ParameterPack) throws(PolicyInstallError)
        -> (ServedPolicy, PolicyStateReport)
    {
        var spec = install.spec
        var rows: ItemCatalogue?
        if let named = install.catalogue {
            guard let catalogue = held[named.version], catalogue.sha256 == named.sha256 else {
                wanted = named.version
                throw .catalogueMissing(policy: install.version, catalogue: named)
            }
            // The spec and the policy share the held version's buffers: each item's row is held once.
            spec.setCatalogue(catalogue.catalogue)
            rows = catalogue.catalogue
        }
        let policy: OnlinePolicy
        do {
            policy = try OnlinePolicy.served(spec: spec, catalogue: rows, weights: pack)
        } catch {
            throw .unusable(error)
        }
        servedCatalogue = install.catalogue?.version
        wanted = nil
        prune()
        // Mutated in place (optional chaining), so the statistics are not copied.
        switch spec.learning.learner {
        case .contextualBandit:
            sessionLearner = nil
            if learner?.current.spec == spec {
                learner?.install(policy, version: install.version)
            } else {
                learner = OnlineLearner(policy: policy, version: install.version, seed: seed)
            }
        case .sessionDQN:
            learner = nil
            if sessionLearner?.current.spec == spec {
                sessionLearner?.install(policy, version: install.version)
            } else {
                sessionLearner = SessionQLearner(policy: policy, version: install.version, seed: seed)
            }
        }
        learningEnabled = install.learningEnabled
        let report = PolicyStateReport(
            kind: .installed, sync: 0, version: install.version, events: 0, updates: 0,
            weightsSha256: PolicyWeights.sha256(policy))
        let serving = sessionLearner?.current ?? learner?.current ?? policy
        return (ServedPolicy(policy: serving, version: install.version, learningEnabled: learningEnabled), report)
    }

    /// Keeps a verified registry catalogue version for POLICY messages that name it; the oldest versions beyond
    /// ``heldVersions`` (other than the served one and the ``wanted`` one) are let go.
    mutating func hold(_ catalogue: InstalledCatalogue) {
        held[catalogue.version] = catalogue
        prune()
    }

    /// Records that the installed policy moved to registry catalogue version `version` (``moveToCatalogue(_:)``).
    mutating func moved(to version: UInt64) {
        servedCatalogue = version
        prune()
    }

    private mutating func prune() {
        let keep = Set(held.keys.sorted(by: >).prefix(Self.heldVersions))
            .union(servedCatalogue.map { [$0] } ?? []).union(wanted.map { [$0] } ?? [])
        for version in held.keys where !keep.contains(version) { held[version] = nil }
    }

    /// Learns from feedback events, or counts and drops them when no policy is installed or learning is frozen.
    /// Every `update_every` learnt events the learner solves its posterior and serves a new Thompson sample.
    mutating func learn(_ events: [LearnEvent]) -> LearnOutcome {
        if sessionLearner != nil { return learnSession(events) }
        guard learningEnabled, learner != nil else {
            droppedEvents += events.count
            return LearnOutcome(dropped: events.count)
        }
        // Read counters only, and mutate through optional chaining: holding a copy of the learner across
        // `learn` would copy its statistics.
        let events0 = learner?.eventsSinceInstall ?? 0
        let updates0 = learner?.updatesSinceInstall ?? 0
        let rejected0 = learner?.rejectedEvents ?? 0
        // Feed the learner up to each update boundary, so a batch of LEARN events updates every
        // `update_every` events rather than once per batch.
        let every = learner?.current.spec.learning.updateEvery ?? 1
        var rest = events[...]
        while !rest.isEmpty {
            let room = max(1, every - (learner?.eventsSinceUpdate ?? 0))
            _ = learner?.learn(Array(rest.prefix(room)))
            rest = rest.dropFirst(room)
        }
        let outcome = LearnOutcome(
            learnt: (learner?.eventsSinceInstall ?? 0) - events0, dropped: (learner?.rejectedEvents ?? 0) - rejected0,
            steps: (learner?.updatesSinceInstall ?? 0) - updates0)
        droppedEvents += outcome.dropped
        return outcome
    }

    /// The answer to POLICY_PULL `sync`: the report and the pack of the learner's current weights. Before the
    /// first POLICY the report has version 0 and no events (so the broker skips it) and the pack is empty.
    func syncReport(sync: UInt64) -> (report: PolicyStateReport, pack: ParameterPack) {
        if let sessionLearner {
            let pack = PolicyWeights.pack(sessionLearner.learnt)
            let report = PolicyStateReport(
                kind: .sync, sync: sync, version: sessionLearner.baseVersion, events: sessionLearner.eventsSinceInstall,
                updates: sessionLearner.updatesSinceInstall, weightsSha256: PolicyWeights.sha256(of: pack.encoded()))
            return (report, pack)
        }
        guard let learner else {
            return (
                PolicyStateReport(kind: .sync, sync: sync, version: 0, events: 0, updates: 0, weightsSha256: ""),
                ParameterPack(step: 0, vectors: [])
            )
        }
        let pack = PolicyWeights.pack(learner.learnt)
        let report = PolicyStateReport(
            kind: .sync, sync: sync, version: learner.baseVersion, events: learner.eventsSinceInstall,
            updates: learner.updatesSinceInstall, weightsSha256: PolicyWeights.sha256(of: pack.encoded()))
        return (report, pack)
    }
}

extension OnlineLearningState {
    /// ``learn(_:)`` for the session DQN: the same batching by update boundary and the same counting.
    fileprivate mutating func learnSession(_ events: [LearnEvent]) -> LearnOutcome {
        guard learningEnabled else {
            droppedEvents += events.count
            return LearnOutcome(dropped: events.count)
        }
        let events0 = sessionLearner?.eventsSinceInstall ?? 0
        let updates0 = sessionLearner?.updatesSinceInstall ?? 0
        let rejected0 = sessionLearner?.rejectedEvents ?? 0
        let every = sessionLearner?.current.spec.learning.updateEvery ?? 1
        var rest = events[...]
        while !rest.isEmpty {
            let room = max(1, every - (sessionLearner?.eventsSinceUpdate ?? 0))
            _ = sessionLearner?.learn(Array(rest.prefix(room)))
            rest = rest.dropFirst(room)
        }
        let outcome = LearnOutcome(
            learnt: (sessionLearner?.eventsSinceInstall ?? 0) - events0,
            dropped: (sessionLearner?.rejectedEvents ?? 0) - rejected0,
            steps: (sessionLearner?.updatesSinceInstall ?? 0) - updates0)
        droppedEvents += outcome.dropped
        return outcome
    }
}
