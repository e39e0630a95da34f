/// A CONTROL operation: the `op` key of a ``ControlRequest``, decoded once at the edge.
///
/// This enum is the one place the operations' wire names are spelled: clients build requests with
/// it, the broker routes by its cases and its access rules read ``access``. The table on
/// ``ControlRequest`` lists each operation's arguments and reply.
public enum ControlOperation: String, CaseIterable, Sendable, Codable, Hashable {
    /// Start a training job.
    case train
    /// Upload one chunk of a dataset.
    case upload
    /// List every job.
    case jobs
    /// One job with its rounds.
    case job
    /// Cancel a job.
    case cancelJob = "cancel_job"
    /// List every model version.
    case models
    /// Promote a model version to every scoring replica.
    case promote
    /// Register a checkpoint file as a model version.
    case importModel = "import"
    /// A model version's record and checkpoint bytes.
    case fetch
    /// Promote the version promoted before the current one.
    case rollback
    /// Drain one worker: it finishes what it holds and leaves.
    case drain
    /// The online learner's state.
    case online
    /// Stop online learning (feedback is still stored).
    case onlineFreeze = "online_freeze"
    /// Resume online learning.
    case onlineUnfreeze = "online_unfreeze"
    /// Run an online sync now.
    case onlineSync = "online_sync"
    /// The served online policy and its weights.
    case onlinePolicy = "online_policy"
    /// A page of the impression log.
    case impressions
    /// Register a policy trained offline (a warm start from logs) as the next online version; its weights pack
    /// travels in frame 2, `catalogue_version` names the catalogue it was trained on (`recpool policy warmstart`).
    case onlineRegister = "online_register"
    /// Register an uploaded catalogue CSV with its schema as a new catalogue version.
    case catalogueUpload = "catalogue_upload"
    /// List every catalogue version.
    case catalogues
    /// One catalogue version (the newest without `version`) and a page of its items.
    case catalogue
    /// Add an item to the newest catalogue version (a new version); acknowledged once every live worker has it.
    case catalogueAdd = "catalogue_add"
    /// Retire an item (a new version); acknowledged once every live worker has it, and from then on no slate
    /// holds the item.
    case catalogueRetire = "catalogue_retire"

    /// Which part of the broker answers an operation.
    public enum Owner: Sendable, Hashable {
        /// The reactor itself (`drain`: it owns the worker registry).
        case reactor
        /// The training jobs and the model registry (`JobCoordinator`).
        case jobs
        /// Online learning (`OnlineCoordinator`).
        case online
        /// The catalogue registry (`CatalogueCoordinator`).
        case catalogues
    }

    /// Who may run an operation when the broker enforces roles (docs/SECURITY.md).
    public enum Access: Sendable, Hashable {
        /// Reads only: clients and trainers.
        case readOnly
        /// Changes jobs, models, workers or the online learner: trainers only.
        case trainer
    }

    /// The part of the broker that answers this operation.
    public var owner: Owner {
        switch self {
        case .drain: .reactor
        case .train, .upload, .jobs, .job, .cancelJob, .models, .promote, .importModel, .fetch, .rollback: .jobs
        case .online, .onlineFreeze, .onlineUnfreeze, .onlineSync, .onlinePolicy, .impressions, .onlineRegister: .online
        case .catalogueUpload, .catalogues, .catalogue, .catalogueAdd, .catalogueRetire: .catalogues
        }
    }

    /// Who may run this operation.
    public var access: Access {
        switch self {
        case .jobs, .job, .models, .fetch, .online, .onlinePolicy, .impressions, .catalogues, .catalogue: .readOnly
        case .train, .upload, .cancelJob, .promote, .rollback, .importModel, .drain, .onlineFreeze, .onlineUnfreeze,
            .onlineSync, .onlineRegister, .catalogueUpload, .catalogueAdd, .catalogueRetire:
            .trainer
        }
    }

    /// The wire name, as in `{"op": "cancel_job"}`.
    public var name: String { rawValue }

    /// The keys this operation reads beside `op`, snake_case as on the wire (docs/PROTOCOL.md, "CONTROL"). Any other
    /// key of ``ControlRequest`` is refused for it: `{"op": "rollback", "version": 2}` rolled back to version 1,
    /// ignoring the version the caller named.
    public var arguments: Set<String> {
        switch self {
        case .train: ["train"]
        case .upload: ["upload"]
        case .job, .cancelJob: ["job"]
        case .promote, .fetch, .onlinePolicy: ["version"]
        case .drain: ["worker"]
        case .onlineSync: ["corrupt"]
        case .impressions: ["after", "limit"]
        case .onlineRegister: ["catalogue_version", "version"]
        case .catalogue: ["version", "after", "limit"]
        case .catalogueUpload, .catalogueAdd, .catalogueRetire: ["catalogue"]
        case .jobs, .models, .importModel, .rollback, .online, .onlineFreeze, .onlineUnfreeze, .catalogues: []
        }
    }
}

extension ControlRequest {
    /// The operation, or `nil` when `op` names none this build knows (the broker refuses it
    /// BAD_REQUEST, naming it).
    public var operation: ControlOperation? { ControlOperation(rawValue: op) }

    /// Creates a request for `operation`.
    public init(
        _ operation: ControlOperation, job: String? = nil, version: UInt64? = nil, train: TrainJobSpec? = nil,
        upload: UploadChunk? = nil, worker: String? = nil, corrupt: String? = nil, after: Int64? = nil,
        limit: Int? = nil, catalogue: CatalogueArguments? = nil, catalogueVersion: UInt64? = nil
    ) {
        self.init(
            op: operation.rawValue, job: job, version: version, train: train, upload: upload, worker: worker,
            corrupt: corrupt, after: after, limit: limit, catalogue: catalogue, catalogueVersion: catalogueVersion)
    }
}
