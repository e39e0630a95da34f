/// A training job as submitted (`CONTROL` op `train`), and as stored with the job.
public struct TrainJobSpec: Codable, Sendable, Equatable {
    /// `mlp` or `dqn`.
    public var model: String
    /// A built-in dataset name (`obd:random/all`, `synthetic:users=…`) or `sha256:<hex>` of an upload.
    public var dataset: String
    /// Passes over each replica's shard.
    public var epochs: Int
    /// Rows per local step.
    public var batch: Int
    /// Adam learning rate.
    public var lr: Double
    /// Hidden layer widths; `nil` for the default `[d_in, 64]`.
    public var hidden: [Int]?
    /// How many replicas train.
    public var workers: Int
    /// Local steps between averaging rounds (H).
    public var syncEvery: Int
    /// The seed of initialisation, split and shuffling.
    public var seed: UInt64
    /// Fraction of rows held out for validation.
    public var validation: Double
    /// Serve the result once done.
    public var promote: Bool
    /// A round closes after this long with the results that arrived, ms.
    public var roundTimeoutMs: UInt64
    /// DQN only: the discount γ (default 0.9; 0 makes it a contextual bandit).
    public var gamma: Double?
    /// DQN only: the final exploration rate ε (default 0.05; ε starts at 1).
    public var epsilonEnd: Double?
    /// DQN only: environment steps over which ε decays linearly (default: half of each replica's steps).
    public var epsilonDecaySteps: Int?
    /// DQN only: each replica's replay buffer capacity (default 10,000).
    public var replayCapacity: Int?
    /// A shop's logs: the schema's TOML text naming the roles of the uploaded log's columns (docs/YOUR-DATA.md).
    public var schema: String?
    /// With `schema`: `sha256:<hex>` of the uploaded catalogue CSV the schema's `[catalogue]` describes.
    public var catalogue: String?
    /// `mlp`: whether the final checkpoint is taken from the averaged state with the lowest validation loss measured
    /// (nil or true, the default) or from the last state (false).
    public var restoreBest: Bool?

    /// Creates a spec with the documented defaults.
    public init(
        model: String = "mlp", dataset: String, epochs: Int = 10, batch: Int = 32, lr: Double = 0.001,
        hidden: [Int]? = nil, workers: Int = 1, syncEvery: Int = 50, seed: UInt64 = 0, validation: Double = 0.2,
        promote: Bool = false, roundTimeoutMs: UInt64 = 30_000
    ) {
        self.model = model
        self.dataset = dataset
        self.epochs = epochs
        self.batch = batch
        self.lr = lr
        self.hidden = hidden
        self.workers = workers
        self.syncEvery = syncEvery
        self.seed = seed
        self.validation = validation
        self.promote = promote
        self.roundTimeoutMs = roundTimeoutMs
    }

    /// The most hidden layers a job may ask for: a checkpoint holds at most 64 layers, the output layer among them
    /// (docs/MODELS.md), so a deeper job would train to a final checkpoint no reader decodes, registered as a model
    /// version that can be neither promoted nor pulled into `recpool predict`.
    public static let maximumHiddenLayers = 63
    /// The largest model a job may train, in parameters: RecModel's `MLP.maximumParameters` (RecModel knows nothing of
    /// the wire, so the number is repeated here; a test holds the two equal).
    public static let maximumParameters = 50_000_000

    /// The fewest parameters the hidden layers `hidden` make, whatever the dataset's width (one input feature, one
    /// output), or nil on overflow: a lower bound known before the width is.
    public static func minimumParameters(hidden: [Int]) -> Int? {
        let widths = [1] + hidden + [1]
        var total = 0
        for i in 0..<(widths.count - 1) {
            let (weights, o1) = widths[i].multipliedReportingOverflow(by: widths[i + 1])
            let (layer, o2) = weights.addingReportingOverflow(widths[i + 1])
            let (sum, o3) = total.addingReportingOverflow(layer)
            if o1 || o2 || o3 { return nil }
            total = sum
        }
        return total
    }

    /// A DQN job's replay buffer when `replay_capacity` is not given.
    public static let defaultReplayCapacity = 10_000

    /// Why the spec is invalid, or `nil`.
    public var problem: String? {
        if model != "mlp" && model != "dqn" { return "model must be mlp or dqn, not \(model)" }
        if dataset.isEmpty { return "dataset is empty" }
        if !(1...10_000).contains(epochs) { return "epochs must be 1…10000" }
        if !(1...65_536).contains(batch) { return "batch must be 1…65536" }
        if !(lr > 0 && lr < 10) { return "lr must be in (0, 10)" }
        // The workers step in 32-bit floats: a smaller rate is 0 there, and the job would train nothing.
        if !Float(lr).isNormal { return "lr must be at least \(Float.leastNormalMagnitude) (a 32-bit float; below it, 0)" }
        if let hidden, hidden.isEmpty {
            return "hidden lists no layer; give at least one width, or leave hidden out (null) for the default"
        }
        if let hidden, let width = hidden.first(where: { !(1...65_536).contains($0) }) {
            return "hidden sizes must be 1…65536, not \(width)"
        }
        if let hidden, hidden.count > Self.maximumHiddenLayers {
            return "hidden lists \(hidden.count) layers; at most \(Self.maximumHiddenLayers) (a checkpoint holds 64 layers with the output)"
        }
        // `--hidden 65536,65536` passed every per-width check and failed on the worker, round after round: a model
        // larger than any worker builds whatever the dataset's width is refused at submission.
        if let hidden, (Self.minimumParameters(hidden: hidden) ?? .max) > Self.maximumParameters {
            let count = Self.minimumParameters(hidden: hidden)
            let shown = hidden.map(String.init).joined(separator: ",")
            let size = count.map { "at least \($0) parameters" } ?? "more parameters than an Int can count"
            return "hidden \(shown) makes a model of \(size) (with a single input feature), more than the "
                + "\(Self.maximumParameters) RecPool builds"
        }
        if !(1...256).contains(workers) { return "workers must be 1…256" }
        if !(1...1_000_000).contains(syncEvery) { return "sync_every must be 1…1000000" }
        if !(validation >= 0 && validation < 1) { return "validation must be in [0, 1)" }
        if roundTimeoutMs < 100 { return "round_timeout_ms must be at least 100" }
        // γ is used as a 32-bit float (the agent's and the checkpoint's): 0.999999999 passed as a Double and trained
        // and stored γ = 1, outside the range.
        if let gamma, !(gamma >= 0 && gamma < 1 && Float(gamma) < 1) {
            return gamma >= 0 && gamma < 1
                ? "gamma must be in [0, 1) as a 32-bit float; \(gamma) rounds to 1 (at most \(Float(1).nextDown))"
                : "gamma must be in [0, 1)"
        }
        if let epsilonEnd, !(epsilonEnd >= 0 && epsilonEnd <= 1) { return "epsilon_end must be in [0, 1]" }
        if let epsilonDecaySteps, epsilonDecaySteps < 1 { return "epsilon_decay_steps must be at least 1" }
        if let replayCapacity, !(1...10_000_000).contains(replayCapacity) { return "replay_capacity must be 1…10000000" }
        // A replay buffer smaller than a batch never yields one: the job would end "completed" with no step taken.
        if model == "dqn", batch > (replayCapacity ?? Self.defaultReplayCapacity) {
            return "batch \(batch) is larger than the replay buffer (replay_capacity \(replayCapacity ?? Self.defaultReplayCapacity)): "
                + "no training step could ever run"
        }
        if (schema == nil) != (catalogue == nil) { return "schema and catalogue go together (a shop's logs need both)" }
        if schema != nil && !dataset.hasPrefix("sha256:") { return "schema applies to an uploaded log (sha256:<hex>)" }
        if let catalogue, !catalogue.hasPrefix("sha256:") { return "catalogue must be sha256:<hex> of an upload" }
        for (field, name) in [("dataset", dataset), ("catalogue", catalogue ?? "")] where name.hasPrefix("sha256:") {
            let hex = name.utf8.dropFirst(7)
            guard hex.count == 64, hex.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                return "\(field) sha256: needs 64 lowercase hexadecimal digits (the upload's SHA-256)"
            }
        }
        if schema != nil && model != "mlp" { return "schema applies to mlp jobs" }
        if restoreBest != nil && model != "mlp" { return "restore_best applies to mlp jobs" }
        if promote && model != "mlp" {
            return "promote applies to mlp jobs: scoring replicas serve MLP checkpoints, not a DQN's"
        }
        if model == "mlp" && (gamma != nil || epsilonEnd != nil || epsilonDecaySteps != nil || replayCapacity != nil) {
            return "gamma, epsilon and replay settings apply to dqn jobs only"
        }
        return nil
    }
}

/// What the broker asks of one replica for one round (`TRAIN_ROUND`, JSON frame 1).
///
/// Frames: `[header][assignment JSON][state pack, empty for round 1][dataset bytes, if included]`.
public struct RoundAssignment: Codable, Sendable, Equatable {
    /// The job.
    public var job: String
    /// The round, from 1.
    public var round: Int
    /// This replica's shard, from 0.
    public var shard: Int
    /// How many shards (replicas).
    public var shards: Int
    /// The local step this round starts at.
    public var fromStep: Int
    /// Local steps to run (0: evaluate only).
    public var steps: Int
    /// The job's specification.
    public var spec: TrainJobSpec
    /// SHA-256 of the state pack in frame 2 (empty for round 1: initialise from the seed).
    public var stateSHA: String
    /// Evaluate the received state on the validation split and report the metrics.
    public var evaluate: Bool
    /// Return a model checkpoint of the received state instead of training (the last round).
    public var finalize: Bool
    /// Whether frame 3 carries the dataset bytes.
    public var datasetIncluded: Bool

    enum CodingKeys: String, CodingKey {
        case job, round, shard, shards, fromStep, steps, spec, evaluate, finalize, datasetIncluded
        // Spelled so that the snake_case strategies round-trip the acronym: state_sha.
        case stateSHA = "stateSha"
    }

    /// Creates an assignment.
    public init(
        job: String, round: Int, shard: Int, shards: Int, fromStep: Int, steps: Int, spec: TrainJobSpec,
        stateSHA: String, evaluate: Bool, finalize: Bool, datasetIncluded: Bool
    ) {
        self.job = job
        self.round = round
        self.shard = shard
        self.shards = shards
        self.fromStep = fromStep
        self.steps = steps
        self.spec = spec
        self.stateSHA = stateSHA
        self.evaluate = evaluate
        self.finalize = finalize
        self.datasetIncluded = datasetIncluded
    }
}

/// Validation metrics by name (`val_loss`, `auc`, `pr_auc`, …, docs/TRAINING.md). A metric that is undefined on the
/// rows (an AUC when they hold one class, a PR-AUC without a click, a figure that is not finite) is kept with the
/// value nil, written `null`, so that a reader sees it was measured and is undefined rather than missing.
public typealias MetricValues = [String: Double?]

/// A replica's answer for one round (`ROUND_RESULT`, JSON frame 1).
///
/// Frames: `[header][report JSON][state pack, or checkpoint bytes when finalizing]`.
public struct RoundReport: Codable, Sendable, Equatable {
    /// What a worker's round error says when it lacks an uploaded file the round names (the broker then sends the
    /// round again with the file's bytes); no other error is about missing files.
    public static let notCachedPhrase = "is not cached on this worker"

    /// Whether `error` (a report's ``error``) says the worker lacks an uploaded file, so sending the round again with
    /// the files can help: a model too large, a diverged round or a bad dataset would fail the same way again.
    public static func isMissingFiles(_ error: String) -> Bool {
        error.hasPrefix("unknown dataset: ") && error.contains(notCachedPhrase)
    }

    /// The job.
    public var job: String
    /// The round.
    public var round: Int
    /// The shard trained.
    public var shard: Int
    /// Rows processed in the round.
    public var samples: Int
    /// Mean training loss over those rows; nil (`null`) when the round took no gradient step (no rows to train
    /// on, an evaluate-only round, or a DQN replica whose replay buffer still holds fewer transitions than a
    /// batch), since no loss was measured: never 0, which would read as a perfect fit.
    public var loss: Double?
    /// SHA-256 of the state the replica received and started from (replica consistency check).
    public var receivedStateSHA: String
    /// Validation metrics of the received state, when asked to evaluate (an undefined one is `null`).
    public var metrics: MetricValues?
    /// The epoch reached.
    public var epoch: Int
    /// The local step reached.
    public var step: Int
    /// The local steps this replica's shard needs for the whole job (epochs × steps per epoch).
    public var totalSteps: Int
    /// SHA-256 identifying the training data the replica resolved.
    public var datasetSHA: String
    /// Why the round failed on this replica (then no state frame follows).
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case job, round, shard, samples, loss, metrics, epoch, step, totalSteps, error
        // Spelled so that the snake_case strategies round-trip the acronyms.
        case receivedStateSHA = "receivedStateSha"
        case datasetSHA = "datasetSha"
    }

    /// Creates a report.
    public init(
        job: String, round: Int, shard: Int, samples: Int, loss: Double?, receivedStateSHA: String,
        metrics: MetricValues?, epoch: Int, step: Int, totalSteps: Int, datasetSHA: String, error: String?
    ) {
        self.datasetSHA = datasetSHA
        self.step = step
        self.totalSteps = totalSteps
        self.job = job
        self.round = round
        self.shard = shard
        self.samples = samples
        self.loss = loss
        self.receivedStateSHA = receivedStateSHA
        self.metrics = metrics
        self.epoch = epoch
        self.error = error
    }

    /// Why a successful report (no `error`) cannot be used, or `nil`: a count below 0, a loss that is not a
    /// finite number ≥ 0 (an absent loss, a round with no gradient step, is fine), or a metric that is a number but not finite (an undefined metric is nil, not NaN). A
    /// worker before this check reported a diverged round as the loss `Double.greatestFiniteMagnitude`, which this
    /// treats as diverged too.
    public var problem: String? {
        if samples < 0 || step < 0 || epoch < 0 || totalSteps < 0 {
            return "negative count (samples \(samples), step \(step), epoch \(epoch), total_steps \(totalSteps))"
        }
        if let loss, !(loss.isFinite && loss >= 0 && loss < .greatestFiniteMagnitude) {
            return "the loss is \(loss), not a finite number ≥ 0 (training diverged)"
        }
        // An evaluating round names its figures (`val_rows` at least, a DQN's `episodes`): `{}` would be stored and
        // printed as the round's metrics, an empty object in place of a value.
        if let metrics, metrics.isEmpty { return "metrics is an empty object: an evaluating round reports its figures, or null" }
        if let metrics,
            let bad = metrics.sorted(by: { $0.key < $1.key }).first(where: { $0.value.map { !$0.isFinite } ?? false }),
            let value = bad.value
        {
            return "metric \(bad.key) is \(value), not a finite number"
        }
        return nil
    }
}

/// The JSON frame of a `WEIGHTS` message: which version follows and its checksum.
///
/// Frames: `[header (model_version = version)][notice JSON][checkpoint bytes]`.
public struct WeightsNotice: Codable, Sendable, Equatable {
    /// The model version.
    public var version: UInt64
    /// SHA-256 of the checkpoint bytes in frame 2; the worker verifies it before use.
    public var sha256: String

    /// Creates a notice.
    public init(version: UInt64, sha256: String) {
        self.version = version
        self.sha256 = sha256
    }
}
