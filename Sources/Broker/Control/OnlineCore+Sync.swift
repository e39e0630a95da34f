import Foundation
import RecPolicy
import RecStore
import RecWire

extension OnlineCore {
    /// Asks every replica for its learnt weights: idle → pulling.
    mutating func startSync(
        corrupt: Bool, requesters: [Requester] = [], nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        flushLearn(into: &actions)
        // No replica, and acknowledged events waiting for one to learn them (after a restart, say): an `online sync`
        // answered OK "empty" here merged none of what was learnt before it. Refused, so the caller retries.
        if workers.isEmpty && !held.isEmpty && !requesters.isEmpty {
            for requester in requesters {
                reply(
                    requester, .conflict,
                    text: "no replica serves the online policy: \(held.count) acknowledged feedback events wait for one "
                        + "to learn them, so a sync now would merge none of them; retry once a worker has registered",
                    into: &actions)
            }
            return
        }
        let id = nextSyncId
        nextSyncId += 1
        // A replica's newest pull is now this one: a later POLICY names no earlier one.
        mergedPull = nil
        phase = .pulling(
            SyncRound(id: id, startedMs: nowMs, corrupt: corrupt, requesters: requesters),
            pending: Set(workers.map(\.identity)), results: [:])
        viewDirty = true
        for worker in workers {
            actions.append(
                .send(
                    .toWorker(
                        identity: worker.identity, frames: [Header(command: .policyPull, requestId: id).encoded()])))
        }
        actions.append(.log(.debug, "online sync started", ["sync": "\(id)", "replicas": "\(workers.count)"]))
        if workers.isEmpty { closeSync(nowMs: nowMs, into: &actions) }
    }

    /// Handles POLICY_STATE from a replica.
    mutating func handlePolicyState(
        identity: [UInt8], message: WireMessage, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        guard let report = try? WireJSON.decode(PolicyStateReport.self, from: try message.frame(0)) else {
            actions.append(.log(.warning, "a replica sent a POLICY_STATE that does not decode", [:]))
            return
        }
        let name = workers.first { $0.identity == identity }?.id ?? "?"
        switch report.kind {
        case .catalogueMissing:
            shipMissingCatalogue(to: identity, report: report, nowMs: nowMs, into: &actions)
        case .deltaRefused:
            resendWhole(to: identity, report: report, nowMs: nowMs, into: &actions)
        case .refused:
            // Sending it again would be refused again: logged and counted, and the replica is routed RECOMMEND only
            // for what it reported installing before.
            actions.append(
                .log(
                    .error, "a replica refused the online policy it was sent; it keeps serving what it served",
                    ["worker": "\(name)", "policy_version": "\(report.version)", "error": "\(report.error ?? "")"]))
        case .installed:
            // A late report from a replica already gone would leave its view and delta base behind for good.
            guard workers.contains(where: { $0.identity == identity }) else {
                actions.append(.log(.debug, "an install report from a replica no longer live is ignored", [:]))
                return
            }
            if let problem = installedProblem(report) {
                // Never routed RECOMMEND: its slates would go out, and be logged, under a version the pool cannot
                // stand behind. It serves again once it reports installing what the broker sent it.
                actions.append(
                    .log(
                        .warning, "a replica reported installing a policy this pool did not send; it gets no RECOMMEND",
                        ["worker": "\(name)", "problem": "\(problem)"]))
                if replicas.removeValue(forKey: identity) != nil { viewDirty = true }
                installedBases[identity] = nil
                return
            }
            catalogueShipments[identity] = nil
            replicas[identity] = ReplicaPolicyView(
                worker: name, version: report.version, weightsSha256: report.weightsSha256)
            installedBases[identity] = ReplicaBase(
                version: report.version, sha256: report.weightsSha256, catalogue: report.catalogue)
            viewDirty = true
        case .sync:
            // Any answer shows the replica learns, a late one to an earlier round too: it is waited for again.
            unansweredLongWait.remove(identity)
            guard case .pulling(var round, var pending, var results) = phase, round.id == report.sync,
                pending.contains(identity)
            else { return }
            pending.remove(identity)
            unansweredLongWait.remove(identity)
            if let problem = report.problem {
                actions.append(
                    .log(
                        .warning, "a replica's sync report is invalid; its learning is not merged",
                        ["worker": "\(name)", "error": "\(problem)"]))
                round.refusedEvents += eventsSentAgain(by: identity)
            } else if message.payload.count < 2 {
                actions.append(.log(.warning, "a replica's sync state has no readable pack", ["worker": "\(name)"]))
                round.refusedEvents += eventsSentAgain(by: identity)
            } else if report.version != version || report.events == 0 {
                // Not merged (closeSync takes only the current version's learning): the frame is not read.
                results[identity] = SyncResult(report: report, pack: ParameterPack(step: 0, vectors: []))
            } else {
                do {
                    results[identity] = SyncResult(report: report, pack: try syncPack(message.payload[1], report: report))
                } catch {
                    actions.append(
                        .log(
                            .warning, "a replica's sync state has no readable pack; its learning is not merged",
                            ["worker": "\(name)", "error": "\(error)"]))
                    round.refusedEvents += eventsSentAgain(by: identity)
                }
            }
            phase = .pulling(round, pending: pending, results: results)
            if pending.isEmpty { closeSync(nowMs: nowMs, into: &actions) }
        }
    }

    /// How many of the events `identity` learnt since the last sync go to the replicas again when its report is
    /// not merged: those sent once already (``reheld``) are consumed unlearnt instead (``syncPartition``).
    func eventsSentAgain(by identity: [UInt8]) -> Int {
        (unsynced[identity] ?? []).reduce(0) { $0 + (reheld.contains(RecStore.FeedbackKey($1)) ? 0 : 1) }
    }

    /// Why an `installed` report names a policy this broker did not send, or nil: a version above the served one
    /// (never stored), the served version under other weights, or an earlier version whose pack the broker still
    /// holds under other weights. An earlier version it no longer holds is taken: a replica installing late.
    func installedProblem(_ report: PolicyStateReport) -> String? {
        guard (1...max(version, 1)).contains(report.version) else {
            return "version \(report.version), which this pool never served (it serves \(version))"
        }
        let expected = report.version == version ? weightsSHA : heldPacks[report.version]?.sha256
        if let expected, !expected.isEmpty, report.weightsSha256 != expected {
            return "version \(report.version) with weights \(report.weightsSha256), not the pool's \(expected)"
        }
        return nil
    }

    /// Averages what came back and hands the candidate to the guard (pulling → judging), after the
    /// log is committed so the guard reads it; with nothing to judge, the sync ends at once.
    mutating func closeSync(nowMs: UInt64, into actions: inout [OnlineAction]) {
        guard case .pulling(var round, let pending, let results) = phase else { return }
        // No replica answered because the ones that held learnt events left during the pull (their events went back
        // to be learnt again): the requesters are told CONFLICT, as a sync asked for with no replica is
        // (`startSync`), never OK "nothing to merge", and it is no empty sync.
        // So too when the only reports of learnt events were refused (invalid, or no readable pack): their events go
        // to the replicas again, and "nothing to merge" would say there was none.
        let contributes = results.values.contains { $0.report.version == version && $0.report.events > 0 }
        let left = results.isEmpty && round.orphanedEvents > 0
        let refused = !contributes && !round.corrupt && round.refusedEvents > 0
        let abandoned = (left || refused) && !round.requesters.isEmpty
        if abandoned {
            let text =
                left
                ? "the replicas left during the sync: \(round.orphanedEvents) acknowledged feedback events they "
                    + "had learnt wait for a replica to learn them again, and the sync merged none of them; retry "
                    + "once a worker serves the policy"
                : "the replicas' sync reports were refused (the broker's log says why): \(round.refusedEvents) "
                    + "acknowledged feedback events they had learnt go to the replicas again, and the sync merged none "
                    + "of them; retry the sync"
            for requester in round.requesters {
                reply(requester, .conflict, text: text, into: &actions)
            }
            round.requesters = []
            phase = .pulling(round, pending: pending, results: results)
        }
        // An answer for the served version, with or without learning: the sync consumes that replica's events.
        answeredSync = Set(results.filter { $0.value.report.version == version }.keys)
        let contributions = results.values.filter { $0.report.version == version && $0.report.events > 0 }
        candidateContributors =
            round.corrupt ? [] : Set(results.filter { $0.value.report.version == version && $0.value.report.events > 0 }.keys)
        guard round.corrupt || !contributions.isEmpty else {
            // Nothing learnt since the served version: no candidate, so neither accepted nor rejected, but the sync
            // ran (and sets `last_sync_ms`), so it is counted as an empty one.
            // A sync whose replicas left, or whose reports of learnt events were refused, had learning: no empty one.
            if !left && !refused { emptySyncs += 1 }
            actions.append(.log(.debug, "online sync had no learning to merge", ["sync": "\(round.id)"]))
            finishSync(nil, nowMs: nowMs, into: &actions)
            return
        }
        let candidate: OnlinePolicy
        do {
            if round.corrupt {
                let noise = PolicyWeights.noise(like: policy, seed: round.id &* 0x9E37_79B9)
                candidate = try PolicyWeights.policy(noise, like: policy)
            } else {
                // Every contribution started from the current version: the exact merge of their statistics is
                // what one learner that saw all their events would hold (no dilution by the replica count).
                let merged = try PolicyWeights.merge(base: PolicyWeights.pack(policy), replicas: contributions.map(\.pack))
                candidate = try PolicyWeights.policy(merged, like: policy)
            }
        } catch {
            rejected += 1
            actions.append(.log(.error, "online sync failed", ["error": "\(error)"]))
            finishSync(
                GuardDecision(
                    accepted: false, reason: "rejected: the candidate could not be built: \(error)",
                    candidateValue: nil,
                    currentValue: nil, margin: settings.guardMargin, rows: 0, atMs: nowMs),
                nowMs: nowMs, into: &actions)
            return
        }
        phase = .judging(
            round, candidate: candidate, contributors: contributions.count,
            events: contributions.reduce(0) { $0.addingSaturating($1.report.events) })
        flushPending(into: &actions)
        actions.append(
            .judge(
                GuardCandidate(
                    sync: round.id, candidate: candidate, current: policy, impressions: settings.guardImpressions,
                    margin: settings.guardMargin, minimumRows: settings.guardMinimumRows)))
    }

    /// The guard's verdict on the judged candidate: an admitted one is stored before it is served (judging → storing).
    mutating func handleVerdict(
        sync id: UInt64, decision: GuardDecision, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        guard case .judging(let round, let candidate, let contributors, let events) = phase, round.id == id else {
            return
        }
        guard decision.accepted else {
            rejected += 1
            actions.append(
                .log(
                    .warning, "online sync rejected by the guard; replicas keep serving the current version",
                    ["version": "\(version)", "guard": "\(decision.reason)"]))
            return finishSync(decision, nowMs: nowMs, into: &actions)
        }
        guard version < PolicyVersionExhausted.largestVersion else {
            return versionNotStored(
                decision, because: "\(PolicyVersionExhausted(version: version))", nowMs: nowMs, into: &actions)
        }
        phase = .storing(round, candidate: candidate, contributors: contributors, events: events, decision: decision)
        actions.append(
            .storeVersion(
                VersionToStore(
                    sync: id, version: version + 1, pack: PolicyWeights.pack(candidate).encoded(),
                    spec: String(decoding: WireJSON.encode(storedSpec), as: UTF8.self),
                    decision: String(decoding: WireJSON.encode(decision), as: UTF8.self),
                    catalogueVersion: catalogueVersion, learnt: syncPartition.consumedKeys)))
    }

    /// The admitted candidate's write: stored, it is served as the next version; not stored, it is not
    /// served, and the decision the requester and the status see says why.
    mutating func versionStored(
        sync id: UInt64, result: Result<String, StoreError>, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        guard case .storing(let round, let candidate, let contributors, let events, let decision) = phase,
            round.id == id
        else { return }
        switch result {
        case .success(let sha):
            adopt(candidate, version: version + 1, pack: PolicyWeights.pack(candidate).encoded(), sha: sha)
            if !round.registration && !round.corrupt {
                mergedPull = (version, sha, round.id, candidateContributors)
            }
            if round.registration {
                actions.append(
                    .log(.info, "online policy registered", ["version": "\(version)", "reason": "\(decision.reason)"]))
            } else {
                syncs += 1
                actions.append(
                    .log(
                        .info, "online sync accepted",
                        [
                            "version": "\(version)", "replicas": "\(contributors)", "events": "\(events)",
                            "guard": "\(decision.reason)",
                        ]))
            }
            finishSync(decision, consumedStored: true, nowMs: nowMs, into: &actions)
        case .failure(let error):
            durableWriteFailures += 1
            versionNotStored(decision, because: "\(error)", nowMs: nowMs, into: &actions)
        }
    }

    /// Ends a sync whose admitted candidate could not be stored (a full disk, an unwritable blob directory, no next
    /// version number): it counts as rejected, and nothing of it is consumed. As every sync's end does, the replicas are
    /// installed the served version again (dropping what they learnt since), and then every event the sync would have
    /// consumed is sent to them again (``finishSync(_:consumedStored:storeFailed:nowMs:into:)``), so each is learnt
    /// once, stays unlearnt in the store, and is merged by the next sync. Before, the events were marked learnt with the
    /// candidate dropped: acknowledged feedback the guard had accepted was never learnt.
    private mutating func versionNotStored(
        _ decision: GuardDecision, because error: String, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        rejected += 1
        actions.append(
            .log(
                .error, "cannot store the accepted online version; its feedback goes to the replicas again",
                ["error": "\(error)"]))
        var decision = decision
        decision.accepted = false
        var registration = false
        if case .storing(let round, _, _, _, _) = phase { registration = round.registration }
        decision.reason =
            registration
            ? "rejected: the registered warm start could not be stored durably (\(error)); replicas keep serving "
                + "version \(version)"
            : "rejected: the guard accepted the candidate but it could not be stored durably (\(error)); "
                + "replicas keep serving version \(version), and its feedback goes to them again for the next sync"
        finishSync(decision, storeFailed: true, nowMs: nowMs, into: &actions)
    }

    /// What the running sync does with the events delivered since the last one (``SyncPartition``).
    var syncPartition: SyncPartition {
        var partition = SyncPartition(consumed: consumedBySync, again: [], unlearnt: 0)
        for (identity, events) in unsynced {
            if answeredSync.contains(identity) {
                partition.consumed += events
                continue
            }
            for event in events {
                if reheld.contains(RecStore.FeedbackKey(event)) {
                    partition.consumed.append(event)
                    partition.unlearnt += 1
                } else {
                    partition.again.append(event)
                }
            }
        }
        return partition
    }

    /// Ends a sync that timed out with no replica's answer (→ idle), changing nothing: the
    /// replicas are alive but behind (on a loaded machine the LEARN batches queued ahead of the pull take longer than
    /// the timeout), so re-installing the served version would discard what they learnt, and handing their events on
    /// as in no merge would end, at the second such sync, with acknowledged feedback consumed without being learnt.
    /// Instead every replica keeps its learning and its events, and the next sync, no sooner than one timeout from
    /// now, pulls them. The `online_sync` requests it would have answered are answered CONFLICT naming why.
    mutating func abandonSync(nowMs: UInt64, into actions: inout [OnlineAction]) {
        guard case .pulling(let round, _, _) = phase else { return }
        phase = .idle
        abandonedSyncs += 1
        syncRetryAfterMs = nowMs.addingSaturating(settings.syncTimeoutMs)
        actions.append(
            .log(
                .warning,
                "online sync timed out with no replica's answer; nothing changes: the replicas keep what they learnt "
                    + "for the next sync",
                ["sync": "\(round.id)", "pending_events": "\(eventsSinceSync)"]))
        let why =
            "the online sync timed out: no replica answered within \(settings.syncTimeoutMs) ms (they are behind on "
            + "learning); nothing changed and no feedback is lost: retry"
        for requester in round.requesters + waitingSyncs { reply(requester, .conflict, text: why, into: &actions) }
        waitingSyncs.removeAll()
        viewDirty = true
        // Freezes that waited for this sync take effect now that it ended with nothing stored.
        answerWaitingFreezes(nowMs: nowMs, into: &actions)
    }

    /// Ends the running sync (→ idle): every replica is told which version to serve, held events follow.
    /// - Parameters:
    ///   - consumedStored: whether the version's store already marked the consumed events, in its transaction.
    ///   - storeFailed: the accepted version could not be stored: nothing is consumed, and the events the sync would
    ///     have consumed are sent to the replicas again after the install, as a replica's in no merge are.
    mutating func finishSync(
        _ decision: GuardDecision?, consumedStored: Bool = false, storeFailed: Bool = false, nowMs: UInt64,
        into actions: inout [OnlineAction]
    ) {
        let round: SyncRound
        switch phase {
        case .idle: return
        case .pulling(let r, _, _), .judging(let r, _, _, _), .storing(let r, _, _, _, _): round = r
        }
        if let decision { lastDecision = decision }
        phase = .idle
        // Merged into the stored version, or dropped with the candidate: either way a restarted broker must not hand
        // the consumed events on again. The others go to the replicas that answered, after the installs below.
        var partition = syncPartition
        // Events of replicas in no merge use their one chance of being sent again; events a failed store drops were
        // merged (the store failed, not their replica) and keep theirs: counted as used, a full disk followed by one
        // slow replica consumed acknowledged feedback without learning it, and marked it learnt in the store.
        let missedMerge = partition.again
        if storeFailed {
            // In no stored version: learnt by nobody once the install below drops the replicas' learning.
            partition.again = partition.consumed + partition.again
            partition.consumed = []
            partition.unlearnt = 0
        }
        let consumed = partition.consumedKeys
        if !consumedStored, !consumed.isEmpty { actions.append(.markLearnt(consumed)) }
        reheld.subtract(consumed)
        for event in missedMerge { reheld.insert(RecStore.FeedbackKey(event)) }
        let answered = workers.map(\.identity).filter { answeredSync.contains($0) }
        unsynced.removeAll()
        consumedBySync.removeAll()
        answeredSync.removeAll()
        unconsumedEvictedSinceSync = 0
        if partition.unlearnt > 0 {
            unlearntEvents += partition.unlearnt
            actions.append(
                .log(
                    .warning, "feedback sent again once was in no merge again; it is consumed without being learnt",
                    ["sync": "\(round.id)", "events": "\(partition.unlearnt)"]))
        }
        if !partition.again.isEmpty && !storeFailed {
            actions.append(
                .log(
                    .warning, "replicas in no merge of this sync; their feedback goes to the replicas again",
                    ["sync": "\(round.id)", "events": "\(partition.again.count)"]))
        }
        // A registration restarts the interval (the replicas start from the registered version) but is not a sync.
        if !round.registration { lastSyncMs = nowMs }
        intervalStartMs = nowMs
        viewDirty = true
        for worker in workers { install(on: worker.identity, into: &actions) }
        for event in partition.again { deliver(event, among: answered) }
        flushLearn(into: &actions)
        publishView(into: &actions)
        // A version the guard accepted but the disk did not take is an error for whoever asked for the sync (it
        // was answered OK, and `recpool online sync && …` went on); a guard's rejection is a sync's answer.
        for requester in round.requesters {
            if storeFailed, let reason = lastDecision?.reason {
                let what = round.registration ? "the registered version" : "the online sync's version"
                reply(requester, .internal, text: "\(what) was not stored: \(reason)", into: &actions)
            } else {
                answer(requester, WireJSON.encode(view), into: &actions)
            }
        }
        // Freezes that waited for this sync's candidate take effect now, before a waiting sync could start.
        answerWaitingFreezes(nowMs: nowMs, into: &actions)
        startWaitingSync(nowMs: nowMs, into: &actions)
    }

    /// Freezes that waited for the sync that just ended take effect and are answered; those an unfreeze superseded
    /// meanwhile are answered with the view as it is now.
    mutating func answerWaitingFreezes(nowMs: UInt64, into actions: inout [OnlineAction]) {
        let freezes = deferredFreezes
        deferredFreezes.removeAll()
        for requester in freezes { applyFrozen(true, requester: requester, nowMs: nowMs, into: &actions) }
        let superseded = supersededFreezes
        supersededFreezes.removeAll()
        for requester in superseded { answer(requester, WireJSON.encode(view), into: &actions) }
    }

    /// Starts the sync the `online_sync` requests that arrived during the last one wait for; when learning was frozen
    /// meanwhile, they are refused CONFLICT as a request made now would be.
    mutating func startWaitingSync(nowMs: UInt64, into actions: inout [OnlineAction]) {
        guard !waitingSyncs.isEmpty, !syncing else { return }
        let requesters = waitingSyncs
        waitingSyncs.removeAll()
        guard !frozen else {
            for requester in requesters {
                reply(requester, .conflict, text: "online learning is frozen; unfreeze it first", into: &actions)
            }
            return
        }
        startSync(corrupt: false, requesters: requesters, nowMs: nowMs, into: &actions)
    }
}

/// What a finished sync does with the events delivered to the replicas since the last one.
struct SyncPartition {
    /// Merged into the candidate (the replica's answer was taken, or the replica left after it was), or already sent
    /// again once: marked learnt, never handed on again.
    var consumed: [LearnEvent]
    /// The events of replicas in no merge (no answer, an answer for another version, an unreadable one), sent again
    /// once to the replicas that answered.
    var again: [LearnEvent]
    /// How many of ``consumed`` were sent again once and were in no merge again: consumed without being learnt.
    var unlearnt: Int

    /// ``consumed`` as store keys.
    var consumedKeys: [RecStore.FeedbackKey] { consumed.map(RecStore.FeedbackKey.init) }
}

extension RecStore.FeedbackKey {
    /// The key of a learning event's feedback row.
    init(_ event: LearnEvent) { self.init(impressionId: event.impressionId, item: event.item) }
}

/// The stored online policy version is the largest there is, so no next version can be numbered.
struct PolicyVersionExhausted: Error, CustomStringConvertible {
    /// The largest version the store can hold: 2⁶³ − 1, SQLite's largest integer. A next version past it would be
    /// stored clamped onto this number, replacing the policy stored under it (a number naming two policies).
    static let largestVersion = UInt64(Int64.max)
    /// The stored version.
    var version: UInt64
    var description: String { "online policy version \(version) has no successor" }
}

/// The newest stored online policy version cannot be served: its weights cannot be read, give no finite posterior,
/// or do not have the shape its own spec gives. The broker does not start (exit 65, `BrokerError.unreadableState`)
/// rather than serve an untrained policy under a new version, or answer without the policy; the stored versions are
/// left as they are.
struct StoredPolicyUnusable: Error, CustomStringConvertible {
    /// The stored version.
    var version: UInt64
    /// Why it cannot be served.
    var problem: String

    /// Weights that were read and do not fit or give no finite posterior.
    init(version: UInt64, error: PolicyError) {
        self.version = version
        problem = "\(error)"
    }

    /// Weights that could not be read.
    init(version: UInt64, unreadable: String) {
        self.version = version
        problem = "its weights cannot be read: \(unreadable)"
    }

    /// The catalogue version it was learnt over is lost or unreadable: its statistics' rows cannot be matched to items.
    init(version: UInt64, catalogue: UInt64, problem: String) {
        self.version = version
        self.problem = "it was learnt over catalogue version \(catalogue), and \(problem)"
    }

    var description: String {
        "stored online policy version \(version) cannot be served (\(problem)); the state directory is corrupt: restore "
            + "it from a backup, or move it aside to start a new lineage"
    }
}
