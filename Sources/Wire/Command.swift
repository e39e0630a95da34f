/// The command byte of a RecPool message (byte 4 of the header). A reply sets the high bit
/// (``Header/replyBit``) on the command it answers. docs/PROTOCOL.md lists each command's frames.
public enum Command: UInt8, Sendable, Hashable, CaseIterable {
    // Client to broker; the broker forwards the scoring ones to a worker unchanged but for the id.
    /// Score feature rows with the MLP: one tensor frame in, one probability per row out.
    case score = 0x01
    /// Rank items for a user from raw context (a JSON document).
    case recommend = 0x02
    /// Report a user's reaction to one item of a recommendation (JSON ``FeedbackRequest``). Answered by the
    /// broker's control plane once the event is durable; workers learn from it afterwards.
    case feedback = 0x03
    /// Ask the broker for its status document (JSON).
    case status = 0x04
    /// Cancel a queued request: the payload is the target request id (u64).
    case cancel = 0x05
    /// A control document (JSON): training jobs, models, promotion. Used by later protocol features.
    case control = 0x06

    // Worker to broker.
    /// A worker registers: a JSON document with its capabilities.
    case ready = 0x20
    /// Liveness and credit: sent both ways every heartbeat interval.
    case heartbeat = 0x21
    /// A peer leaves (worker to broker) or is told to leave (broker to worker).
    case disconnect = 0x22
    /// A worker's result for a training round.
    case roundResult = 0x23
    /// A worker's online policy: its state for a sync (answering ``policyPull``), or the version and
    /// weight hash it now serves (after ``policy``). JSON ``PolicyStateReport``, then the pack for a sync.
    case policyState = 0x24
    /// A worker's answer to ``catalogue``: JSON ``CatalogueState`` (installed, or why not).
    case catalogueState = 0x25

    // Broker to worker.
    /// New model weights for a scoring replica.
    case weights = 0x30
    /// Work for one round of a training job.
    case trainRound = 0x31
    /// Feedback events for a replica's online learner (JSON ``LearnBatch``).
    case learn = 0x32
    /// Install an online policy version: JSON ``PolicyInstall``, then its ``ParameterPack``.
    case policy = 0x33
    /// Ask a replica for its online policy's state, for a periodic sync (answered by ``policyState``).
    case policyPull = 0x34
    /// Install a catalogue version: JSON ``CatalogueInstall``, then the catalogue's canonical bytes, which the
    /// worker verifies against the notice's SHA-256 (answered by ``catalogueState``).
    case catalogue = 0x35

    /// Whether the broker forwards this command to a worker for an answer.
    public var isWorkerService: Bool {
        switch self {
        case .score, .recommend: true
        default: false
        }
    }

    /// The name used in docs, logs and metrics, such as `SCORE`.
    public var name: String {
        switch self {
        case .score: "SCORE"
        case .recommend: "RECOMMEND"
        case .feedback: "FEEDBACK"
        case .status: "STATUS"
        case .cancel: "CANCEL"
        case .control: "CONTROL"
        case .ready: "READY"
        case .heartbeat: "HEARTBEAT"
        case .disconnect: "DISCONNECT"
        case .roundResult: "ROUND_RESULT"
        case .weights: "WEIGHTS"
        case .trainRound: "TRAIN_ROUND"
        case .policyState: "POLICY_STATE"
        case .learn: "LEARN"
        case .policy: "POLICY"
        case .policyPull: "POLICY_PULL"
        case .catalogueState: "CATALOGUE_STATE"
        case .catalogue: "CATALOGUE"
        }
    }
}
