import BrokerCore
import Logging
import RecPolicy
import RecStore
import RecWire

/// What happens to online learning, as ``OnlineCore/handle(_:nowMs:into:)`` takes it: a message from a
/// client, a worker or the guard, a tick, or the result of an ``OnlineAction`` the shell performed.
enum OnlineEvent {
    /// The live workers changed.
    case workers([TrainingWorker])
    /// A worker attached an impression record to a RECOMMEND reply; with `reply`, that reply is held
    /// until the record is committed.
    case impression(worker: String, record: [UInt8], reply: HeldSlate?)
    /// A client's FEEDBACK.
    case feedback(identity: [UInt8], message: WireMessage)
    /// The impression a FEEDBACK names, read from the log (``OnlineAction/lookUp(_:)``).
    case lookedUp(FeedbackQuery, Result<LoggedImpressionRow?, StoreError>)
    /// A replica's POLICY_STATE.
    case policyState(identity: [UInt8], message: WireMessage)
    /// An online CONTROL request, with the frame after its JSON document if it has one (`online_register`'s pack).
    case control(identity: [UInt8], header: Header, request: ControlRequest, bytes: [UInt8]? = nil)
    /// The guard's verdict on sync `sync`'s candidate.
    case verdict(sync: UInt64, decision: GuardDecision)
    /// The result of ``OnlineAction/commit(_:)``: the impressions refused for an id the log already holds, and for
    /// each feedback event whether it was recorded.
    case committed(Result<RecStore.OnlineCommitResult, StoreError>)
    /// The result of ``OnlineAction/storeVersion(_:)``: the weights' SHA-256, or why they were not stored.
    case versionStored(sync: UInt64, Result<String, StoreError>)
    /// The result of ``OnlineAction/storeFrozen(_:requester:)``.
    case frozenStored(Bool, requester: Requester, Result<Void, StoreError>)
    /// Periodic work: flush the log, start or time out syncs, send LEARN, publish the view.
    case tick
    /// Commit what is queued now (the end of a control-loop batch, or before a read of the log).
    case flush
}

/// What ``OnlineCore`` asks its shell (``OnlineCoordinator``) to do, in order. The ones that touch the
/// store have their result fed back as an ``OnlineEvent``.
enum OnlineAction {
    /// Hand this to the reactor: a reply, a held slate, a worker message, or the status view.
    case send(ControlOutput)
    /// Store these impressions and feedback in one transaction; the result comes back as
    /// ``OnlineEvent/committed(_:)``.
    case commit(OnlineCommit)
    /// Read an impression from the log; the result comes back as ``OnlineEvent/lookedUp(_:_:)``.
    case lookUp(FeedbackQuery)
    /// Read the guard's evidence from the (just committed) log and post the case to the guard's
    /// thread; the verdict comes back as ``OnlineEvent/verdict(sync:decision:)``.
    case judge(GuardCandidate)
    /// Store the weights and the version row; the result comes back as ``OnlineEvent/versionStored(sync:_:)``.
    case storeVersion(VersionToStore)
    /// Mark feedback events consumed by a finished sync, so a restarted broker does not hand them on again.
    case markLearnt([RecStore.FeedbackKey])
    /// Store the frozen flag; the result comes back as ``OnlineEvent/frozenStored(_:requester:_:)``.
    case storeFrozen(Bool, requester: Requester)
    /// Read a page of the impression log and answer the requester with it; `spec` (the catalogue, for an
    /// export's item-context file) goes on the first page only.
    case answerImpressionPage(requester: Requester, after: Int64, limit: Int, spec: OnlinePolicySpec?, version: UInt64)
    /// Send a registry catalogue version (CATALOGUE) to a replica that reported it missing.
    case shipCatalogue(worker: [UInt8], version: UInt64)
    /// Read a stored policy version (CONTROL `online_policy` with a `version` other than the served one) and
    /// answer the requester with its install order and weights, or NOT_FOUND.
    case answerPolicyVersion(requester: Requester, version: UInt64)
    /// Log a line.
    case log(Logger.Level, String, Logger.Metadata)
}

/// A client waiting for a CONTROL answer: its identity and the request's header.
struct Requester {
    /// The client's routing identity.
    var identity: [UInt8]
    /// The request's header (the reply echoes it).
    var header: Header
}

/// A RECOMMEND reply held until its impression is committed: the client and the reply's frames.
struct HeldSlate {
    /// The client's routing identity.
    var client: [UInt8]
    /// The reply's frames, header first.
    var frames: [[UInt8]]
    /// What the request asked of the slate's length.
    var top: RequestedTop = .notRead
}

/// An impression as the log holds it: the record, when it was served, and by which worker.
struct LoggedImpressionRow {
    /// The decoded record.
    var record: ImpressionRecord
    /// When it was served, epoch ms.
    var createdMs: UInt64
    /// The worker that served it.
    var worker: String
    /// The items whose feedback the log already holds (none for an impression still queued).
    var answeredItems: Set<Int> = []
}

/// A validated FEEDBACK whose impression is being read from the log.
struct FeedbackQuery {
    /// The client and its request header.
    var requester: Requester
    /// The decoded request.
    var request: FeedbackRequest
    /// When it arrived, epoch ms.
    var receivedMs: UInt64
}

/// One group commit: the rows to store, in one transaction.
struct OnlineCommit {
    /// Impressions to log, oldest first.
    var impressions: [(id: String, createdMs: UInt64, worker: String, version: UInt64, record: String)]
    /// Feedback events, in arrival order (the result says which were new).
    var feedback: [RecStore.FeedbackEvent]
    /// How many impressions the log keeps.
    var keep: Int
}

/// A candidate for the guard, without its evidence (the shell reads that from the store).
struct GuardCandidate {
    /// The sync the candidate comes from.
    var sync: UInt64
    /// The averaged (or injected) candidate.
    var candidate: OnlinePolicy
    /// The served policy it is compared with.
    var current: OnlinePolicy
    /// How many impressions with feedback the guard reads.
    var impressions: Int
    /// The guard's margin and minimum rows (``OnlineSettings``).
    var margin: Double
    var minimumRows: Int
}

/// An accepted candidate to store as version `version`.
struct VersionToStore {
    /// The sync it comes from.
    var sync: UInt64
    /// The version number it gets.
    var version: UInt64
    /// The weights as a parameter pack.
    var pack: [UInt8]
    /// The spec and the guard's decision, as stored JSON.
    var spec: String
    var decision: String?
    /// The registry's catalogue version it serves (nil: the simulator world's).
    var catalogueVersion: UInt64? = nil
    /// The feedback events it merged, marked consumed in the same transaction.
    var learnt: [RecStore.FeedbackKey] = []
}
