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
    /// Policy version `policy` came as a statistics delta this worker cannot use: a base it does not hold, a
    /// malformed delta, or rebuilt statistics whose SHA-256 is not the POLICY's. Nothing is installed; the worker
    /// asks the broker for the whole pack (POLICY_STATE `delta_refused`).
    case delta(policy: UInt64, PolicyDeltaError)
    /// The whole pack of policy version `policy` hashes to `got`, not to the POLICY's `weights_sha256`.
    case shaMismatch(policy: UInt64, expected: String, got: String)

    var description: String {
        switch self {
        case .malformed(let why): "malformed POLICY: \(why)"
        case .unusable(let error): "unusable POLICY: \(error)"
        case .catalogueMissing(let policy, let catalogue):
            "POLICY version \(policy) names catalogue version \(catalogue.version) (sha256 "
                + "\(catalogue.sha256.prefix(12))…), which this worker does not hold"
        case .delta(let policy, let error): "POLICY version \(policy) sent as a delta cannot be installed: \(error)"
        case .shaMismatch(let policy, let expected, let got):
            "POLICY version \(policy): the pack hashes to \(got.prefix(12))…, the POLICY names \(expected.prefix(12))…"
        }
    }
}

/// Frame 2 of a POLICY: the version's whole statistics pack (with the SHA-256 of its bytes), or a delta from a
/// version the replica installed before (``PolicyPackDelta``).
enum PolicyWeightsFrame: Sendable, Equatable {
    /// The whole pack and the SHA-256 (hex) of the bytes it came in.
    case full(ParameterPack, sha256: String)
    /// The rows that changed since the delta's base version.
    case delta(PolicyPackDelta)

    /// `delta` or `full`, for logs.
    var form: String {
        if case .delta = self { return "delta" }
        return "full"
    }

    /// The bucket rows a delta carries, nil for a whole pack.
    var deltaRows: Int? {
        if case .delta(let delta) = self { return delta.rows.count }
        return nil
    }
}

/// The statistics pack of the installed version, kept whole so a POLICY or POLICY_STATE can carry only the rows
/// that changed since it (``PolicyPackDelta``). About `4 × (width² + width + buckets × (width + 3))` bytes
/// (1.28 MB for the simulator world's 249-wide features and 1,024 buckets), independent of the catalogue size.
struct InstalledBase: Sendable, Equatable {
    /// The installed version.
    var version: UInt64
    /// SHA-256 (hex) of `pack`'s encoding.
    var sha256: String
    /// The installed statistics.
    var pack: ParameterPack
}

/// The answer to a POLICY_PULL: the report, the learner's whole pack, and frame 2 as sent (a delta from the
/// installed base when there is one, else the whole pack).
struct SyncAnswer: Sendable {
    /// The `sync` report.
    var report: PolicyStateReport
    /// The learner's whole statistics pack; `report.weightsSha256` is its SHA-256.
    var pack: ParameterPack
    /// Frame 2: the encoded delta from ``InstalledBase`` or the encoded whole pack.
    var frame: [UInt8]
    /// The bucket rows of the delta in `frame`, nil when `frame` is the whole pack.
    var deltaRows: Int?
}

/// What one LEARN batch did.
struct LearnOutcome: Sendable, Equatable {
    /// Events that went into the learner's statistics.
    var learnt = 0
    /// Events counted and dropped: no policy installed, learning frozen, or a context the spec rejects.
    var dropped = 0
    /// Learning updates taken (closed-form posterior solves, one every K events).
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
    /// The installed version's statistics, the base of the deltas this replica sends and accepts; nil before the
    /// first POLICY.
    private(set) var base: InstalledBase?
    /// The registry catalogue version received last from the broker the worker registered with.
    var receiver = CatalogueReceiver()
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
                policy: sessionLearner.current, version: sessionLearner.baseVersion, learningEnabled: learningEnabled,
                catalogueVersion: servedCatalogue)
        }
        return learner.map {
            ServedPolicy(
                policy: $0.current, version: $0.baseVersion, learningEnabled: learningEnabled,
                catalogueVersion: servedCatalogue)
        }
    }

    /// The installed policy's spec, `nil` before the first POLICY.
    var installedSpec: OnlinePolicySpec? { sessionLearner?.current.spec ?? learner?.current.spec }

    /// Decodes a POLICY message's payload: JSON ``PolicyInstall``, then frame 2, a whole ``ParameterPack`` or a
    /// ``PolicyPackDelta`` (told apart by their magic).
    /// - Throws: ``PolicyInstallError/malformed(_:)`` naming the problem; ``PolicyInstallError/delta(policy:_:)``
    ///   for a delta that does not decode or validate.
    static func decode(_ payload: [[UInt8]]) throws(PolicyInstallError) -> (PolicyInstall, PolicyWeightsFrame) {
        guard payload.count >= 2 else {
            throw .malformed("expected a PolicyInstall and a ParameterPack, got \(payload.count) frames")
        }
        let install: PolicyInstall
        do {
            install = try WireJSON.decode(PolicyInstall.self, from: payload[0])
        } catch {
            throw .malformed(error.description)
        }
        guard install.version >= 1 else { throw .malformed("policy versions start at 1, got 0") }
        if PolicyPackDelta.isDelta(payload[1]) {
            do {
                return (install, .delta(try PolicyPackDelta(decoding: payload[1])))
            } catch {
                throw .delta(policy: install.version, error)
            }
        }
        // Every POLICY a broker sends names the SHA-256 of the pack it means (docs/PROTOCOL.md, "Online learning"):
        // a whole pack without it was installed unchecked, so any bytes that decode as a pack were served as a version.
        // (A delta without it is refused as a delta, and the broker sends the whole pack.)
        guard install.weightsSha256 != nil else {
            throw .malformed("the POLICY names no weights_sha256, so its pack cannot be checked")
        }
        do {
            let pack = try ParameterPack(decoding: payload[1])
            return (install, .full(pack, sha256: PolicyWeights.sha256(of: payload[1])))
        } catch {
            throw .malformed(error.description)
        }
    }

    /// Installs a version given its whole pack (tests; the worker's thread passes the decoded frame).
    mutating func install(_ install: PolicyInstall, pack: ParameterPack) throws(PolicyInstallError)
        -> (ServedPolicy, PolicyStateReport)
    {
        try self.install(install, weights: .full(pack, sha256: PolicyWeights.sha256(of: pack.encoded())))
    }

    /// The whole pack frame 2 stands for: the pack itself, or the installed base with the delta's rows, checked
    /// against the POLICY's `weights_sha256` (required for a delta).
    /// - Throws: ``PolicyInstallError/delta(policy:_:)`` when the delta's base is not the installed one or the
    ///   rebuilt pack hashes otherwise; ``PolicyInstallError/shaMismatch(policy:expected:got:)`` for a whole pack
    ///   that hashes otherwise.
    func resolve(_ weights: PolicyWeightsFrame, for install: PolicyInstall) throws(PolicyInstallError)
        -> (pack: ParameterPack, sha256: String)
    {
        switch weights {
        case .full(let pack, let sha):
            if let expected = install.weightsSha256, expected != sha {
                throw .shaMismatch(policy: install.version, expected: expected, got: sha)
            }
            return (pack, sha)
        case .delta(let delta):
            // The version itself is the installed base already (a POLICY sent again, as a freeze sends one, before
            // the broker read this replica's `installed` report of the sync's POLICY, so built against the version
            // before): its statistics are the base's, checked by their hash. It was refused, logged as an error,
            // and the whole pack sent again.
            if let base, let expected = install.weightsSha256, base.version == install.version, base.sha256 == expected,
                !(base.version == delta.baseVersion && base.sha256 == delta.baseSha256)
            {
                return (base.pack, base.sha256)
            }
            guard let base, base.version == delta.baseVersion, base.sha256 == delta.baseSha256 else {
                throw .delta(
                    policy: install.version,
                    .unknownBase(version: delta.baseVersion, sha256: delta.baseSha256, held: base?.version))
            }
            guard let expected = install.weightsSha256 else {
                throw .delta(policy: install.version, .malformed("the POLICY names no weights_sha256 to check it by"))
            }
            let pack: ParameterPack
            do {
                pack = try delta.apply(to: base.pack, version: base.version, sha256: base.sha256)
            } catch {
                throw .delta(policy: install.version, error)
            }
            let sha = PolicyWeights.sha256(of: pack.encoded())
            guard sha == expected else { throw .delta(policy: install.version, .shaMismatch(expected: expected, got: sha)) }
            return (pack, sha)
        }
    }

    /// Installs a version: the learner takes its statistics (the same learner when the spec is unchanged) and its
    /// counters restart, and the pack becomes the ``base`` of later deltas. On error nothing changes, except that
    /// a catalogue version found missing is remembered (``wanted``) so that it is kept when the broker sends it.
    /// - Returns: the snapshot to serve and the POLICY_STATE `installed` report.
    /// - Throws: ``PolicyInstallError/unusable(_:)`` when the spec or weights do not make a policy; the errors of
    ///   ``resolve(_:for:)``; ``PolicyInstallError/catalogueMissing(policy:catalogue:)``.
    mutating func install(_ install: PolicyInstall, weights: PolicyWeightsFrame) throws(PolicyInstallError)
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
        let (pack, sha) = try resolve(weights, for: install)
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
                learner?.install(policy, version: install.version, mergedSync: install.mergedSync)
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
        base = InstalledBase(version: install.version, sha256: sha, pack: pack)
        let report = PolicyStateReport(
            kind: .installed, sync: 0, version: install.version, events: 0, updates: 0,
            weightsSha256: PolicyWeights.sha256(policy), catalogue: install.catalogue)
        let serving = sessionLearner?.current ?? learner?.current ?? policy
        return (
            ServedPolicy(
                policy: serving, version: install.version, learningEnabled: learningEnabled,
                catalogueVersion: servedCatalogue),
            report
        )
    }

    /// The worker registered with a broker that serves `broker` (nil: no policy): unless the installed version is
    /// exactly that one (version and statistics SHA-256), the policy, its learner, its base and the catalogue
    /// versions held are dropped, as before the first POLICY. With no policy installed the held catalogue versions
    /// are dropped too: they may be another registry's, and would outrank the new registry's lower numbers.
    /// - Returns: the version dropped, or nil when nothing was installed or the installed version is the broker's.
    mutating func forget(unlessServing broker: PolicyVersionReference?) -> UInt64? {
        guard let installed = base else {
            held = [:]
            wanted = nil
            return nil
        }
        if let broker, broker.version == installed.version, broker.weightsSha256 == installed.sha256 { return nil }
        learner = nil
        sessionLearner = nil
        learningEnabled = false
        held = [:]
        servedCatalogue = nil
        wanted = nil
        base = nil
        return installed.version
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

    /// The answer to POLICY_PULL `sync`: the report, the pack of the learner's current weights and frame 2 — the
    /// rows changed since the installed version (``PolicyPackDelta`` against ``base``), or the whole pack when
    /// there is no base of that version or the delta would not be smaller. Before the first POLICY the report has version 0 and no events (so the
    /// broker skips it) and the pack is empty.
    ///
    /// The contextual bandit's learner notes its window as pulled (``OnlineLearner/notePull(sync:)``), so an install
    /// that merged this pull keeps re-linearising it.
    mutating func syncReport(sync: UInt64) -> SyncAnswer {
        learner?.notePull(sync: sync)
        let learnt: BayesianLastLayer
        let version: UInt64
        let events: Int
        let updates: Int
        if let sessionLearner {
            (learnt, version) = (sessionLearner.learnt, sessionLearner.baseVersion)
            (events, updates) = (sessionLearner.eventsSinceInstall, sessionLearner.updatesSinceInstall)
        } else if let learner {
            (learnt, version) = (learner.learnt, learner.baseVersion)
            (events, updates) = (learner.eventsSinceInstall, learner.updatesSinceInstall)
        } else {
            let empty = ParameterPack(step: 0, vectors: [])
            return SyncAnswer(
                report: PolicyStateReport(kind: .sync, sync: sync, version: 0, events: 0, updates: 0, weightsSha256: ""),
                pack: empty, frame: empty.encoded(), deltaRows: nil)
        }
        let pack = PolicyWeights.pack(learnt)
        let bytes = pack.encoded()
        let report = PolicyStateReport(
            kind: .sync, sync: sync, version: version, events: events, updates: updates,
            weightsSha256: PolicyWeights.sha256(of: bytes))
        if let base, base.version == version,
            let delta = try? PolicyPackDelta.between(base: base.pack, version: base.version, sha256: base.sha256, target: pack)
        {
            let frame = delta.encoded()
            if frame.count < bytes.count {
                return SyncAnswer(report: report, pack: pack, frame: frame, deltaRows: delta.rows.count)
            }
        }
        return SyncAnswer(report: report, pack: pack, frame: bytes, deltaRows: nil)
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
