import BrokerCore
import Foundation
import Logging
import RecData
import RecPolicy
import RecStore
import RecWire

/// Runs online learning: the impression log, feedback, periodic weight syncs through the guard, and the
/// policy version every replica serves. Owned by the control thread, like ``JobCoordinator``.
///
/// Feedback is committed to the store before it is acknowledged, then delivered as LEARN to the replica
/// that served the impression (another one if it has gone). Every T ms or M delivered events the
/// coordinator pulls each replica's learnt weights, averages them weighted by the events each learnt from,
/// and serves the average as the next version if the off-policy guard admits it. Either way every replica
/// is then told which version to serve, so all serve identical weights after a sync.
final class OnlineCoordinator {
    /// A sync in progress.
    struct Sync {
        var id: UInt64
        var startedMs: UInt64
        var pending: Set<[UInt8]>
        var results: [[UInt8]: (report: PolicyStateReport, pack: ParameterPack)] = [:]
        var corrupt: Bool
        var requester: (identity: [UInt8], header: Header)?
        /// The averaged (or injected) candidate, once the guard has it.
        var candidate: OnlinePolicy?
        /// Replicas and events that went into the candidate.
        var contributors = 0
        var events = 0
    }

    /// Validated feedback waiting for the next group commit.
    struct PendingFeedback {
        var identity: [UInt8]
        var header: Header
        var request: FeedbackRequest
        var record: ImpressionRecord
        var worker: String
        var slot: Int
        var receivedMs: UInt64
    }

    let settings: OnlineSettings
    let store: RecStore
    let logger: Logger
    let emit: (ControlOutput) -> Void
    /// Hands a candidate to the guard's thread; the verdict comes back through ``handleVerdict(sync:decision:nowMs:)``.
    var judge: (GuardJudge.Case) -> Void = { _ in }

    var spec: OnlinePolicySpec
    var version: UInt64 = 0
    var policy: OnlinePolicy
    var pack: [UInt8] = []
    var weightsSHA = ""
    var frozen = false
    var workers: [TrainingWorker] = []
    var replicas: [[UInt8]: ReplicaPolicyView] = [:]
    var pendingImpressions: [(id: String, createdMs: UInt64, worker: String, version: UInt64, record: String)] = []
    var pendingFeedback: [PendingFeedback] = []
    /// RECOMMEND replies waiting for their impression's commit: (client, reply frames).
    var pendingSlates: [(client: [UInt8], frames: [[UInt8]])] = []
    var outgoing: [[UInt8]: [LearnEvent]] = [:]
    var held: [LearnEvent] = []
    var unsynced: [[UInt8]: [LearnEvent]] = [:]
    var eventsSinceSync = 0
    var lastSyncMs: UInt64 = 0
    /// When the current sync interval began: the last sync, or the coordinator's start.
    var intervalStartMs: UInt64 = 0
    var syncs = 0
    var rejected = 0
    var impressionCount = 0
    var feedbackCount = 0
    var duplicates = 0
    /// Durable writes that failed since the broker started (also `recpool_broker_durable_write_failures_total`).
    var durableWriteFailures = 0
    var lastDecision: GuardDecision?
    var sync: Sync?
    var nextSyncId: UInt64 = 1
    var roundRobin = 0
    var viewDirty = true

    /// Creates a coordinator; ``start(nowMs:)`` loads or creates the served version.
    /// - Throws: ``PolicyError`` when the settings do not make a servable policy.
    init(settings: OnlineSettings, store: RecStore, logger: Logger, emit: @escaping (ControlOutput) -> Void) throws {
        self.settings = settings
        self.store = store
        self.logger = logger
        self.emit = emit
        spec = SimulatorCatalog.spec(
            world: SimulatorWorld(config: settings.world), hiddenSizes: settings.hiddenSizes,
            exploration: settings.exploration, learning: settings.learning, seed: settings.seed)
        policy = try OnlinePolicy.initial(spec: spec)
    }

    /// Resumes the newest stored version (or stores version 1, the untrained policy) and the frozen flag.
    func start(nowMs: UInt64) throws {
        intervalStartMs = nowMs
        frozen = try store.setting("online.frozen") == "true"
        (impressionCount, feedbackCount) = try store.onlineCounts()
        if let row = try store.latestPolicyVersion() {
            let bytes = try store.blobs.get(row.weightsSHA)
            let stored = try ParameterPack(decoding: bytes)
            if let resumed = try? policy.with(
                parameters: PolicyWeights.parameters(stored, expected: policy.network.network.parameterCount))
            {
                policy = resumed
                version = row.version
                pack = bytes
                weightsSHA = row.weightsSHA
                logger.info("online policy resumed", metadata: ["version": "\(version)"])
                return
            }
            logger.warning(
                "stored online policy does not fit the configured catalogue; starting a new lineage",
                metadata: ["stored_version": "\(row.version)"])
            version = row.version
        }
        try serve(policy, as: try Self.successor(of: version), decision: nil, nowMs: nowMs)
        logger.info("online policy created", metadata: ["version": "\(version)", "frozen": "\(frozen)"])
    }

    /// Makes `candidate` the served version `newVersion`, durably.
    /// The version after `version`, read from the store: a stored 2⁶⁴ − 1 has none, and is an
    /// error rather than a trap.
    static func successor(of version: UInt64) throws(PolicyVersionExhausted) -> UInt64 {
        guard version < .max else { throw PolicyVersionExhausted(version: version) }
        return version + 1
    }

    func serve(_ candidate: OnlinePolicy, as newVersion: UInt64, decision: GuardDecision?, nowMs: UInt64) throws {
        let bytes = PolicyWeights.pack(candidate.network).encoded()
        let sha = try store.blobs.put(bytes)
        let decisionJSON = decision.map { String(decoding: WireJSON.encode($0), as: UTF8.self) }
        try store.savePolicyVersion(
            PolicyVersionRow(
                version: newVersion, weightsSHA: sha, spec: String(decoding: WireJSON.encode(spec), as: UTF8.self),
                decision: decisionJSON),
            createdMs: nowMs)
        policy = candidate
        version = newVersion
        pack = bytes
        weightsSHA = sha
        viewDirty = true
    }

    /// The live workers changed: install the policy on newcomers, hand the departed's unsynced events on.
    func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64) {
        let online = live.filter(\.online).sorted { $0.id < $1.id }
        let before = Set(workers.map(\.identity))
        let now = Set(online.map(\.identity))
        workers = online
        for worker in online where !before.contains(worker.identity) { install(on: worker.identity) }
        for gone in before.subtracting(now) {
            replicas[gone] = nil
            outgoing[gone] = nil
            if var running = sync {
                running.pending.remove(gone)
                running.results[gone] = nil
                sync = running
            }
            let orphaned = unsynced.removeValue(forKey: gone) ?? []
            if !orphaned.isEmpty {
                logger.warning(
                    "a learner left; its unsynced feedback goes to another replica",
                    metadata: ["events": "\(orphaned.count)"])
                for event in orphaned { deliver(event, preferring: nil) }
            }
            viewDirty = true
        }
        if let running = sync, running.pending.isEmpty, running.candidate == nil { closeSync(nowMs: nowMs) }
    }

    /// Sends the served version to one replica.
    func install(on identity: [UInt8]) {
        let document = PolicyInstall(version: version, spec: spec, learningEnabled: !frozen)
        emit(
            .toWorker(
                identity: identity,
                frames: [Header(command: .policy, modelVersion: version).encoded(), WireJSON.encode(document), pack]))
    }

    /// Periodic work: flush the log and learner batches, start or close syncs, publish the view.
    func tick(nowMs: UInt64) {
        flushPending()
        if let running = sync, running.candidate == nil, nowMs >= running.startedMs.addingSaturating(settings.syncTimeoutMs) {
            logger.warning(
                "online sync timed out; averaging the replicas that answered",
                metadata: ["sync": "\(running.id)", "answered": "\(running.results.count)"])
            closeSync(nowMs: nowMs)
        }
        if sync == nil, !frozen, !workers.isEmpty, eventsSinceSync > 0,
            eventsSinceSync >= settings.syncEvents || nowMs >= intervalStartMs.addingSaturating(settings.syncIntervalMs)
        {
            startSync(corrupt: false, requester: nil, nowMs: nowMs)
        }
        flushLearn()
        if viewDirty { publishView() }
    }

    /// Sends the current view to the reactor's status document now. Called before a reply that
    /// reports a change, so a STATUS sent after that reply already shows it.
    func publishView() {
        viewDirty = false
        emit(.online(view))
    }

    /// What `recpool online status` and the status document show.
    var view: OnlineView {
        OnlineView(
            enabled: true, frozen: frozen, version: version, weightsSha256: weightsSHA, syncs: syncs,
            rejected: rejected, lastSyncMs: lastSyncMs, syncIntervalMs: settings.syncIntervalMs,
            syncEvents: settings.syncEvents, impressions: impressionCount, feedback: feedbackCount,
            duplicates: duplicates, pendingEvents: eventsSinceSync, lastDecision: lastDecision,
            replicas: replicas.values.sorted { $0.worker < $1.worker }, syncing: sync != nil)
    }
}

/// The stored online policy version is the largest there is, so no next version can be numbered.
struct PolicyVersionExhausted: Error, CustomStringConvertible {
    /// The stored version.
    var version: UInt64
    var description: String { "online policy version \(version) has no successor" }
}
