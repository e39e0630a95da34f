import BrokerCore
import Logging
import RecData
import RecPolicy
import RecStore
import RecWire

/// Online learning's whole logic as a value with no I/O: events in, actions out, like ``BrokerCore``.
///
/// Feedback is acknowledged only on the ``OnlineEvent/committed(_:)`` event of the group commit that
/// stored it, and a held RECOMMEND slate is released only then; a failed commit answers both with
/// INTERNAL instead. Every T ms or M delivered events a sync pulls each replica's learnt weights
/// (``SyncPhase/pulling(_:pending:results:)``), merges their statistics exactly (``PolicyWeights/merge(base:replicas:)``),
/// and hands the candidate to the guard (``SyncPhase/judging(_:candidate:contributors:events:)``); an
/// admitted candidate is stored (``SyncPhase/storing(_:candidate:contributors:events:decision:)``) and
/// served once ``OnlineEvent/versionStored(sync:_:)`` says it is durable. Either way
/// every replica is then told which version to serve, so all serve identical weights after a sync.
/// ``OnlineCoordinator`` is the shell that performs the actions on the store and the reactor.
struct OnlineCore: ControlCore {
    /// Where the current sync is.
    enum SyncPhase {
        /// No sync is out.
        case idle
        /// The replicas were asked for their weights: who has not answered, and what came back.
        case pulling(SyncRound, pending: Set<[UInt8]>, results: [[UInt8]: SyncResult])
        /// The candidate is with the guard.
        case judging(SyncRound, candidate: OnlinePolicy, contributors: Int, events: Int)
        /// The guard admitted the candidate; its weights and version row are being stored.
        case storing(SyncRound, candidate: OnlinePolicy, contributors: Int, events: Int, decision: GuardDecision)
    }

    /// What stays the same through one sync.
    struct SyncRound {
        var id: UInt64
        var startedMs: UInt64
        /// Whether the candidate is replaced by noise (fault injection).
        var corrupt: Bool
        /// The `online_sync` (or `online_register`) requests to answer when the sync ends.
        var requesters: [Requester] = []
        /// Whether this round stores a registered policy (`online_register`, a warm start) rather than merging the
        /// replicas' learning: it is not counted as a sync and does not set the last sync's time.
        var registration = false
        /// Unsynced events of replicas that left during the pull (handed on, merged by no answer of this sync).
        var orphanedEvents = 0
        /// Unsynced events of replicas whose report was refused (invalid, or no readable pack): merged by no answer
        /// of this sync, they go to the replicas again.
        var refusedEvents = 0
        /// Whether the pull outlasted the sync timeout with a live replica still to answer, and waits for it
        /// (``OnlineCore/behindWaitFactor``); logged once.
        var waitingForBehind = false
    }

    /// One replica's answer to a pull.
    struct SyncResult {
        var report: PolicyStateReport
        /// The replica's whole statistics (rebuilt when it sent a delta); empty when the report cannot contribute
        /// (another version, or no events), since the merge does not read it then.
        var pack: ParameterPack
    }

    /// Validated feedback waiting for the next group commit.
    struct PendingFeedback {
        var query: FeedbackQuery
        var record: ImpressionRecord
        var worker: String
        var slot: Int
        /// Whether `record` is an impression queued for the same commit (not read from the log): if the store refuses
        /// that impression for an id it already holds, the event is checked again against the stored one.
        var queued = false
    }

    /// A RECOMMEND reply waiting for the commit of its impression, `impressionId`.
    struct PendingSlate {
        var impressionId: String
        var slate: HeldSlate
        /// The catalogue rows the slate shows.
        var items: [Int]
        /// The worker that drew it.
        var worker: String = ""
    }

    /// What the commit in flight holds besides its rows: whom to answer once it is stored.
    struct InFlight {
        var feedback: [PendingFeedback]
        var slates: [PendingSlate]
        var impressions: Int
    }

    let settings: OnlineSettings
    var spec: OnlinePolicySpec
    var version: UInt64 = 0
    /// The first policy version of the lineage served (``RecStore/lineageStart()``; 1 when every version belongs):
    /// an impression logged under an earlier version names another catalogue's rows, so its feedback is refused and a
    /// slate under such a version is not logged.
    var lineageStart: UInt64 = 1
    var policy: OnlinePolicy
    var pack: [UInt8] = []
    var weightsSHA = ""
    var frozen = false
    var workers: [TrainingWorker] = []
    var replicas: [[UInt8]: ReplicaPolicyView] = [:]
    var pendingImpressions: [(id: String, createdMs: UInt64, worker: String, version: UInt64, record: String)] = []
    /// The ids in ``pendingImpressions``, so a repeated id is found without a scan per impression.
    var pendingImpressionIds: Set<String> = []
    var pendingFeedback: [PendingFeedback] = []
    /// RECOMMEND replies waiting for their impression's commit.
    var pendingSlates: [PendingSlate] = []
    /// Stored `online_freeze` requests that arrived while a sync's candidate was being judged or stored: they take
    /// effect, and are answered, when that sync ends (``finishSync(_:consumedStored:storeFailed:nowMs:into:)``), so
    /// a freeze acknowledged at version N is never followed by version N + 1 rolling out.
    var deferredFreezes: [Requester] = []
    /// Freezes an unfreeze superseded while they waited for a sync: answered, unfrozen, when that sync ends.
    var supersededFreezes: [Requester] = []
    /// The group commit the shell is performing.
    var inFlight: InFlight?
    var outgoing: [[UInt8]: [LearnEvent]] = [:]
    var held: [LearnEvent] = []
    /// The events each live replica was sent since the last sync (handed on to another when it leaves).
    var unsynced: [[UInt8]: [LearnEvent]] = [:]
    /// Events of replicas that left after their learning was merged into the candidate being judged or stored: the
    /// sync consumes them (they are not handed on, which would learn them twice).
    var consumedBySync: [LearnEvent] = []
    /// The replicas whose answer the running sync took, from ``closeSync(nowMs:into:)`` on: an answer for the served
    /// version, with or without learning. The sync consumes their events; the other replicas' events were in no
    /// merge, and the install that ends the sync drops what those replicas learnt, so their events are sent again
    /// (``SyncPartition``).
    var answeredSync: Set<[UInt8]> = []
    /// The replicas whose learning the judged candidate merges (set when a sync closes).
    var candidateContributors: Set<[UInt8]> = []
    /// The served version a sync stored, with the sync's id and the replicas whose pulls it merged: their POLICY names
    /// the sync (`merged_sync`), so each keeps re-linearising the events it sent (``OnlineLearner``), until the next
    /// sync's pull.
    var mergedPull: (version: UInt64, sha256: String, sync: UInt64, replicas: Set<[UInt8]>)?
    /// Events already sent again once because the replica that had them was in no merge: a second such sync
    /// consumes them, so a replica that can never contribute (one that cannot install the served version, say)
    /// does not start sync after sync with the same events. An event leaves the set when a sync consumes it.
    var reheld: Set<RecStore.FeedbackKey> = []
    /// `online_sync` requests that arrived while a sync was out: one more sync starts as soon as it ends and answers
    /// them all, so each is answered by a sync that started after it (at most ``maxWaitingSyncs``).
    var waitingSyncs: [Requester] = []
    /// The most `online_sync` requests that wait for the next sync; more are refused CONFLICT.
    static let maxWaitingSyncs = 64
    /// The events delivered to the live replicas since the last sync (`pending_events`): each counted once, also
    /// one handed on from a replica that left (it is moved, not sent twice).
    var eventsSinceSync: Int { unsynced.values.reduce(0) { $0 + $1.count } }
    var lastSyncMs: UInt64 = 0
    /// When the current sync interval began: the last sync, or the coordinator's start.
    var intervalStartMs: UInt64 = 0
    var syncs = 0
    var rejected = 0
    /// Syncs that ended with no learning to merge (``OnlineView/emptySyncs``).
    var emptySyncs = 0
    /// Acknowledged events consumed without being learnt (``OnlineView/unlearntEvents``).
    var unlearntEvents = 0
    /// Events no sync had consumed that the impression log deleted (held past twice its bound) since the last finished
    /// sync: the warning is logged once per sync interval, not on every commit of an outage.
    var unconsumedEvictedSinceSync = 0
    /// Syncs that timed out with no replica's answer and changed nothing (``abandonSync(nowMs:into:)``).
    var abandonedSyncs = 0
    /// Live replicas that did not answer within a sync's longest wait (``behindWaitFactor`` timeouts): a replica that
    /// heartbeats but never answers (a wedged learner) is waited for only the plain timeout until it answers a pull
    /// again, so it does not stretch every sync, and hold every event meanwhile, for a minute.
    var unansweredLongWait: Set<[UInt8]> = []
    /// No sync starts before this (epoch ms): one timed out unanswered, and the replicas get as long again to catch up.
    var syncRetryAfterMs: UInt64 = 0
    var impressionCount = 0
    var feedbackCount = 0
    var duplicates = 0
    /// Durable writes that failed since the broker started (also `recpool_broker_durable_write_failures_total`).
    var durableWriteFailures = 0
    var lastDecision: GuardDecision?
    var phase = SyncPhase.idle
    var nextSyncId: UInt64 = 1
    var roundRobin = 0
    var viewDirty = true
    /// The registry's catalogue version the policy serves and its SHA-256 (nil: the simulator world's catalogue).
    /// POLICY messages and stored versions name it instead of inlining its rows.
    var catalogue: CatalogueReference?
    /// The version in ``catalogue``; every stored version records it.
    var catalogueVersion: UInt64? { catalogue?.version }
    /// How many times each replica was sent a catalogue version it reported missing since it last installed a
    /// POLICY (``shipMissingCatalogue(to:report:into:)``); bounded so a replica that cannot install it is not
    /// sent it forever.
    var catalogueShipments: [[UInt8]: Int] = [:]
    /// The packs of the newest stored versions (``holdPack(version:bytes:sha:)``), the bases of deltas both ways.
    var heldPacks: [UInt64: HeldPack] = [:]
    /// What each replica last reported installing: the base of the delta its next POLICY may carry.
    var installedBases: [[UInt8]: ReplicaBase] = [:]

    /// A core serving the untrained policy the settings describe (version 0 until the shell adopts one).
    /// - Throws: ``PolicyError`` when the settings do not make a servable policy.
    init(settings: OnlineSettings, nowMs: UInt64) throws {
        self.settings = settings
        if let served = settings.served {
            spec = OnlinePolicySpec.make(
                catalogue: served.catalogue, userFeatures: served.userFeatures, exploration: settings.exploration,
                learning: settings.learning, seed: settings.seed)
            catalogue = CatalogueReference(version: served.version, sha256: served.sha256)
        } else {
            spec = SimulatorCatalog.spec(
                world: SimulatorWorld(config: settings.world), exploration: settings.exploration,
                learning: settings.learning, seed: settings.seed)
        }
        policy = try OnlinePolicy.initial(spec: spec)
        intervalStartMs = nowMs
    }

    /// Serves `candidate` as `newVersion`, whose weights `bytes` are stored under `sha`.
    mutating func adopt(_ candidate: OnlinePolicy, version newVersion: UInt64, pack bytes: [UInt8], sha: String) {
        policy = candidate
        version = newVersion
        pack = bytes
        weightsSHA = sha
        holdPack(version: newVersion, bytes: bytes, sha: sha)
        viewDirty = true
    }

    /// Whether a sync is out.
    var syncing: Bool {
        if case .idle = phase { return false }
        return true
    }

    /// Handles one event and appends the resulting actions to `actions`, in the order to perform them.
    mutating func handle(_ event: OnlineEvent, nowMs: UInt64, into actions: inout [OnlineAction]) {
        switch event {
        case .workers(let live): updateWorkers(live, nowMs: nowMs, into: &actions)
        case .impression(let worker, let record, let reply):
            queueImpression(worker: worker, record: record, reply: reply, nowMs: nowMs, into: &actions)
        case .feedback(let identity, let message):
            handleFeedback(identity: identity, message: message, nowMs: nowMs, into: &actions)
        case .lookedUp(let query, let found): lookedUp(query, found: found, into: &actions)
        case .policyState(let identity, let message):
            handlePolicyState(identity: identity, message: message, nowMs: nowMs, into: &actions)
        case .control(let identity, let header, let request, let bytes):
            handleControl(
                Requester(identity: identity, header: header), request: request, bytes: bytes, nowMs: nowMs,
                into: &actions)
        case .verdict(let sync, let decision):
            handleVerdict(sync: sync, decision: decision, nowMs: nowMs, into: &actions)
        case .committed(let result): committed(result, into: &actions)
        case .versionStored(let sync, let result):
            versionStored(sync: sync, result: result, nowMs: nowMs, into: &actions)
        case .frozenStored(let freeze, let requester, let result):
            frozenStored(freeze, requester: requester, result: result, nowMs: nowMs, into: &actions)
        case .tick: tick(nowMs: nowMs, into: &actions)
        case .flush: flushPending(into: &actions)
        }
    }

    /// The live workers changed: install the policy on newcomers, hand the departed's unsynced events on. A worker
    /// that sent READY again (the same identity, a new registration) lost what it held with the registration it
    /// replaced: it is forgotten as a departed one is (a sync's pull to it no longer waits for its answer, its
    /// unsynced events go on), then installed as a newcomer.
    mutating func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64, into actions: inout [OnlineAction]) {
        let online = live.filter(\.online).sorted { $0.id < $1.id }
        let registeredAgain = TrainingWorker.registeredAgain(online, since: workers)
        let before = Set(workers.map(\.identity))
        let now = Set(online.map(\.identity))
        workers = online
        for identity in registeredAgain.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            forget(identity, into: &actions)
        }
        for worker in online where !before.contains(worker.identity) || registeredAgain.contains(worker.identity) {
            install(on: worker.identity, into: &actions)
        }
        for gone in before.subtracting(now) { forget(gone, into: &actions) }
        if case .pulling(_, let pending, _) = phase, pending.isEmpty { closeSync(nowMs: nowMs, into: &actions) }
    }

    /// Forgets a replica that left (or registered again): its installed state, its share of a sync's pull, and hands
    /// its unsynced feedback to another replica.
    mutating func forget(_ gone: [UInt8], into actions: inout [OnlineAction]) {
        replicas[gone] = nil
        unansweredLongWait.remove(gone)
        installedBases[gone] = nil
        outgoing[gone] = nil
        catalogueShipments[gone] = nil
        if case .pulling(let round, var pending, var results) = phase {
            pending.remove(gone)
            results[gone] = nil
            phase = .pulling(round, pending: pending, results: results)
        }
        var orphaned = unsynced.removeValue(forKey: gone) ?? []
        if case .pulling(var round, let pending, let results) = phase, !orphaned.isEmpty {
            round.orphanedEvents += orphaned.count
            phase = .pulling(round, pending: pending, results: results)
        }
        switch phase {
        case .judging, .storing:
            // The sync consumes what it merged (the replica answered) and what was sent again once already
            // (``syncPartition``, which the stored version's marks already name): only the rest is handed on.
            let merged = answeredSync.contains(gone)
            consumedBySync += orphaned.filter { merged || reheld.contains(RecStore.FeedbackKey($0)) }
            orphaned.removeAll { merged || reheld.contains(RecStore.FeedbackKey($0)) }
        case .idle, .pulling:
            break
        }
        if !orphaned.isEmpty {
            actions.append(
                .log(
                    .warning, "a learner left; its unsynced feedback goes to another replica",
                    ["events": "\(orphaned.count)"]))
            for event in orphaned { deliver(event, preferring: nil) }
        }
        viewDirty = true
    }

    /// The spec as POLICY messages and stored versions hold it: without items when it names a registry catalogue
    /// version (``catalogue``), so neither grows with the catalogue.
    var storedSpec: OnlinePolicySpec { catalogue == nil ? spec : spec.withoutItems }

    /// Sends the served version to one replica: over a registry catalogue the POLICY names the catalogue version
    /// (the replica holds it from CATALOGUE) instead of inlining its rows; frame 2 carries only the statistics rows
    /// changed since the version the replica installed when the broker holds that base (``policyFrame(for:)``),
    /// else the whole pack, and the document names the whole pack's SHA-256 either way.
    func install(on identity: [UInt8], into actions: inout [OnlineAction]) {
        var document = PolicyInstall(
            version: version, spec: spec, learningEnabled: !frozen, catalogue: catalogue,
            weightsSha256: weightsSHA.isEmpty ? nil : weightsSHA)
        if let mergedPull, mergedPull.version == version, mergedPull.sha256 == weightsSHA,
            mergedPull.replicas.contains(identity)
        {
            document.mergedSync = mergedPull.sync
        }
        let frame = policyFrame(for: identity)
        actions.append(
            .send(
                .toWorker(
                    identity: identity,
                    frames: [
                        Header(command: .policy, modelVersion: version).encoded(), WireJSON.encode(document),
                        frame.bytes,
                    ])))
        actions.append(
            .log(
                .debug, "sent POLICY",
                [
                    "version": "\(version)", "pack_form": frame.deltaRows == nil ? "full" : "delta",
                    "delta_rows": frame.deltaRows.map { "\($0)" } ?? "all", "pack_bytes": "\(frame.bytes.count)",
                ]))
    }

    /// How many sync timeouts a pull waits for a live replica that has not answered while others have
    /// (``tick(nowMs:into:)``): 12, a minute at the default 5 s.
    static let behindWaitFactor: UInt64 = 12

    /// Periodic work: flush the log and learner batches, start or close syncs, publish the view.
    mutating func tick(nowMs: UInt64, into actions: inout [OnlineAction]) {
        flushPending(into: &actions)
        if case .pulling(var round, let pending, let results) = phase,
            nowMs >= round.startedMs.addingSaturating(settings.syncTimeoutMs)
        {
            // A replica still to answer that is live is behind on learning, not gone: its pull waits behind the LEARN
            // batches queued before it. Closing the sync then reset it and sent its whole backlog to the replicas that
            // answered, which took longer than the timeout to learn it in turn, so the next sync consumed it unlearnt
            // (5,132 of 9,000 acknowledged events under `recpool simulate --concurrency 4` on 2 cores). The pull waits
            // up to `behindWaitFactor` timeouts for it; a replica that leaves is no longer waited for.
            let live = Set(workers.map(\.identity))
            let behind = !pending.isEmpty && pending.allSatisfy { live.contains($0) && !unansweredLongWait.contains($0) }
            let longest = round.startedMs.addingSaturating(
                settings.syncTimeoutMs.multipliedReportingOverflow(by: Self.behindWaitFactor).partialValue)
            if !round.corrupt, !round.registration, !results.isEmpty, behind, nowMs < longest {
                if !round.waitingForBehind {
                    round.waitingForBehind = true
                    phase = .pulling(round, pending: pending, results: results)
                    actions.append(
                        .log(
                            .warning,
                            "online sync: live replicas are behind on learning; waiting for their answers (up to "
                                + "\(Self.behindWaitFactor) × --online-sync-timeout-ms) instead of resetting them",
                            ["sync": "\(round.id)", "answered": "\(results.count)", "waiting": "\(pending.count)"]))
                }
            } else if !round.corrupt, !round.registration, results.isEmpty {
                // No answer at all: the replicas are behind, not gone (an answer for another version still ends the
                // sync, which installs the served version on that replica).
                abandonSync(nowMs: nowMs, into: &actions)
            } else {
                if round.waitingForBehind { unansweredLongWait.formUnion(pending) }
                actions.append(
                    .log(
                        .warning, "online sync timed out; merging the replicas that answered",
                        ["sync": "\(round.id)", "answered": "\(results.count)"]))
                closeSync(nowMs: nowMs, into: &actions)
            }
        }
        if !syncing, !frozen, !workers.isEmpty, eventsSinceSync > 0, nowMs >= syncRetryAfterMs,
            eventsSinceSync >= settings.syncEvents
                || (settings.syncIntervalMs > 0 && nowMs >= intervalStartMs.addingSaturating(settings.syncIntervalMs))
        {
            startSync(corrupt: false, nowMs: nowMs, into: &actions)
        }
        flushLearn(into: &actions)
        if viewDirty { publishView(into: &actions) }
    }

    /// Sends the current view to the reactor's status document now. Called before a reply that
    /// reports a change, so a STATUS sent after that reply already shows it.
    mutating func publishView(into actions: inout [OnlineAction]) {
        viewDirty = false
        actions.append(.send(.online(view)))
        actions.append(.send(.policyReplicas(Set(replicas.keys))))
    }

    /// What `recpool online status` and the status document show.
    var view: OnlineView {
        OnlineView(
            enabled: true, frozen: frozen, version: version, weightsSha256: weightsSHA, syncs: syncs,
            rejected: rejected, lastSyncMs: lastSyncMs, syncIntervalMs: settings.syncIntervalMs,
            syncEvents: settings.syncEvents, impressions: impressionCount, feedback: feedbackCount,
            duplicates: duplicates, pendingEvents: eventsSinceSync, lastDecision: lastDecision,
            replicas: replicas.values.sorted { $0.worker < $1.worker }, syncing: syncing,
            catalogueVersion: catalogueVersion, emptySyncs: emptySyncs, unlearntEvents: unlearntEvents)
    }

    /// An error reply to a client.
    func reply(_ to: Requester, _ status: Status, text: String, into actions: inout [OnlineAction]) {
        actions.append(
            .send(
                .toClient(
                    identity: to.identity,
                    frames: WireMessage.errorReply(to: to.header, status: status, message: text).frames())))
    }

    /// An OK CONTROL reply to a client carrying `document`.
    func answer(_ to: Requester, _ document: [UInt8], into actions: inout [OnlineAction]) {
        var ok = to.header.reply(status: .ok, modelVersion: version)
        ok.command = .control
        actions.append(.send(.toClient(identity: to.identity, frames: [ok.encoded(), document])))
    }
}
