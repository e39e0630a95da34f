import BrokerCore
import Metrics
import RecTransport
import RecData
import RecPolicy
import RecWire

extension OnlineCore {
    /// Moves the served policy to a new version of the registry's catalogue, keeping its weights: the spec's items
    /// become the catalogue's rows (ids, features, active flags), and a POLICY sent from now on (a sync, a worker
    /// that joins) names that version. Replicas move on their own when they install the CATALOGUE.
    ///
    /// A sync's candidate that the guard is judging (or that is being stored) was built on the catalogue before;
    /// it moves too, so adopting it afterwards cannot put the old catalogue back under the new version's number
    /// (its statistics do not depend on the catalogue: they are per feature and per id bucket).
    ///
    /// A slate queued for the next group commit that shows an item this version retired is dropped with its
    /// impression, before anything is stored, and its client is answered CONFLICT (it retries): it was checked when
    /// it arrived, and released after the commit it could reach its client after the retirement is acknowledged.
    /// The commit runs on the same thread as this move, so no commit is in flight here.
    /// - Throws: ``PolicyError/catalogueMismatch(_:)`` when the catalogue is not a later version of the served one.
    mutating func moveToCatalogue(
        _ catalogue: ItemCatalogue, as reference: CatalogueReference? = nil, into actions: inout [OnlineAction]
    ) throws(PolicyError) {
        let moved = try policy.with(catalogue: catalogue)
        switch phase {
        case .judging(let round, let candidate, let contributors, let events):
            phase = .judging(
                round, candidate: try candidate.with(catalogue: catalogue), contributors: contributors, events: events)
        case .storing(let round, let candidate, let contributors, let events, let decision):
            phase = .storing(
                round, candidate: try candidate.with(catalogue: catalogue), contributors: contributors, events: events,
                decision: decision)
        case .idle, .pulling: break
        }
        spec = moved.spec
        policy = moved
        if let reference { self.catalogue = reference }
        viewDirty = true
        dropRetiredSlates(into: &actions)
    }

    /// Drops the queued slates that show an item the served spec has retired, with their impressions, answering
    /// each client CONFLICT; a FEEDBACK queued against one of those impressions is looked up again (it finds none).
    private mutating func dropRetiredSlates(into actions: inout [OnlineAction]) {
        let active = spec.itemActive
        let retired = { (row: Int) in row >= 0 && row < active.count && !active[row] }
        var dropped = Set<String>()
        var kept: [PendingSlate] = []
        for pending in pendingSlates {
            if let row = pending.items.first(where: retired) {
                dropped.insert(pending.impressionId)
                refuseRetired(pending.slate, item: spec.itemIds[row], into: &actions)
            } else {
                kept.append(pending)
            }
        }
        guard !dropped.isEmpty else { return }
        pendingSlates = kept
        pendingImpressions.removeAll { dropped.contains($0.id) }
        pendingImpressionIds.subtract(dropped)
        pendingFeedback.removeAll { pending in
            guard pending.queued, dropped.contains(pending.query.request.impressionId) else { return false }
            actions.append(.lookUp(pending.query))
            return true
        }
        actions.append(
            .log(
                .info, "slates queued for the log showed an item just retired; their clients were answered CONFLICT",
                ["slates": "\(dropped.count)"]))
    }

    /// Answers a held RECOMMEND with CONFLICT instead of its slate, which shows `item`, retired before its impression
    /// was stored (as the control plane answers a slate that arrives holding a retired item): the client retries.
    func refuseRetired(_ held: HeldSlate, item: String, into actions: inout [OnlineAction]) {
        // Without a header (never: the broker core built these frames) nothing is sent: the slate shows the item.
        guard
            let frames = Self.refusal(
                of: held, status: .conflict, message: "the slate held item \(item), retired before its impression was logged; retry")
        else { return }
        actions.append(.send(.heldReply(identity: held.client, frames: frames)))
    }
}

extension OnlineCore {
    /// Serves the untrained policy again with `scaling` as its item scaling, when it differs from the configured one
    /// and fits the configured items: a restart continuing a stored lineage reads the items as that lineage always
    /// did (``OnlineCoordinator`` calls it before the stored statistics are adopted). A scaling that does not fit (the
    /// item width changed) is left: such a lineage does not continue anyway.
    mutating func inheritItemScaling(_ scaling: ItemScaling?) {
        guard scaling != spec.itemScaling, scaling?.problem(itemWidth: spec.itemWidth) == nil else { return }
        var inherited = spec
        inherited.itemScaling = scaling
        guard let policy = try? OnlinePolicy.initial(spec: inherited, catalogue: self.policy.catalogue) else { return }
        spec = inherited
        self.policy = policy
    }
}

extension OnlineCoordinator {
    /// Why the served policy cannot move to `catalogue` (rows moved or removed, another feature width), or `nil`
    /// when it can or when the policy does not serve the registry. Asked before a version is stored, so a change
    /// the policy cannot take is refused rather than stored and silently not served.
    func refusal(forCatalogue catalogue: ItemCatalogue) -> String? {
        guard core.settings.served != nil else { return nil }
        do {
            _ = try core.policy.with(catalogue: catalogue)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Why a slate may not be shown, or nil: it holds an item the catalogue version the policy serves has retired (a
    /// replica that has not installed that version yet drew it). Judged by the served version, not the registry's
    /// newest: a pool restarted onto an earlier version (`--online-catalogue 1`) serves that version's items, and
    /// refusing them by a later one's retirements refused nearly every slate, for good.
    func retiredRefusal(forSlate slate: [Int]) -> String? {
        guard core.settings.served != nil, let version = core.catalogueVersion else { return nil }
        let active = core.spec.itemActive
        guard let row = slate.first(where: { $0 >= 0 && $0 < active.count && !active[$0] }) else { return nil }
        let id = row < core.spec.itemIds.count ? core.spec.itemIds[row] : "\(row)"
        return "the slate held item \(id), retired in catalogue version \(version); retry"
    }

    /// The policy version that moves to a new registry version built on `parent`
    /// (``moveToCatalogue(_:version:sha256:parent:)``): the served one, when the policy serves the registry
    /// (`--online-catalogue`) at that parent; nil otherwise. The catalogue coordinator stores the move with the new
    /// version, in one transaction. A pool that serves an earlier version (`--online-catalogue 1` while the newest is
    /// 8) stays on it (the registry refuses a change built on 8 there; moved to 9, the policy also dropped what 2…8
    /// retired and showed what they added).
    func policyToMove(builtOn parent: UInt64?) -> UInt64? {
        guard core.settings.served != nil, let parent, Self.read(core, { $0.catalogueVersion }) == parent else { return nil }
        return core.version
    }

    /// A new registry version, stored with this policy's move to it (``policyToMove``): the policy serves it. The
    /// served number then names this catalogue, so a restart with `--online-catalogue` naming an earlier version
    /// starts the next number instead of serving this one's number over fewer rows.
    func moveToCatalogue(_ catalogue: ItemCatalogue, version: UInt64, sha256: String, parent: UInt64?) {
        guard core.settings.served != nil else { return }
        let served = Self.read(core) { $0.catalogueVersion }
        guard let parent, served == parent else {
            let pinned = served.map { String($0) } ?? "none"
            logger.info(
                "online policy stays on the catalogue version it serves; the new version builds on another",
                metadata: ["served_catalogue_version": "\(pinned)", "catalogue_version": "\(version)"])
            return
        }
        var actions: [OnlineAction] = []
        do {
            try core.moveToCatalogue(catalogue, as: CatalogueReference(version: version, sha256: sha256), into: &actions)
            for action in actions { perform(action, nowMs: ControlClock.shared.nowMs()) }
            logger.info("online policy moved to catalogue version", metadata: ["catalogue_version": "\(version)"])
        } catch {
            // The move was stored with the version; the policy cannot serve it. Its row is put back to the catalogue
            // it serves, so a restart does not resume this number over rows it never served.
            let policyVersion = Self.read(core) { $0.version }
            let served = Self.read(core) { $0.catalogueVersion }
            if let served { try? store.movePolicyVersion(policyVersion, toCatalogue: served) }
            logger.error(
                "online policy cannot serve catalogue version", metadata: ["catalogue_version": "\(version)", "error": "\(error)"])
        }
    }
}

extension OnlineCore {
    /// A replica refused a POLICY naming a catalogue version it does not hold: when that is the served version,
    /// the catalogue version is shipped to it and the POLICY sent again (at most ``maxCatalogueShipments`` times
    /// until it installs one); a refusal of an older POLICY is only logged (a newer one is already on its way).
    mutating func shipMissingCatalogue(
        to identity: [UInt8], report: PolicyStateReport, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        let name = workers.first { $0.identity == identity }?.id ?? "?"
        guard let missing = report.catalogue, missing == catalogue, report.version == version,
            workers.contains(where: { $0.identity == identity })
        else {
            return actions.append(
                .log(
                    .info, "a replica refused an older POLICY for a missing catalogue; a newer one is on its way",
                    ["worker": "\(name)", "policy_version": "\(report.version)"]))
        }
        let sent = catalogueShipments[identity, default: 0]
        guard sent < Self.maxCatalogueShipments else {
            return actions.append(
                .log(
                    .error, "a replica still lacks the served catalogue version after it was sent; it serves its old policy",
                    ["worker": "\(name)", "catalogue_version": "\(missing.version)", "error": "\(report.error ?? "")"]))
        }
        catalogueShipments[identity] = sent + 1
        actions.append(
            .log(
                .warning, "a replica lacks the served catalogue version; sending it, then the POLICY again",
                ["worker": "\(name)", "catalogue_version": "\(missing.version)"]))
        actions.append(.shipCatalogue(worker: identity, version: missing.version))
        install(on: identity, into: &actions)
        rehold(identity, nowMs: nowMs, into: &actions)  // the install dropped what it learnt: sent again after it
    }

    /// Times a catalogue version is shipped to one replica for refused POLICY messages before the broker gives up.
    static let maxCatalogueShipments = 3
}
