import RecPolicy
import RecWire

extension OnlineCore {
    /// `online_register`: a policy trained offline (a warm start from logs, `recpool policy warmstart`) becomes the
    /// next version, stored before it is served, then installed on every replica; online learning continues from
    /// its statistics. The guard does not judge it (the off-policy report of the warm start is its check), and the
    /// stored version records the catalogue version it was trained on.
    ///
    /// Refusals, each naming the problem: BAD_REQUEST without a pack that fits the served spec or without
    /// `catalogue_version`; CONFLICT when
    /// the policy was trained on another catalogue version than the one served (or the pool serves the simulator
    /// world's catalogue), when the pool serves another version than `version` (the served version the policy was
    /// warm-started from) now (a sync merged feedback into a newer version while the warm start trained: registering
    /// over it would drop that feedback, consumed by the sync, from every policy), or while a sync is out. A request
    /// without `version` (a client from before it was added) is registered unchecked, with a warning logged. What the replicas learnt since the last sync is not lost:
    /// those events are sent again after the registered version's install.
    mutating func register(
        _ requester: Requester, catalogueVersion trained: UInt64?, startVersion: UInt64?, pack bytes: [UInt8]?,
        nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        guard let bytes else {
            return reply(
                requester, .badRequest, text: "online_register needs the policy's weights pack in frame 2",
                into: &actions)
        }
        // A frame 2 that is there but does not decode is named as such, not reported missing.
        let pack: ParameterPack
        do {
            pack = try ParameterPack(decoding: bytes)
        } catch {
            return reply(
                requester, .badRequest, text: "online_register: frame 2 is not a weights pack: \(error)",
                into: &actions)
        }
        guard let trained else {
            return reply(
                requester, .badRequest, text: "online_register needs catalogue_version: the catalogue the policy was trained on",
                into: &actions)
        }
        guard let serving = catalogueVersion else {
            return reply(
                requester, .conflict,
                text: "the pool serves the simulator world's catalogue, not catalogue version \(trained); "
                    + "start the broker with --online-catalogue", into: &actions)
        }
        guard trained == serving else {
            return reply(
                requester, .conflict,
                text: "the policy was trained on catalogue version \(trained), the pool serves catalogue version "
                    + "\(serving); warm-start it again on version \(serving)", into: &actions)
        }
        guard !syncing else {
            return reply(requester, .conflict, text: "a sync is in progress; retry shortly", into: &actions)
        }
        if startVersion == nil {
            // A client from before `version` was added: registered as it was then, and said so.
            actions.append(
                .log(
                    .warning,
                    "online_register names no version it was warm-started from: registered without checking that no "
                        + "sync stored a newer version meanwhile (feedback that sync merged is not in it)",
                    ["serving": "\(version)"]))
        }
        guard startVersion == nil || startVersion == version else {
            return reply(
                requester, .conflict,
                text: "the policy was warm-started from version \(startVersion ?? 0), the pool serves version \(version) now: "
                    + "feedback merged into the versions since would be lost; warm-start it again from version \(version)",
                into: &actions)
        }
        guard version < PolicyVersionExhausted.largestVersion else {
            return reply(requester, .conflict, text: "\(PolicyVersionExhausted(version: version))", into: &actions)
        }
        // A warm start is the contextual bandit's logistic statistics: a session DQN's are Q-values in reward units
        // (an older client's `policy warmstart --register` did not check).
        guard spec.learning.learner == .contextualBandit else {
            return reply(
                requester, .conflict,
                text: "a registered warm start holds the contextual bandit's statistics; this pool's learner is "
                    + "\(spec.learning.learner.rawValue), whose statistics are Q-values learnt from whole sessions",
                into: &actions)
        }
        let candidate: OnlinePolicy
        do {
            candidate = try PolicyWeights.policy(pack, like: policy)
        } catch {
            return reply(
                requester, .badRequest, text: "the policy does not fit the served spec: \(error)", into: &actions)
        }
        // The registered version's install drops what the replicas learnt since the last sync: those events go out
        // again after it, learnt on top of the registered statistics (nothing is replaced, nothing learnt twice).
        for worker in workers { rehold(worker.identity, nowMs: nowMs, into: &actions) }
        let decision = GuardDecision(
            accepted: true,
            reason: "registered: trained offline on catalogue version \(trained) (a warm start), not judged by the guard",
            candidateValue: nil, currentValue: nil, margin: settings.guardMargin, rows: 0, atMs: nowMs)
        let id = nextSyncId
        nextSyncId += 1
        phase = .storing(
            SyncRound(id: id, startedMs: nowMs, corrupt: false, requesters: [requester], registration: true),
            candidate: candidate,
            contributors: 0, events: 0, decision: decision)
        viewDirty = true
        actions.append(
            .storeVersion(
                VersionToStore(
                    sync: id, version: version + 1, pack: PolicyWeights.pack(candidate).encoded(),
                    spec: String(decoding: WireJSON.encode(storedSpec), as: UTF8.self),
                    decision: String(decoding: WireJSON.encode(decision), as: UTF8.self), catalogueVersion: serving)))
    }
}
