import BrokerCore
import RecPolicy
import RecWire

/// The control plane's inputs, each turned into one ``OnlineEvent``, and what the status shows.
extension OnlineCoordinator {
    /// The live workers changed.
    func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64) { run(.workers(live), nowMs: nowMs) }

    /// An impression record a worker attached to its RECOMMEND reply; with `reply`, that reply is
    /// sent only once the record is committed, or replaced by an error that says it was not stored. The impression is
    /// logged as served at `nowMs` (epoch ms, the broker's clock), not at the worker's `created_ms`.
    func handleImpression(
        worker: String, record: [UInt8], reply: (client: [UInt8], frames: [[UInt8]])? = nil, top: RequestedTop = .notRead,
        nowMs: UInt64
    ) {
        run(
            .impression(
                worker: worker, record: record,
                reply: reply.map { HeldSlate(client: $0.client, frames: $0.frames, top: top) }),
            nowMs: nowMs)
    }

    /// A client's FEEDBACK: acknowledged once committed (``flushPending()``).
    func handleFeedback(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        run(.feedback(identity: identity, message: message), nowMs: nowMs)
    }

    /// A replica's POLICY_STATE.
    func handleWorker(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        run(.policyState(identity: identity, message: message), nowMs: nowMs)
    }

    /// An online CONTROL request.
    func handleControl(identity: [UInt8], header: Header, request: ControlRequest, bytes: [UInt8]? = nil, nowMs: UInt64) {
        run(.control(identity: identity, header: header, request: request, bytes: bytes), nowMs: nowMs)
    }

    /// The guard's verdict.
    func handleVerdict(sync: UInt64, decision: GuardDecision, nowMs: UInt64) {
        if decision.reason.hasPrefix(GuardJudge.unreadableEvidence) {
            // Without its evidence the candidate cannot be judged: the sync ends rejected, as the verdict says.
            logger.error("online sync failed: the guard's evidence cannot be read", metadata: ["error": "\(decision.reason)"])
        }
        run(.verdict(sync: sync, decision: decision), nowMs: nowMs)
    }

    /// Commits what is queued (a group commit) and answers it.
    func flushPending() { run(.flush, nowMs: 0) }

    /// Periodic work, after a group commit of what the batch queued.
    func tick(nowMs: UInt64) {
        run(.flush, nowMs: nowMs)
        run(.tick, nowMs: nowMs)
    }

    /// The served version.
    var version: UInt64 { core.version }
    /// The served policy.
    var policy: OnlinePolicy { core.policy }
    /// What `recpool online status` shows.
    var view: OnlineView { core.view }
    /// Durable writes that failed since the broker started.
    var durableWriteFailures: Int { core.durableWriteFailures }
}
