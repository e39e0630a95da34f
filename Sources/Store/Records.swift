/// The life of a training job.
public enum JobState: String, Codable, Sendable, CaseIterable {
    /// Accepted and durable, waiting for workers.
    case queued
    /// Rounds are running.
    case running
    /// Finished; its model version is registered.
    case completed
    /// Stopped by an error, named in ``JobRecord/error``.
    case failed
    /// Stopped by `recpool cancel`.
    case cancelled

    /// Whether the job will not change any more.
    public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A training job as stored.
public struct JobRecord: Codable, Sendable, Equatable {
    /// The job id, such as `job-1`.
    public var id: String
    /// `mlp` or `dqn`.
    public var model: String
    /// The state.
    public var state: JobState
    /// The job's specification (JSON, owned by the broker's job coordinator).
    public var spec: String
    /// Rounds completed.
    public var round: Int
    /// Rounds planned.
    public var totalRounds: Int
    /// Local steps completed per replica.
    public var step: Int
    /// Epoch reached.
    public var epoch: Int
    /// The mean training loss of the last round; nil before the first round and when the last round took no
    /// gradient step.
    public var loss: Double?
    /// Validation metrics of the last evaluated state (JSON object).
    public var metrics: String?
    /// The registered model version, once completed.
    public var modelVersion: UInt64?
    /// Why the job failed.
    public var error: String?
    /// The SHA-256 of the last completed round's averaged state blob.
    public var stateSHA: String?
    /// Seconds since the epoch when created.
    public var createdAt: Double
    /// Seconds since the epoch when last changed.
    public var updatedAt: Double

    /// Creates a queued job.
    public init(id: String, model: String, spec: String, totalRounds: Int, createdAt: Double) {
        self.id = id
        self.model = model
        state = .queued
        self.spec = spec
        round = 0
        self.totalRounds = totalRounds
        step = 0
        epoch = 0
        self.createdAt = createdAt
        updatedAt = createdAt
    }
}

/// One completed averaging round of a job.
public struct RoundRecord: Codable, Sendable, Equatable {
    /// The job.
    public var jobId: String
    /// The round number, from 1.
    public var round: Int
    /// Mean training loss over the replicas that measured one, weighted by samples; nil when no replica took a
    /// gradient step in the round (no loss was measured).
    public var loss: Double?
    /// Samples seen in the round, over all replicas.
    public var samples: Int
    /// Replicas whose results were averaged.
    public var replicas: Int
    /// Validation metrics of the averaged state after this round (JSON object): measured by the next round's first
    /// replica or by the finalize step, so `nil` until then.
    public var metrics: String?
    /// The averaged state's blob.
    public var stateSHA: String
    /// Wall-clock seconds the round took.
    public var seconds: Double

    /// Creates a round record.
    public init(
        jobId: String, round: Int, loss: Double?, samples: Int, replicas: Int, metrics: String?, stateSHA: String,
        seconds: Double
    ) {
        self.jobId = jobId
        self.round = round
        self.loss = loss
        self.samples = samples
        self.replicas = replicas
        self.metrics = metrics
        self.stateSHA = stateSHA
        self.seconds = seconds
    }
}

/// A registered model version.
public struct ModelRecord: Codable, Sendable, Equatable {
    /// The version, from 1, increasing.
    public var version: UInt64
    /// The job that trained it (empty for imported models).
    public var job: String
    /// The SHA-256 of its training dataset.
    public var datasetSHA: String
    /// Hyperparameters (JSON object).
    public var hyperparameters: String
    /// Validation metrics, including cold-start and warm segments (JSON object).
    public var metrics: String
    /// The checkpoint blob (which embeds the feature specification).
    public var checkpointSHA: String
    /// Whether scoring uses this version now.
    public var promoted: Bool
    /// Seconds since the epoch when registered.
    public var createdAt: Double
}
