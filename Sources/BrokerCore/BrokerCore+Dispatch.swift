import DequeModule
import RecWire

/// Dispatch: queued requests go to eligible workers with free credit, least-loaded first.
extension BrokerCore {
    /// Sends queued requests of `service` to workers with free credit, least-loaded first.
    mutating func pump(_ service: Command, now: BrokerInstant, into actions: inout [BrokerAction]) {
        // Taken out of the dictionary while it changes, so that removing from it does not copy it
        // (and every request in it) on each call.
        guard var queue = queues.removeValue(forKey: service) else { return }
        defer { queues[service] = queue }
        guard !queue.isEmpty else { return }
        var index = queue.startIndex
        var skipped = 0
        while index < queue.endIndex && skipped < 64 {
            let request = queue[index]
            if request.isExpired(at: now) {
                queue.remove(at: index)
                release(request)
                locations[request.key] = nil
                counters.add(.droppedExpired)
                reply(
                    to: request, status: .expired, message: "the deadline passed while the request was queued",
                    into: &actions)
                continue
            }
            guard let worker = leastLoadedWorker(for: request) else {
                if !request.widthJudged {
                    if let problem = widthProblem(request) {
                        // No live worker's model takes rows this wide: say so now rather than at the timeout.
                        refuseWidth(queue.remove(at: index), problem, into: &actions)
                        continue
                    }
                    // Judged once a worker offering the service has seen it: a re-queued or long-queued request whose
                    // width's workers then leave waits for the no-worker timeout (CONFLICT), it is not BAD_REQUEST.
                    if workers.values.contains(where: { $0.services.contains(service) }) {
                        queue[index].widthJudged = true
                    }
                }
                if !hasFreeSlot(for: service) { break }
                index += 1
                skipped += 1
                continue
            }
            var taken = queue.remove(at: index)
            taken.widthJudged = true
            dispatch(taken, to: worker, now: now, into: &actions)
        }
    }

    /// Judges the width of every queued SCORE that arrived while no worker offered SCORE (``PendingRequest/widthJudged``),
    /// now that one does: rows no live worker takes are BAD_REQUEST, the rest judged. A pump stops at the first request
    /// it cannot place, so it would leave the rest of the queue unjudged, and a request behind it would be answered
    /// BAD_REQUEST later, once the workers of its width had come and gone, where the one before it got CONFLICT.
    mutating func judgeQueuedWidths(into actions: inout [BrokerAction]) {
        guard var queue = queues.removeValue(forKey: .score) else { return }
        defer { queues[.score] = queue }
        var index = queue.startIndex
        while index < queue.endIndex {
            guard !queue[index].widthJudged else {
                index += 1
                continue
            }
            if let problem = widthProblem(queue[index]) {
                refuseWidth(queue.remove(at: index), problem, into: &actions)
                continue
            }
            queue[index].widthJudged = true
            index += 1
        }
    }

    /// Answers a SCORE taken out of its queue BAD_REQUEST for its width (`problem`, from ``widthProblem(_:)``): its
    /// bytes and its place are let go, and it counts as an invalid request.
    private mutating func refuseWidth(_ request: PendingRequest, _ problem: String, into actions: inout [BrokerAction]) {
        release(request)
        locations[request.key] = nil
        counters.add(.invalidRequests)
        reply(to: request, status: .badRequest, message: problem, into: &actions)
    }

    mutating func pumpAll(now: BrokerInstant, into actions: inout [BrokerAction], hint: Command) {
        for service in Array(queues.keys) { pump(service, now: now, into: &actions) }
    }

    private func hasFreeSlot(for service: Command) -> Bool {
        workers.values.contains { $0.services.contains(service) && $0.freeSlots > 0 }
    }

    /// Whether `worker` may take `request`: it offers the service and meets the version pin, its
    /// model takes rows of the request's width (SCORE), and it serves a registered model whenever
    /// one is promoted (a worker on the seeded or an unregistered file model takes no work then,
    /// until WEIGHTS bring it the promoted version).
    ///
    /// One version number names one model: a worker whose model differs from the one its version number is served
    /// by for such requests (``servingIdentities(for:)``) takes no work, so no two models answer under one number.
    func isEligible(
        _ worker: WorkerRecord, for request: PendingRequest, serving: [UInt64: String]? = nil,
        ignoringDrain: Bool = false, ignoringCredit: Bool = false
    ) -> Bool {
        // A draining worker never takes another request: counted eligible, it held queued requests without a limit.
        guard ignoringDrain || !worker.draining, worker.serves(request.header) else { return false }
        // No credit at all (a READY or HEARTBEAT of slots 0 without DRAIN) takes nothing: counted eligible, it held a
        // queued request past the no-worker timeout for as long as it stayed.
        guard worker.slots > 0 || ignoringDrain || ignoringCredit else { return false }
        // An online broker's RECOMMEND is answered by the policy a replica installed, the same on every replica, and
        // its slate carries the policy's version: whose model the replica holds (a number from another registry, the
        // seeded model while a version is promoted) does not decide whether it may take one. Such replicas, left
        // running from another state directory, held every policy slate CONFLICT.
        // A pinned one is judged against the replica's model number (PROTOCOL.md), which must then be the registry's.
        if request.service == .recommend, let policyReplicas {
            return policyReplicas.contains(worker.identity)
                && (request.header.modelVersion == 0 || holdsClaimedVersion(worker))
        }
        guard holdsClaimedVersion(worker) else { return false }
        if let columns = request.columns, columns != worker.inputWidth { return false }
        if rollout != nil && worker.modelVersion == 0 { return false }
        if let chosen = (serving ?? servingIdentities(for: request))[worker.modelVersion],
            chosen != worker.modelIdentity(for: request.service)
        {
            return false
        }
        return true
    }

    /// The model each version number is served by for requests like `request` (its service and, for SCORE, its
    /// rows' width: models of two widths never take the same rows), keyed by version: the
    /// ``WorkerRecord/modelIdentity`` of the longest-registered live worker that could take such a request, reports
    /// the number (and holds it, ``holdsClaimedVersion(_:)``) and is not draining, or is draining but still holds
    /// requests (so the next model takes the number only after the last of them is answered). Version 0 is every unregistered
    /// model (each checkpoint file, the seeded model), and a broker without a registry checks no number's hash:
    /// without this choice two workers with different weights would answer such requests under one number, and a
    /// client could not tell their answers apart. A worker on the same number with another model takes no such
    /// request until the chosen one leaves (or WEIGHTS give it a registered version).
    ///
    /// Empty (no allocation: it runs at every dispatch) when every such worker reports the same version and model,
    /// the usual case: then no worker is benched.
    func servingIdentities(for request: PendingRequest) -> [UInt64: String] {
        servingIdentities(service: request.service, columns: request.columns)
    }

    /// ``servingIdentities(for:)`` for requests of `service` with rows of `columns` features (nil: any, RECOMMEND).
    func servingIdentities(service: Command, columns: Int?) -> [UInt64: String] {
        // An online broker's slates come from the served policy, the same on every replica whatever model it holds
        // (``policyReplicas``): no replica that installed it is benched for another's checkpoint.
        if service == .recommend && policyReplicas != nil { return [:] }
        // Walked by index, reading fields in place: iterating the records copied each one (a retain per field).
        func takes(_ index: [[UInt8]: WorkerRecord].Index) -> Bool {
            workers.values[index].services.contains(service)
                && (columns.map { $0 == workers.values[index].inputWidth } ?? true)
        }
        var first: (version: UInt64, identity: String)?
        var uniform = true
        for index in workers.indices where takes(index) {
            let version = workers.values[index].modelVersion
            guard let seen = first else {
                first = (version, workers.values[index].modelIdentity(for: service))
                continue
            }
            if seen.version != version || seen.identity != workers.values[index].modelIdentity(for: service) {
                uniform = false
                break
            }
        }
        if uniform { return [:] }
        var chosen: [UInt64: (registration: UInt64, identity: String)] = [:]
        // A draining worker keeps its number while it still holds requests: another model takes over only once its
        // last answer is in, so the two never answer under one number at the same time. So does a paused one (0 slots,
        // no credit): holding the number with nothing in flight, it kept a worker with credit idle.
        for worker in workers.values
        where ((!worker.draining && worker.slots > 0) || !worker.inflight.isEmpty) && worker.services.contains(service)
            && (columns.map { $0 == worker.inputWidth } ?? true) && holdsClaimedVersion(worker)
        {
            if let current = chosen[worker.modelVersion], current.registration < worker.registration { continue }
            chosen[worker.modelVersion] = (worker.registration, worker.modelIdentity(for: service))
        }
        return chosen.mapValues(\.identity)
    }

    /// Which kinds of request `worker` takes none of although it is live and holds its version, and why: another
    /// model serves its version number for them (``servingIdentities(service:columns:)``); nil when it may take every
    /// kind it offers.
    func idleReason(_ worker: WorkerRecord) -> String? {
        guard rollout == nil, !worker.draining, holdsClaimedVersion(worker) else { return nil }
        var held: [(service: String, by: String)] = []
        for service in worker.services.sorted(by: { $0.rawValue < $1.rawValue }) {
            let columns = service == .score ? worker.inputWidth : nil
            if let chosen = servingIdentities(service: service, columns: columns)[worker.modelVersion],
                chosen != worker.modelIdentity(for: service)
            {
                held.append((service.name, Self.describeModel(chosen)))
            }
        }
        guard !held.isEmpty else { return nil }
        // One model usually serves the number for both services: it is named once ("…, checkpoint X, checkpoint X").
        var servers: [String] = []
        for entry in held where !servers.contains(entry.by) { servers.append(entry.by) }
        return "takes no \(held.map(\.service).joined(separator: " or ")): model version \(worker.modelVersion) is served "
            + "there by \(servers.joined(separator: ", ")), and this worker serves "
            + "\(Self.describeModel(worker.modelIdentity)) under the same number"
    }

    /// How a model identity is named in messages.
    static func describeModel(_ identity: String) -> String {
        if identity.isEmpty { return "the seeded model" }
        if identity.hasPrefix("seed:") { return "the model seeded with \(identity.dropFirst(5))" }
        return "checkpoint sha256 \(identity.prefix(12))…"
    }

    /// Whether the version a worker claims is the registry's: its checkpoint hash is the one the
    /// registry holds under that number. A worker that claims a number with other weights (from
    /// another state directory, say) takes no work until WEIGHTS replace them. Always true for
    /// version 0 and for a broker without a registry.
    func holdsClaimedVersion(_ worker: WorkerRecord) -> Bool {
        guard worker.modelVersion != 0, let registeredModels else { return true }
        guard let registered = registeredModels[worker.modelVersion] else { return false }
        return worker.modelSHA256 == registered
    }

    /// The live workers that offer `service` and still take requests: a draining worker answers what it holds and
    /// takes nothing more, so no request waits for it.
    func takingWorkers(_ service: Command) -> [WorkerRecord] {
        workers.values.filter { $0.services.contains(service) && !$0.draining }
    }

    /// `" (N draining)"` when draining workers offer `service`, for a reply that says none takes it; else empty.
    func drainingNote(_ service: Command) -> String {
        let draining = workers.values.filter { $0.services.contains(service) && $0.draining }.count
        return draining == 0 ? "" : " (\(draining) draining, which take no new request)"
    }

    /// For a SCORE request whose rows no live worker's model takes (workers offer the service, none
    /// has the request's width), the BAD_REQUEST message; otherwise `nil`.
    ///
    /// Not while a promoted version is still rolling out to a worker offering the service: the promoted model's width
    /// may be the request's, so the request waits, and is answered CONFLICT after no-worker-timeout if no worker
    /// reaches the version (docs/PROTOCOL.md, "Status codes"), never told that rows of the promoted width are bad.
    func widthProblem(_ request: PendingRequest) -> String? {
        guard let columns = request.columns else { return nil }
        // A draining worker's width counts here: during a rolling restart its replacement is on its way, so the
        // request is queued, and answered after no-worker-timeout if none comes (`ineligibility(for:)`).
        let offering = workers.values.filter { $0.services.contains(request.service) }
        guard !offering.isEmpty, !offering.contains(where: { $0.inputWidth == columns }) else { return nil }
        if let rollout, offering.contains(where: { $0.modelVersion != rollout.version }) {
            // Workers are moving to the promoted version: rows of its width wait for them; rows of another width no
            // live worker takes now could only wait for the no-worker timeout.
            guard let promotedWidth = rolloutInputWidth, promotedWidth != columns else { return nil }
            let widths = Set(offering.map(\.inputWidth)).sorted().map(String.init).joined(separator: ", ")
            return "rows have \(columns) features; no live worker takes them (served widths: \(widths)), and the "
                + "promoted model version \(rollout.version), which the workers are moving to, expects \(promotedWidth)"
        }
        let served = Dictionary(offering.map { ($0.inputWidth, $0.modelVersion) }, uniquingKeysWith: max)
        let expected = served.sorted { $0.key < $1.key }.map { "model version \($0.value) expects \($0.key)" }
        return "rows have \(columns) features; no live worker takes them (\(expected.joined(separator: "; ")))"
    }

    /// Why no live worker may take `request`, and whether that is for want of a worker with credit (`noWorker`: none
    /// offers the service, or every one that would take it reports 0 slots; answered NO_WORKER, not CONFLICT), or `nil`
    /// when one may.
    func ineligibility(for request: PendingRequest) -> (reason: String, noWorker: Bool)? {
        guard let reason = ineligibleBecause(request) else { return nil }
        let offering = takingWorkers(request.service)
        return (reason, offering.allSatisfy { $0.slots == 0 } || !creditless(for: request).isEmpty)
    }

    /// The live workers that would take `request` but for their credit: they report 0 slots.
    private func creditless(for request: PendingRequest) -> [WorkerRecord] {
        let serving = servingIdentities(for: request)
        return takingWorkers(request.service).filter {
            $0.slots == 0 && isEligible($0, for: request, serving: serving, ignoringCredit: true)
        }
    }

    private func ineligibleBecause(_ request: PendingRequest) -> String? {
        let service = request.service
        let offering = takingWorkers(service)
        let serving = servingIdentities(for: request)
        guard !offering.contains(where: { isEligible($0, for: request, serving: serving) }) else { return nil }
        // A draining worker that could take it still holds requests: it keeps its version number until the last of
        // them is answered (`servingIdentities`), and the worker benched behind it takes the request then. Not yet.
        // With no other live worker offering the service there is none benched behind it: the request is answered
        // NO_WORKER after the timeout, naming the draining ones (a draining worker that kept heartbeating without
        // answering held new requests until it expired).
        if !offering.isEmpty, workers.values.contains(where: {
            $0.draining && !$0.inflight.isEmpty && $0.services.contains(service)
                && isEligible($0, for: request, serving: serving, ignoringDrain: true)
        }) {
            return nil
        }
        if offering.isEmpty { return "no live worker offers \(service.name)" + drainingNote(service) }
        if offering.allSatisfy({ $0.slots == 0 }) {
            return "every live worker that offers \(service.name) (\(offering.count)) reports 0 slots: none takes a request"
        }
        // Those that would take it report no credit: said as when every worker does (beside a worker of another width
        // or on another model, a fleet fell through to CONFLICT about the registry or the promoted version, though
        // the worker holding it was live).
        let creditless = creditless(for: request)
        if !creditless.isEmpty {
            let rows = request.columns.map { " for rows of \($0) features" } ?? ""
            return "every live worker that may take this \(service.name)\(rows) (\(creditless.count)) reports 0 slots: "
                + "none takes a request"
        }
        if service == .recommend, let policyReplicas,
            !offering.contains(where: { policyReplicas.contains($0.identity) })
        {
            let online = offering.filter(\.online).count
            return "no live worker has installed the online policy yet (\(offering.count) offer RECOMMEND, "
                + "\(online) of them online learners): a slate comes only from the served policy"
        }
        let versioned = offering.filter { $0.serves(request.header) }
        if versioned.isEmpty {
            return "no live worker serves model version \(request.header.modelVersion) for \(service.name)"
        }
        if let columns = request.columns, !versioned.contains(where: { $0.inputWidth == columns }) {
            // While a promoted version reaches no worker (its checkpoint unreadable, or still building), the workers
            // left serve the seeded or an unregistered model and take no work whatever the rows' width: the widths of
            // those models said the rows were of the wrong width, when the promoted version's were right.
            // Only when every worker left is on the seeded model (version 0): a registered worker of another version
            // takes work during a rollout, and one holding the promoted version is live.
            if let promoted = rollout?.version, offering.allSatisfy({ $0.modelVersion == 0 }) {
                let expects = rolloutInputWidth.map { $0 == columns ? "" : "; rows have \(columns) features, it expects \($0)" }
                return Self.promotedNotHeld(promoted) + (expects ?? "")
            }
            let widths = Set(versioned.map(\.inputWidth)).sorted().map(String.init).joined(separator: ", ")
            // Accepted while a worker of its width was live (``PendingRequest/widthJudged``): that worker drained or
            // left while the request waited, which the served widths alone did not say.
            let draining = workers.values.filter {
                $0.draining && $0.services.contains(service) && $0.inputWidth == columns
            }.count
            let gone =
                draining > 0
                ? "; \(draining) worker\(draining == 1 ? "" : "s") of that width \(draining == 1 ? "is" : "are") draining"
                : request.widthJudged
                    ? "; it was accepted while a worker of that width was live or one was expected (a rollout to "
                        + "that width), and none is now" : ""
            return "no live worker serves rows of \(columns) features (served widths: \(widths))\(gone)"
        }
        let fitting = versioned.filter { request.columns == nil || $0.inputWidth == request.columns }
        if rollout == nil,
            let benched = fitting.first(where: { w in
                holdsClaimedVersion(w) && serving[w.modelVersion].map { $0 != w.modelIdentity(for: service) } == true
            }), let chosen = serving[benched.modelVersion]
        {
            return "no live worker may take it: model version \(benched.modelVersion) is served by "
                + "\(Self.describeModel(chosen)), and worker \(benched.hello.workerId) serves another model under the "
                + "same number (\(Self.describeModel(benched.modelIdentity(for: service)))), so it takes no work while that one is live"
        }
        guard let promoted = rollout?.version else {
            // Nothing is promoted: the workers left claim versions whose checkpoints are not the registry's.
            return "no live worker holds a registered model: workers that claim a version whose checkpoint is not "
                + "the registry's take no work until a promoted version's WEIGHTS replace it"
        }
        return Self.promotedNotHeld(promoted)
    }

    /// The reply's message when no live worker holds the promoted version `promoted`.
    static func promotedNotHeld(_ promoted: UInt64) -> String {
        "no live worker has the promoted model version \(promoted) yet "
            + "(workers on the seeded or an unregistered model take no work while a version is promoted)"
    }

    private func leastLoadedWorker(for request: PendingRequest) -> [UInt8]? {
        var bestLoad = Double.infinity
        // During a rollout, once any replica serves the new version, unpinned requests go only to
        // such replicas, so a client never sees the version go back.
        let serving = servingIdentities(for: request)
        // A policy slate does not come from the model being rolled out (``isEligible(_:for:serving:ignoringDrain:)``).
        let policySlate = request.service == .recommend && policyReplicas != nil
        let rolledOut = policySlate ? false : rollout.map { rollout in
            request.header.modelVersion == 0
                && workers.values.contains {
                    $0.modelVersion == rollout.version && isEligible($0, for: request, serving: serving)
                }
        } ?? false
        // Walked by index, the record copied only for a worker with a free slot, to check it in full.
        var bestIndex: [[UInt8]: WorkerRecord].Index?
        for index in workers.indices where workers.values[index].freeSlots > 0 {
            let version = workers.values[index].modelVersion
            if rolledOut && version != rollout?.version { continue }
            let load = Double(workers.values[index].inflight.count) / Double(workers.values[index].slots)
            if load < bestLoad && isEligible(workers.values[index], for: request, serving: serving) {
                bestLoad = load
                bestIndex = index
            }
        }
        return bestIndex.map { workers.keys[$0] }
    }

    private mutating func dispatch(
        _ request: PendingRequest, to worker: [UInt8], now: BrokerInstant, into actions: inout [BrokerAction]
    ) {
        var request = request
        request.attempts = request.attempts.addingSaturating(1)
        let dispatchId = nextDispatchId
        nextDispatchId &+= 1
        var header = request.header
        header.requestId = dispatchId
        header.attempt = request.attempts
        // A request's timing and retry fields are 0 (docs/PROTOCOL.md): a client's values were passed on to the worker.
        header.brokerQueueMicros = 0
        header.workerQueueMicros = 0
        header.computeMicros = 0
        header.retryAfterMs = 0
        inflight[dispatchId] = InflightEntry(request: request, worker: worker, dispatchedAt: now.monotonicMicros)
        // Through the index: the optional-chained subscript copied the whole record out and back.
        if let index = workers.index(forKey: worker) { workers.values[index].inflight.insert(dispatchId) }
        locations[request.key] = .inflight(dispatchId: dispatchId)
        counters.add(.dispatched)
        actions.append(.sendToWorker(identity: worker, frames: [header.encoded()], payload: request.payload))
    }
}
