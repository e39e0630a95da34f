import RecWire

/// What the reactor hands the control plane.
public enum ControlInput: Sendable {
    /// A CONTROL request from a client.
    case client(identity: [UInt8], message: WireMessage, userId: String?)
    /// A training message from a worker (ROUND_RESULT).
    case worker(identity: [UInt8], message: WireMessage)
    /// The live workers that can train or learn online, as the core knows them now.
    case workers([TrainingWorker])
    /// An impression record (JSON ``ImpressionRecord``) with the RECOMMEND reply it came with, held until the
    /// record is stored: the control plane sends `frames` to `client` after the commit, or an error reply saying
    /// the impression was not stored (so feedback on the slate could not be taken), or, when the broker runs no
    /// online learning, an error saying so: a slate the broker cannot log never reaches a client.
    /// `top` is what the RECOMMEND asked of the slate's length, which the control plane bounds it by.
    case heldImpression(worker: String, record: [UInt8], client: [UInt8], frames: [[UInt8]], top: RequestedTop = .notRead)
    /// The guard's verdict on a sync's candidate (from the guard's thread).
    case guardVerdict(sync: UInt64, decision: GuardDecision)
}

extension ControlInput {
    /// The bytes this input holds while it waits for the control plane (frames and record; a small constant for the
    /// rest), which its inbox limit counts.
    public var byteCount: Int {
        switch self {
        case .client(let identity, let message, _):
            identity.count + Header.size + message.payload.reduce(0) { $0 + $1.count }
        case .worker(let identity, let message):
            identity.count + Header.size + message.payload.reduce(0) { $0 + $1.count }
        case .workers(let live): live.reduce(64) { $0 + $1.identity.count + $1.id.utf8.count + 16 }
        case .heldImpression(let worker, let record, let client, let frames, _):
            worker.utf8.count + record.count + client.count + frames.reduce(0) { $0 + $1.count }
        case .guardVerdict: 256
        }
    }

    /// The client whose request this input is (a CONTROL, FEEDBACK or held policy slate), `nil` for the rest: its
    /// bytes count towards that client's share of the inbox (``ControlAdmission/refusedClientShare(clientBytes:share:)``).
    public var client: [UInt8]? {
        switch self {
        case .client(let identity, _, _): identity
        case .heldImpression(_, _, let client, _, _): client
        case .worker, .workers, .guardVerdict: nil
        }
    }

    /// Whether the control plane may refuse this input when its inbox is full: what a client sends (CONTROL,
    /// FEEDBACK) and the policy slates that wait for their impression's commit, which the client answers with
    /// BUSY. Worker messages and the broker's own inputs are always taken.
    public var isRefusable: Bool {
        switch self {
        case .client, .heldImpression: true
        case .worker, .workers, .guardVerdict: false
        }
    }
}

/// What a RECOMMEND asked of a policy slate's length, as the broker read its document (docs/PROTOCOL.md, "RECOMMEND"):
/// the control plane refuses a slate longer than it before logging it.
public enum RequestedTop: Sendable, Equatable {
    /// The request's `top`.
    case given(Int)
    /// The request names no `top` (or has no document): the policy's `slate_size`.
    case slateSize
    /// The request's document was not read again (past ``RankedItemsReply/requestReadLimitBytes``): only the largest
    /// `top` the policy takes bounds the slate.
    case notRead
}

/// Whether the control plane took an input (``ControlInput``) into its inbox.
public enum ControlAdmission: Sendable, Equatable {
    /// Queued for the control thread.
    case accepted
    /// Not queued: the inbox already holds `heldBytes` bytes of inputs, and this one would pass `limit`.
    case refused(heldBytes: Int, limit: Int)
    /// Not queued: the same client's inputs already hold `clientBytes`, and this one would pass its `share` of the
    /// inbox (half the limit), so one client's flood cannot turn every other client's requests away.
    case refusedClientShare(clientBytes: Int, share: Int)
}

/// A live worker as the control plane sees it.
public struct TrainingWorker: Sendable, Hashable {
    /// Its routing identity.
    public var identity: [UInt8]
    /// Its display id.
    public var id: String
    /// Whether it runs training rounds.
    public var trains: Bool
    /// Whether it serves and learns the online policy.
    public var online: Bool
    /// Its registration's place in the broker's order of registrations: a new READY on the same connection gives
    /// the same identity a new number, and what the control plane had sent it (a training shard, a policy pull) is
    /// lost with the registration it replaced (docs/PROTOCOL.md, READY).
    public var registration: UInt64
    /// Whether it is draining: it takes no new work and leaves once it has answered what it holds, so the job core
    /// gives it no training shard and sends the shard it holds to another worker at once (a worker's drain does not
    /// wait for a training round).
    public var draining: Bool

    /// Creates a view of a worker.
    public init(
        identity: [UInt8], id: String, trains: Bool = true, online: Bool = false, registration: UInt64 = 0,
        draining: Bool = false
    ) {
        self.identity = identity
        self.id = id
        self.trains = trains
        self.online = online
        self.registration = registration
        self.draining = draining
    }

    /// The identities of `live` workers registered again since `previous` (the same identity, another
    /// ``registration``).
    public static func registeredAgain(_ live: [TrainingWorker], since previous: [TrainingWorker]) -> Set<[UInt8]> {
        let before = Dictionary(previous.map { ($0.identity, $0.registration) }, uniquingKeysWith: { first, _ in first })
        return Set(live.filter { worker in before[worker.identity].map { $0 != worker.registration } ?? false }.map(\.identity))
    }
}

/// What the control plane hands back to the reactor.
public enum ControlOutput: Sendable {
    /// Send frames to a client.
    case toClient(identity: [UInt8], frames: [[UInt8]])
    /// Send a held RECOMMEND answer to a client (its slate once the impression is stored, or the error
    /// that replaces it): the core counts it as answered, so a shutdown drain waits for it.
    case heldReply(identity: [UInt8], frames: [[UInt8]])
    /// Send a held RECOMMEND's INTERNAL answer that replaces a worker's invalid slate (a slate that is not the
    /// impression its record describes, a record that does not decode or is malformed): answered as `heldReply`, and
    /// counted in `invalid_worker_replies` as the core counts the invalid replies it refuses itself.
    case invalidSlateReply(identity: [UInt8], frames: [[UInt8]], worker: String)
    /// Send frames to a worker.
    case toWorker(identity: [UInt8], frames: [[UInt8]])
    /// Roll this version out to every scoring replica: the complete WEIGHTS message frames, and the features per row
    /// its model takes (nil when its checkpoint cannot be read).
    case rollout(version: UInt64, frames: [[UInt8]], inputWidth: Int? = nil)
    /// The online learner's state changed: shown in the status document.
    case online(OnlineView)
    /// The workers (routing identities) that reported an installed online policy version, or nil when online
    /// learning is off: the reactor hands it to the core as ``BrokerEvent/policyReplicas(_:)``.
    case policyReplicas(Set<[UInt8]>?)
    /// The broker was started with `--online` and its online learning could not start: why, for the status document
    /// (``StatusDocument/onlineOff``).
    case onlineOff(String)
    /// Every registered model version and its checkpoint's SHA-256: a worker that claims a version
    /// is checked against it (sent at start and after each registration).
    case registry([UInt64: String])
}
