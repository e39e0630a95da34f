import BrokerCore
import RecPolicy
import RecStore
import RecWire

extension OnlineCore {
    /// Queues an impression record for the next group commit. With `reply` (the RECOMMEND reply it
    /// came with), the reply is released only on the commit that stores the record, or replaced by an
    /// error that says it was not stored.
    ///
    /// The impression is logged as served at `nowMs`, when the broker received it (epoch ms), whatever time the
    /// worker's clock wrote in the record: the feedback window and the exported log's timestamps are the broker's
    /// clock, so a worker whose clock lags or leads neither expires its slates' feedback at once nor misorders the log.
    mutating func queueImpression(
        worker: String, record received: [UInt8], reply: HeldSlate?, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        let decoded: ImpressionRecord
        do {
            decoded = try WireJSON.decode(ImpressionRecord.self, from: received)
        } catch {
            // Named, as the slate's own decode failure is: "does not decode" alone left the worker's author guessing.
            actions.append(
                .log(
                    .warning, "a worker sent an impression record that does not decode",
                    ["worker": "\(worker)", "error": "\(error)"]))
            if let reply {
                refuseSlate(reply, worker: worker, because: "its impression record does not decode: \(error)", into: &actions)
            }
            return
        }
        var record = decoded
        // The broker's clock, not the worker's, is the impression's time: a worker whose clock read past 9999 had
        // every slate refused as malformed, and a broker whose clock did stored a row the log then could not read
        // (every FEEDBACK on it INTERNAL, `logs export` refused for the whole log).
        guard nowMs <= ImpressionRecord.maximumCreatedMs else {
            actions.append(
                .log(
                    .error, "the broker's clock reads after 9999-12-31T23:59:59.999Z: no impression can be logged",
                    ["epoch_ms": "\(nowMs)", "impression_id": "\(record.impressionId)"]))
            if let reply {
                refuseSlate(
                    reply, worker: nil,
                    because: "the broker's clock reads \(nowMs) ms since 1970, after 9999-12-31T23:59:59.999Z, the last "
                        + "time the impression log holds (set the broker host's clock)", into: &actions)
            }
            return
        }
        let writtenMs = record.createdMs
        record.createdMs = nowMs
        if let problem = record.problem {
            actions.append(
                .log(
                    .warning, "a worker sent a malformed impression record",
                    ["worker": "\(worker)", "impression_id": "\(record.impressionId)", "problem": "\(problem)"]))
            if let reply {
                refuseSlate(reply, worker: worker, because: "its impression record is malformed: \(problem)", into: &actions)
            }
            return
        }
        if let problem = recordProblem(record)
            ?? reply.flatMap({ lengthProblem(record.slate.count, asked: $0.top) })
            ?? reply.flatMap({ Self.slateProblem($0, record: record, ids: policy.catalogue.ids) })
        {
            actions.append(
                .log(
                    .warning, "a worker sent a slate that cannot be logged as served",
                    ["worker": "\(worker)", "impression_id": "\(record.impressionId)", "problem": "\(problem)"]))
            if let reply { refuseSlate(reply, worker: worker, because: "its slate \(problem)", into: &actions) }
            return
        }
        // Two records with one id in a group commit: the store keeps the first, so the second slate would be released
        // as stored while FEEDBACK on it is refused against the first one's slate.
        if !pendingImpressionIds.insert(record.impressionId).inserted {
            actions.append(
                .log(
                    .warning, "a worker sent an impression id already queued for the log",
                    ["worker": "\(worker)", "impression_id": "\(record.impressionId)"]))
            if let reply {
                refuseSlate(
                    reply, worker: worker, because: "impression id \(record.impressionId) is already logged for another slate",
                    into: &actions)
            }
            return
        }
        let bytes = writtenMs == nowMs ? received : WireJSON.encode(record)
        pendingImpressions.append(
            (record.impressionId, record.createdMs, worker, record.version, String(decoding: bytes, as: UTF8.self)))
        if let reply {
            pendingSlates.append(
                PendingSlate(impressionId: record.impressionId, slate: reply, items: record.slate, worker: worker))
        }
    }

    /// Why a slate of `count` items cannot answer a request that asked `asked` of its length, or nil: a policy draws
    /// the request's `top` items, its `slate_size` when the request names none, and never more than the largest `top`
    /// it takes (``OnlinePolicy/maximumTop``). A worker's 40-item slate for a request naming no `top` was logged with 40
    /// propensities under a `slate_size` of 3.
    func lengthProblem(_ count: Int, asked: RequestedTop) -> String? {
        switch asked {
        case .given(let top) where count > top:
            "shows \(count) items, the request asked for at most \(top)"
        case .slateSize where count > spec.slateSize:
            "shows \(count) items for a request that names no top, more than the policy's slate_size \(spec.slateSize)"
        case .notRead where count > max(spec.slateSize, OnlinePolicy.maximumTop):
            "shows \(count) items, more than any request may ask for (\(max(spec.slateSize, OnlinePolicy.maximumTop)))"
        default: nil
        }
    }

    /// Why a well-formed `record` cannot be logged by this pool, or nil: it names a policy version the pool never
    /// served (versions are numbered 1, 2, … as they are stored, so one above the served version was never one), or,
    /// in a pool whose items are not a registry catalogue's (the simulator's world, which never grows), an item
    /// beyond them, which the log's reader would refuse for good (``StoredImpressionRecord``).
    func recordProblem(_ record: ImpressionRecord) -> String? {
        guard (1...max(version, 1)).contains(record.version) else {
            return "names policy version \(record.version), which this pool never served (it serves \(version))"
        }
        guard record.version >= lineageStart else {
            return "names policy version \(record.version) of an earlier lineage (this one began at version \(lineageStart), "
                + "over another catalogue)"
        }
        if let problem = record.exportProblem { return "logs what its export would refuse: \(problem)" }
        // The policy's own user features only: a name it does not have was logged, then refused by the export.
        if let name = record.userFeatures.keys.sorted().first(where: { name in !spec.userFeatures.contains { $0.name == name } }) {
            return "names user feature '\(name)', which the policy does not have"
        }
        // Values as the policy reads a RECOMMEND's (a numeric feature a finite number near its mean, no NUL
        // character): a context the worker would have refused from a client is never logged from the worker.
        do throws(PolicyError) {
            _ = try policy.userVector(record.userFeatures)
        } catch {
            return "logs a context the policy refuses: \(error)"
        }
        if catalogue == nil, let item = (record.slate + record.viewed.map(\.item)).first(where: { $0 >= spec.itemCount }) {
            return "names item \(item), beyond the \(spec.itemCount) items the pool serves"
        }
        return nil
    }

    /// Why the slate a client would be sent (`held`: the reply header, then the slate document) is not the impression
    /// `record` describes, or nil: feedback is checked against the record, so a slate that differs from it (other items,
    /// propensities or impression id, another version, a document that does not decode) would have its feedback refused
    /// while feedback on items it never showed is taken (docs/PROTOCOL.md, "Online learning"). Its `source` must be
    /// `policy` and its `exploration` a valid rule (ε in [0, 1], a temperature above 0): a client reads the rule to
    /// know how the slate was drawn. (It is not compared with the served spec's: a replica installed by an earlier run
    /// of the broker with other settings draws by its own rule until it installs again, and its propensities are exact
    /// for what it drew.)
    ///
    /// Each item's `id` must be what `ids` (the served catalogue's) call its row: a shop reads the id, and one under
    /// another row's number would send it to the wrong product. A row past `ids` (of a catalogue version a replica
    /// installs first) is not judged by its id, nor is an item without one (from a worker that predates ids).
    static func slateProblem(_ held: HeldSlate, record: ImpressionRecord, ids: [String]) -> String? {
        guard held.frames.count == 2, let header = try? Header(decoding: held.frames[0]) else {
            return "is not one header and one slate document (\(held.frames.count) frames)"
        }
        let slate: PolicyRecommendation
        do {
            slate = try WireJSON.decode(PolicyRecommendation.self, from: held.frames[1])
        } catch {
            return "does not decode: \(error)"
        }
        if slate.impressionId != record.impressionId {
            return "names impression \(slate.impressionId), its impression record \(record.impressionId)"
        }
        if slate.items.map(\.item) != record.slate {
            return "shows items \(slate.items.map(\.item)), its impression record logs \(record.slate)"
        }
        if slate.items.map(\.propensity) != record.propensities {
            return "gives propensities \(slate.items.map(\.propensity)), its impression record \(record.propensities)"
        }
        if let named = slate.items.first(where: { $0.id != nil && $0.item >= 0 && $0.item < ids.count && $0.id != ids[$0.item] }) {
            return "names item \(named.item) as '\(named.id ?? "")', which the served catalogue calls '\(ids[named.item])'"
        }
        if slate.items.map(\.position) != Array(slate.items.indices) {
            return "numbers its slots \(slate.items.map(\.position)), not 0, 1, 2, … from the top"
        }
        if let bad = slate.items.first(where: { !$0.score.isFinite }) {
            return "gives item \(bad.item) a score that is not finite"
        }
        if slate.source != "policy" { return "names its source '\(slate.source)', not 'policy'" }
        if let problem = slate.exploration.problem { return "gives an exploration rule that is not valid: \(problem)" }
        if slate.modelVersion != record.version || header.modelVersion != record.version {
            return "names policy version \(slate.modelVersion) (header \(header.modelVersion)), its impression record "
                + "\(record.version)"
        }
        return nil
    }

    /// Answers a held RECOMMEND with INTERNAL "worker W sent an invalid reply: …" instead of the slate worker `worker`
    /// drew, counted in `invalid_worker_replies` (``ControlOutput/invalidSlateReply(identity:frames:worker:)``): the
    /// impression was not stored, so feedback on the slate could not be taken.
    /// With `worker` nil the fault is the broker's (the impression could not be stored): the answer names no worker and
    /// is not counted as an invalid reply.
    func refuseSlate(_ held: HeldSlate, worker: String?, because why: String, into actions: inout [OnlineAction]) {
        let message =
            (worker.map { "worker \($0) sent an invalid reply: " } ?? "") + "\(why); the slate was not logged, so "
            + "feedback on it could not be taken: nothing was served"
        // Without a header (never: the broker core built these frames) the slate goes as it is.
        let frames = Self.refusal(of: held, status: .internal, message: message) ?? held.frames
        actions.append(
            .send(
                worker == nil
                    ? .heldReply(identity: held.client, frames: frames)
                    : .invalidSlateReply(identity: held.client, frames: frames, worker: worker ?? "")))
    }

    /// The error reply that replaces a held slate: its request's id, attempt and broker queue time, `status` and
    /// `message`; nil when the held reply's header does not decode.
    static func refusal(of held: HeldSlate, status: Status, message: String) -> [[UInt8]]? {
        guard let first = held.frames.first, let header = try? Header(decoding: first) else { return nil }
        var request = header
        request.isReply = false
        var refusal = WireMessage.errorReply(to: request, status: status, message: message)
        refusal.header.attempt = header.attempt
        refusal.header.brokerQueueMicros = header.brokerQueueMicros
        return refusal.frames()
    }

    /// Asks the shell to commit queued impressions and feedback in one transaction (a group commit);
    /// ``committed(_:into:)`` answers them. Nothing while a commit is in flight: what is queued waits
    /// for the next flush.
    mutating func flushPending(into actions: inout [OnlineAction]) {
        guard inFlight == nil, !pendingImpressions.isEmpty || !pendingFeedback.isEmpty else { return }
        let commit = OnlineCommit(
            impressions: pendingImpressions,
            feedback: pendingFeedback.map {
                RecStore.FeedbackEvent(
                    impressionId: $0.query.request.impressionId, item: $0.query.request.item,
                    click: $0.query.request.click, dwell: $0.query.request.dwellSeconds, createdMs: $0.query.receivedMs,
                    needsItsImpression: $0.queued, toLearn: !frozen)
            },
            keep: settings.impressionLogSize)
        inFlight = InFlight(feedback: pendingFeedback, slates: pendingSlates, impressions: pendingImpressions.count)
        pendingImpressions.removeAll(keepingCapacity: true)
        pendingImpressionIds.removeAll(keepingCapacity: true)
        pendingFeedback.removeAll(keepingCapacity: true)
        pendingSlates.removeAll(keepingCapacity: true)
        actions.append(.commit(commit))
    }

    /// The group commit's result: on success the held slates go out, each feedback is acknowledged
    /// (new or duplicate) and new events go to the learners; on failure each is answered INTERNAL. A slate whose
    /// impression id the log already held (another slate's) is refused naming the id, never released as logged, and
    /// feedback checked against it is checked again against the stored impression.
    mutating func committed(
        _ result: Result<RecStore.OnlineCommitResult, StoreError>, into actions: inout [OnlineAction]
    ) {
        guard let batch = inFlight else { return }
        inFlight = nil
        let outcome: RecStore.OnlineCommitResult
        switch result {
        case .failure(let error):
            actions.append(
                .log(
                    .error, "cannot store impressions and feedback",
                    ["error": "\(error)", "impressions": "\(batch.impressions)", "feedback": "\(batch.feedback.count)"])
            )
            for pending in batch.feedback {
                reply(pending.query.requester, .internal, text: "feedback not stored: \(error)", into: &actions)
            }
            for pending in batch.slates {
                refuseSlate(pending.slate, worker: nil, because: "the impression could not be stored (\(error))", into: &actions)
            }
            return
        case .success(let stored): outcome = stored
        }
        let repeated = outcome.repeatedImpressions
        for id in repeated.sorted() {
            actions.append(
                .log(
                    .warning, "a worker sent an impression id the log already holds for another slate",
                    ["impression_id": "\(id)"]))
        }
        // Every other held slate's impression is committed: those slates may go out.
        for pending in batch.slates {
            if repeated.contains(pending.impressionId) {
                refuseSlate(
                    pending.slate, worker: pending.worker,
                    because: "impression id \(pending.impressionId) is already logged for another slate", into: &actions)
            } else {
                actions.append(.send(.heldReply(identity: pending.slate.client, frames: pending.slate.frames)))
            }
        }
        // The figure is of impressions stored: past `--impression-log-size` while the trim holds impressions whose
        // feedback no sync has consumed (capped at the size, it said 1,000 of 1,400 stored).
        impressionCount = max(0, impressionCount + outcome.impressionsStored - outcome.impressionsEvicted)
        // The figure is of feedback stored: what the trim deleted with its impressions is no longer (a restart, which
        // counts the stored rows, reads the same figure).
        feedbackCount = max(0, feedbackCount - outcome.feedbackEvicted)
        if outcome.unlearntEvicted > 0 {
            // Held past the log's bound for a sync to learn them, until twice the bound. This broker still delivers
            // them (they are in memory); only a restart before the next sync would not. Said once a sync interval.
            defer { unconsumedEvictedSinceSync += outcome.unlearntEvicted }
            if unconsumedEvictedSinceSync == 0 {
                actions.append(
                    .log(
                        .warning,
                        "feedback no sync has consumed left the impression log with impressions twice --impression-log-size old; a broker restart before the next sync would not learn it",
                        ["events": "\(outcome.unlearntEvicted)"]))
            }
        }
        viewDirty = true
        for (pending, new) in zip(batch.feedback, outcome.feedbackNew) {
            let request = pending.query.request
            if pending.queued && repeated.contains(request.impressionId) {
                // Checked against a slate that was not stored: check it again against the one the log holds.
                actions.append(.lookUp(pending.query))
                continue
            }
            let answer = FeedbackReply(impressionId: request.impressionId, item: request.item, duplicate: !new)
            var ok = pending.query.requester.header.reply(status: .ok, modelVersion: pending.record.version)
            ok.command = .feedback
            actions.append(
                .send(
                    .toClient(
                        identity: pending.query.requester.identity, frames: [ok.encoded(), WireJSON.encode(answer)])))
            guard new else {
                duplicates += 1
                continue
            }
            feedbackCount += 1
            let event = LearnEvent(
                impressionId: request.impressionId, userFeatures: pending.record.userFeatures,
                viewed: pending.record.viewed, item: request.item, position: pending.slot,
                reward: Double(request.click), propensity: pending.record.propensities[pending.slot],
                version: pending.record.version)
            if frozen {
                // Stored as not to be learnt (a freeze serves one version, and its feedback is never merged later):
                // counted with the other acknowledged events no version learnt, where it was in no counter at all.
                unlearntEvents += 1
                viewDirty = true
            } else {
                deliver(event, preferring: pending.worker)
            }
        }
    }

    /// Validates a FEEDBACK; its impression is taken from the uncommitted queue, or read from the log
    /// (``OnlineAction/lookUp(_:)``).
    mutating func handleFeedback(
        identity: [UInt8], message: WireMessage, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        let requester = Requester(identity: identity, header: message.header)
        let request: FeedbackRequest
        do {
            request = try WireJSON.decodeRequest(FeedbackRequest.self, from: try message.frame(0))
        } catch {
            return reply(requester, .badRequest, text: "FEEDBACK: \(error.description)", into: &actions)
        }
        if let problem = request.problem {
            return reply(requester, .badRequest, text: "FEEDBACK: \(problem)", into: &actions)
        }
        let query = FeedbackQuery(requester: requester, request: request, receivedMs: nowMs)
        // A queued slate that did not show the item may repeat the id of a stored one (a worker that reused an
        // id; the group commit refuses the repeat): the stored slate decides, and the queued one when none is.
        if let queued = queuedImpression(request.impressionId), queued.record.slate.contains(request.item) {
            queueFeedback(query, found: .success(queued), queued: true, into: &actions)
        } else {
            actions.append(.lookUp(query))
        }
    }

    /// The answer of a ``OnlineAction/lookUp(_:)``: the stored impression, or, when none is stored, the one
    /// queued for the next group commit under that id.
    mutating func lookedUp(
        _ query: FeedbackQuery, found: Result<LoggedImpressionRow?, StoreError>, into actions: inout [OnlineAction]
    ) {
        if case .success(nil) = found, let queued = queuedImpression(query.request.impressionId) {
            return queueFeedback(query, found: .success(queued), queued: true, into: &actions)
        }
        queueFeedback(query, found: found, into: &actions)
    }

    /// An impression queued for the next group commit.
    func queuedImpression(_ id: String) -> LoggedImpressionRow? {
        guard let queued = pendingImpressions.last(where: { $0.id == id }),
            let record = try? WireJSON.decode(ImpressionRecord.self, from: Array(queued.record.utf8))
        else { return nil }
        return LoggedImpressionRow(record: record, createdMs: queued.createdMs, worker: queued.worker)
    }

    /// Checks a FEEDBACK against its impression and queues it for the next group commit; the OK is
    /// sent only once the event is committed.
    mutating func queueFeedback(
        _ query: FeedbackQuery, found: Result<LoggedImpressionRow?, StoreError>, queued: Bool = false,
        into actions: inout [OnlineAction]
    ) {
        let request = query.request
        let row: LoggedImpressionRow?
        switch found {
        case .failure(let error):
            actions.append(
                .log(
                    .error, "cannot read the impression log",
                    ["impression_id": "\(request.impressionId)", "error": "\(error)"]))
            return reply(
                query.requester, .internal, text: "the impression log cannot be read: \(error)", into: &actions)
        case .success(let value): row = value
        }
        guard let row else {
            return reply(
                query.requester, .notFound,
                text: "unknown impression \(request.impressionId): never served, or evicted from the log",
                into: &actions)
        }
        // A repeat of feedback the log holds is a duplicate however late and whichever lineage served it (a client that
        // retries to learn whether its event was kept must hear that it was), never EXPIRED or CONFLICT; nothing is
        // stored or learnt again.
        let late = query.receivedMs > row.createdMs.addingSaturating(settings.feedbackWindowMs)
        if (late || row.record.version < lineageStart) && row.answeredItems.contains(request.item) {
            duplicates += 1
            // The view STATUS serves is rebuilt only when marked: this count stayed stale there (one behind `online`).
            viewDirty = true
            let answer = FeedbackReply(impressionId: request.impressionId, item: request.item, duplicate: true)
            var ok = query.requester.header.reply(status: .ok, modelVersion: row.record.version)
            ok.command = .feedback
            actions.append(
                .send(.toClient(identity: query.requester.identity, frames: [ok.encoded(), WireJSON.encode(answer)])))
            return
        }
        if late {
            return reply(
                query.requester, .expired,
                text:
                    "impression \(request.impressionId) expired: feedback is accepted for \(settings.feedbackWindowMs / 1000) s after it is served",
                into: &actions)
        }
        // Served by an earlier lineage: its slate's rows name another catalogue's items, so the click would be
        // learnt for whatever item holds that row now.
        guard row.record.version >= lineageStart else {
            return reply(
                query.requester, .conflict,
                text:
                    "impression \(request.impressionId) was served by policy version \(row.record.version) of an earlier "
                    + "lineage (this one began at version \(lineageStart), over another catalogue): its feedback cannot be learnt",
                into: &actions)
        }
        guard let slot = row.record.slate.firstIndex(of: request.item) else {
            return reply(
                query.requester, .badRequest,
                text:
                    "item \(request.item) was not shown in impression \(request.impressionId) (slate \(row.record.slate))",
                into: &actions)
        }
        // Served from a later catalogue version than the one served now (a restart onto an earlier one): no replica
        // can learn an item (or a viewed item) beyond its rows, so the event was acknowledged and never learnt.
        let served = policy.spec.itemCount
        if let beyond = ([request.item] + row.record.viewed.map(\.item)).first(where: { $0 >= served }) {
            return reply(
                query.requester, .conflict,
                text:
                    "impression \(request.impressionId) names item \(beyond), beyond the \(served) items of the catalogue "
                    + "version served now (it was served from a catalogue version with more items): its feedback cannot be learnt until that "
                    + "version is served again",
                into: &actions)
        }
        pendingFeedback.append(
            PendingFeedback(query: query, record: row.record, worker: row.worker, slot: slot, queued: queued))
    }

    /// Queues an event for the replica that served it (or the next live one); held while a sync is out or learning is
    /// frozen (a frozen replica would drop it).
    mutating func deliver(_ event: LearnEvent, preferring worker: String?) {
        guard !syncing, !frozen, !workers.isEmpty else {
            held.append(event)
            return
        }
        if let worker, let match = workers.first(where: { $0.id == worker }) {
            return queue(event, for: match.identity)
        }
        roundRobin = (roundRobin + 1) % workers.count
        queue(event, for: workers[roundRobin].identity)
    }

    /// Queues an event for one of `replicas` in turn (the ones a sync just took answers from), or as
    /// ``deliver(_:preferring:)`` does when there are none.
    mutating func deliver(_ event: LearnEvent, among replicas: [[UInt8]]) {
        guard !replicas.isEmpty, !syncing, !frozen else { return deliver(event, preferring: nil) }
        roundRobin = (roundRobin + 1) % replicas.count
        queue(event, for: replicas[roundRobin])
    }

    private mutating func queue(_ event: LearnEvent, for identity: [UInt8]) {
        outgoing[identity, default: []].append(event)
        unsynced[identity, default: []].append(event)
    }

    /// Moves the events sent to replica `identity` since the last sync to the front of ``held``, in order: a POLICY
    /// install is about to drop what that replica learnt from them (a freeze, a refused delta, a missing catalogue),
    /// so they are sent again after it. During a sync's pull the replica no longer counts as pending: its answer, made
    /// after the install, would hold none of that learning.
    mutating func rehold(_ identity: [UInt8], nowMs: UInt64, into actions: inout [OnlineAction]) {
        switch phase {
        case .idle: break
        case .pulling(let round, var pending, var results):
            pending.remove(identity)
            results[identity] = nil
            phase = .pulling(round, pending: pending, results: results)
        case .judging, .storing:
            // Every answer is in: the sync's end consumes or sends again this replica's events.
            return
        }
        outgoing[identity] = nil  // not sent yet: a subset of its unsynced events, held below with the rest
        if let events = unsynced.removeValue(forKey: identity), !events.isEmpty {
            held.insert(contentsOf: events, at: 0)
            viewDirty = true
        }
        if case .pulling(_, let pending, _) = phase, pending.isEmpty { closeSync(nowMs: nowMs, into: &actions) }
    }

    /// Sends the queued LEARN batches, at most ``learnBatchLimit`` events each. Held events wait while learning is
    /// frozen.
    mutating func flushLearn(into actions: inout [OnlineAction]) {
        if !syncing, !frozen, !held.isEmpty, !workers.isEmpty {
            let events = held
            held.removeAll()
            for event in events { deliver(event, preferring: nil) }
        }
        for (identity, events) in outgoing where !events.isEmpty {
            for start in stride(from: 0, to: events.count, by: Self.learnBatchLimit) {
                let batch = Array(events[start..<min(start + Self.learnBatchLimit, events.count)])
                actions.append(
                    .send(
                        .toWorker(
                            identity: identity,
                            frames: [Header(command: .learn).encoded(), WireJSON.encode(LearnBatch(events: batch))])))
            }
        }
        outgoing.removeAll(keepingCapacity: true)
    }

    /// The most events one LEARN message carries: a broker restart can hand thousands on at once, and one message
    /// per batch keeps each well inside the replica's frame limit and its learner's lock short.
    static let learnBatchLimit = 1024
}
