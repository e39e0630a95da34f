import RecStore
import RecWire

extension OnlineCore {
    /// Answers an online CONTROL request, one function per operation.
    mutating func handleControl(
        _ requester: Requester, request: ControlRequest, bytes: [UInt8]? = nil, nowMs: UInt64,
        into actions: inout [OnlineAction]
    ) {
        switch request.operation {
        case .online?:
            answer(requester, WireJSON.encode(view), into: &actions)
        case .onlineFreeze?:
            setFrozen(true, requester: requester, into: &actions)
        case .onlineUnfreeze?:
            setFrozen(false, requester: requester, into: &actions)
        case .onlineSync?:
            syncNow(requester, corruption: request.corrupt, nowMs: nowMs, into: &actions)
        case .onlinePolicy?:
            if let wanted = request.version, wanted != version {
                return actions.append(.answerPolicyVersion(requester: requester, version: wanted))
            }
            var document = PolicyInstall(
                version: version, spec: spec, learningEnabled: !frozen,
                weightsSha256: weightsSHA.isEmpty ? nil : weightsSHA)
            // Named as well as inlined: a client reading the document can tell which registry version the rows are.
            document.catalogue = catalogue
            var ok = requester.header.reply(status: .ok, modelVersion: version)
            ok.command = .control
            actions.append(
                .send(.toClient(identity: requester.identity, frames: [ok.encoded(), WireJSON.encode(document), pack])))
        case .onlineRegister?:
            register(
                requester, catalogueVersion: request.catalogueVersion, startVersion: request.version, pack: bytes,
                nowMs: nowMs, into: &actions)
        case .impressions?:
            let limit = request.limit ?? 1000
            guard (1...10_000).contains(limit) else {
                return reply(requester, .badRequest, text: "limit must be in 1...10000, got \(limit)", into: &actions)
            }
            // A sequence number: 0 is before the first row (a negative cursor was served as if it were 0).
            if let after = request.after, after < 0 {
                return reply(
                    requester, .badRequest, text: "after must be a sequence number ≥ 0, got \(after)", into: &actions)
            }
            // The page is read after what is queued is committed.
            flushPending(into: &actions)
            actions.append(
                .answerImpressionPage(
                    requester: requester, after: request.after ?? 0, limit: limit,
                    spec: (request.after ?? 0) <= 0 ? spec : nil, version: version))
        case nil, .train?, .upload?, .jobs?, .job?, .cancelJob?, .models?, .promote?, .importModel?, .fetch?,
            .rollback?, .drain?, .catalogueUpload?, .catalogues?, .catalogue?, .catalogueAdd?, .catalogueRetire?:
            reply(requester, .badRequest, text: "unknown online operation \(request.op)", into: &actions)
        }
    }

    /// `online_freeze` / `online_unfreeze`: the flag is stored durably before it takes effect and
    /// replicas are told (``frozenStored(_:requester:result:into:)``).
    private mutating func setFrozen(_ freeze: Bool, requester: Requester, into actions: inout [OnlineAction]) {
        // An unfreeze while a stored freeze waits for a sync: the stored flag says frozen, so the unfreeze is stored
        // too (answered at once as "on", it was lost when the waiting freeze took effect).
        let pendingFreeze = !freeze && !deferredFreezes.isEmpty
        guard freeze != frozen || pendingFreeze else { return answer(requester, WireJSON.encode(view), into: &actions) }
        actions.append(.storeFrozen(freeze, requester: requester))
    }

    /// The frozen flag's write: stored, it takes effect and the replicas are told; not stored, nothing
    /// changes and the requester is answered INTERNAL.
    mutating func frozenStored(
        _ freeze: Bool, requester: Requester, result: Result<Void, StoreError>, nowMs: UInt64,
        into actions: inout [OnlineAction]
    ) {
        let op = freeze ? "online_freeze" : "online_unfreeze"
        if case .failure(let error) = result {
            actions.append(.log(.error, "online control failed", ["op": "\(op)", "error": "\(error)"]))
            return reply(requester, .internal, text: "\(op) failed: \(error)", into: &actions)
        }
        // An unfreeze stored after a freeze that still waits for a sync supersedes it: the waiting freezes are answered
        // when that sync ends, as they would have been, with the view from then on (unfrozen, the sync's version).
        if !freeze && !deferredFreezes.isEmpty {
            supersededFreezes += deferredFreezes
            deferredFreezes.removeAll()
            applyFrozen(false, requester: requester, nowMs: nowMs, into: &actions)
            return
        }
        // A sync under way finishes first: freezing now served its version after the freeze's answer ("frozen at
        // 586", then 587 rolled out). That holds for a sync still pulling the replicas too: their answers, learnt
        // before the freeze, were merged, judged and stored after it (the answer said 20, then 21 was served).
        if freeze && !frozen {
            switch phase {
            case .pulling, .judging, .storing:
                deferredFreezes.append(requester)
                return
            case .idle:
                break
            }
        }
        applyFrozen(freeze, requester: requester, nowMs: nowMs, into: &actions)
    }

    /// The stored frozen flag takes effect: the replicas are told, and `requester` is answered with the view.
    mutating func applyFrozen(_ freeze: Bool, requester: Requester, nowMs: UInt64, into actions: inout [OnlineAction]) {
        if freeze != frozen {
            frozen = freeze
            actions.append(.log(.info, freeze ? "online learning frozen" : "online learning unfrozen", [:]))
            // The installs below drop what the replicas learnt since the last sync: those events wait, with the held
            // ones, until learning is unfrozen (they were acknowledged before the freeze and are stored unlearnt).
            if freeze { for worker in workers { rehold(worker.identity, nowMs: nowMs, into: &actions) } }
            for worker in workers { install(on: worker.identity, into: &actions) }
            publishView(into: &actions)
        }
        answer(requester, WireJSON.encode(view), into: &actions)
    }

    /// `online_sync`: starts a sync now (with `corrupt: "noise"`, only under `--allow-fault-injection`); during a
    /// sync, the request waits for the next one, which starts as soon as that one ends.
    private mutating func syncNow(
        _ requester: Requester, corruption: String?, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        let corrupt: Bool
        switch corruption {
        case nil: corrupt = false
        case "noise"? where settings.allowFaultInjection: corrupt = true
        case "noise"?:
            return reply(
                requester, .badRequest, text: "fault injection is off; start the broker with --allow-fault-injection",
                into: &actions)
        case let other?:
            return reply(
                requester, .badRequest, text: "unknown corruption '\(other)'; the only one is 'noise'", into: &actions)
        }
        if frozen && !corrupt {
            return reply(requester, .conflict, text: "online learning is frozen; unfreeze it first", into: &actions)
        }
        guard !syncing || corrupt else {
            // Answered by the next sync, which starts as soon as this one ends: what was learnt before the request
            // is merged, and no client has to poll.
            guard waitingSyncs.count < Self.maxWaitingSyncs else {
                return reply(
                    requester, .conflict,
                    text: "a sync is already in progress and \(waitingSyncs.count) online_sync requests already wait "
                        + "for the next one; retry shortly", into: &actions)
            }
            waitingSyncs.append(requester)
            return
        }
        guard !syncing else {
            // Fault injection replaces one sync's candidate: it does not wait to replace the next one.
            return reply(requester, .conflict, text: "a sync is already in progress; retry shortly", into: &actions)
        }
        startSync(corrupt: corrupt, requesters: [requester], nowMs: nowMs, into: &actions)
    }
}
