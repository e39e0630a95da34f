import BrokerCore
import Logging
import RecStore
import RecTransport

extension ControlPlane {
    /// Loads the durable state and builds the router over the coordinators: resumes jobs and publishes the model
    /// registry and the promoted version (``JobCoordinator/start(nowMs:)``), loads the catalogue registry, and
    /// starts online learning when configured.
    ///
    /// State that cannot be read ends the start, so the broker never serves without its registries (a seeded
    /// model answering while a version is promoted, catalogue operations failing while scoring goes on). Online
    /// learning that cannot start for another reason (its stored policy does not fit the flags, an
    /// `--online-catalogue` that is not in the registry) is only switched off, with the reason clients are told.
    /// - Throws: ``BrokerError/unreadableState(what:error:)`` naming what could not be read.
    func startServices(emit: @escaping (ControlOutput) -> Void) throws(BrokerError)
        -> (router: ControlRouter, judge: GuardJudge?)
    {
        let coordinator = JobCoordinator(store: store, logger: logger, emit: emit)
        do {
            try coordinator.start(nowMs: ControlClock.shared.nowMs())
        } catch {
            throw .unreadableState(what: "the jobs and the model registry", error: "\(error)")
        }
        let catalogues: CatalogueCoordinator
        do {
            // Every version's row, not only the ones serving reads: OPERATIONS.md promises the whole registry is read at
            // start, and a damaged older row left `recpool catalogue list` answering INTERNAL once the pool served.
            _ = try store.catalogues()
            catalogues = try CatalogueCoordinator(
                store: store, logger: logger, servesRegistry: online?.catalogue != nil,
                confirmTimeoutMs: catalogueConfirmTimeoutMs, emit: emit)
        } catch {
            throw .unreadableState(what: "the catalogue registry", error: "\(error)")
        }
        var learner: OnlineCoordinator? = nil
        var judgeThread: GuardJudge? = nil
        var settings = online
        var onlineOff: String? = nil
        if let name = settings?.catalogue {
            do {
                settings?.served = try catalogues.served(name)
            } catch let error as StoreError {
                throw .unreadableState(what: "the catalogue registry", error: "\(error)")
            } catch let error as UnreadableCatalogueVersion {
                throw .unreadableState(what: "the catalogue registry", error: "\(error)")
            } catch {
                let reason = (error as? CatalogueRefusal)?.text ?? "\(error)"
                onlineOff = "--online-catalogue \(name) cannot be served: \(reason)"
                logger.error(
                    "--online-catalogue cannot be served; online learning is off",
                    metadata: ["catalogue": "\(name)", "error": "\(reason)"])
            }
        }
        if let online = settings, online.catalogue == nil || online.served != nil {
            do {
                let made = try OnlineCoordinator(settings: online, store: store, logger: logger, emit: emit)
                let judge = GuardJudge { [self] sync, decision in
                    self.submit(.guardVerdict(sync: sync, decision: decision))
                }
                judgeThread = judge
                made.judge = { judge.judge($0) }
                // Every stored version's row, older ones too, as OPERATIONS.md says the start reads them (exit 65).
                try store.checkPolicyVersionRows()
                try made.start(nowMs: ControlClock.shared.nowMs())
                learner = made
                // Before any worker registers (the reactor binds after this start): RECOMMEND waits for a replica that
                // installed the policy instead of being answered from a model path.
                emit(.policyReplicas([]))
            } catch let error as StoreError where Self.isUnreadable(error) {
                judgeThread?.stop()
                throw .unreadableState(what: "the online policy", error: "\(error)")
            } catch let error as StoredPolicyUnusable {
                // The served version's weights are damaged (not finite, or not the shape its own spec gives): they
                // exist nowhere else, so the start stops rather than serve without them (answering RECOMMEND from
                // the MLP model, refusing FEEDBACK).
                judgeThread?.stop()
                throw .unreadableState(what: "the online policy", error: "\(error)")
            } catch {
                // A write that failed (a full disk, an I/O error storing the first version) is not unreadable state:
                // online learning is off, saying why, and everything else is served.
                onlineOff = "the online policy could not start: \(error)"
                logger.error(
                    "online learning could not start; FEEDBACK will be refused", metadata: ["error": "\(error)"])
            }
        }
        if let learner {
            catalogues.onStored = { catalogue, version, sha256, parent in
                learner.moveToCatalogue(catalogue, version: version, sha256: sha256, parent: parent)
            }
            catalogues.refusal = { catalogue in learner.refusal(forCatalogue: catalogue) }
            catalogues.servedVersion = { learner.core.catalogueVersion }
            catalogues.policyToMove = { parent in learner.policyToMove(builtOn: parent) }
            if let served = learner.core.catalogueVersion { catalogues.rollOut(servedVersion: served) }
            learner.shipCatalogue = { [weak catalogues] worker, version in
                catalogues?.ship(version, to: worker) ?? false
            }
        }
        var router = ControlRouter(jobs: coordinator, online: learner, catalogues: catalogues)
        router.onlineOff = onlineOff
        if let onlineOff { emit(.onlineOff("\(onlineOff); fix it and restart the broker")) }
        return (router, judgeThread)
    }

    /// Whether a store error at start means durable state cannot be read (exit 65), rather than a write that failed
    /// (`noSpace`, `io`): `OnlineCoordinator.start` stores the first version of a new policy or lineage.
    static func isUnreadable(_ error: StoreError) -> Bool {
        switch error {
        case .noSpace, .io: false
        default: true
        }
    }
}
