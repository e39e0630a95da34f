import BrokerCore
import Logging
import RecStore
import RecWire

/// What happens to training, as ``JobCore/handle(_:nowMs:into:)`` takes it: a change of workers, a
/// tick, a ROUND_RESULT, a job accepted or cancelled by a request, or the result of a ``JobAction``.
enum JobEvent {
    /// The live workers changed.
    case workers([TrainingWorker])
    /// Periodic work: start rounds for waiting jobs, close rounds whose time is up.
    case tick
    /// A worker's ROUND_RESULT.
    case roundResult(identity: [UInt8], message: WireMessage)
    /// A job was stored (submitted, or resumed after a restart) and is to run.
    case accepted(JobCore.RunningJob)
    /// A job was cancelled, durably.
    case cancelled(String)
    /// A job is to fail for `reason`, durably.
    case fail(job: String, reason: String)
    /// The uploaded dataset a shard needs could not be read (``JobAction/sendShard(_:)``).
    case datasetUnreadable(job: String, error: StoreError)
    /// The result of ``JobAction/storeRound(_:)``: the averaged state's SHA-256, or why it was not stored.
    case roundStored(job: String, Result<String, StoreError>)
    /// The result of ``JobAction/register(_:)``: the registered version, or why not.
    case registered(job: String, Result<UInt64, any Error>)
    /// The result of ``JobAction/persist(_:what:)``.
    case persisted(JobRecord, what: String, Result<Void, any Error>)
}

/// What ``JobCore`` asks its shell (``JobCoordinator``) to do, in order. The ones that touch the store
/// have their result fed back as a ``JobEvent``.
enum JobAction {
    /// Send one shard's TRAIN_ROUND (or the finalize request), reading the uploaded dataset if the
    /// worker does not hold it; a failed read comes back as ``JobEvent/datasetUnreadable(job:error:)``.
    case sendShard(ShardToSend)
    /// Store an averaged round; the result comes back as ``JobEvent/roundStored(job:_:)``.
    case storeRound(RoundToStore)
    /// Register a final checkpoint as a model version and complete the job (promoting it if asked);
    /// the result comes back as ``JobEvent/registered(job:_:)``.
    case register(ModelToRegister)
    /// Write a job's record; the result comes back as ``JobEvent/persisted(_:what:_:)``.
    case persist(JobRecord, what: String)
    /// Log a line.
    case log(Logger.Level, String, Logger.Metadata)
}

/// One TRAIN_ROUND to send.
struct ShardToSend {
    /// The worker's routing identity.
    var worker: [UInt8]
    /// The dispatch attempt within the round, from 1 (the header's `attempt`, which the worker echoes in its
    /// ROUND_RESULT): the answer is taken only from the attempt that is out.
    var attempt: UInt16
    /// The assignment document.
    var assignment: RoundAssignment
    /// The state the round starts from (a parameter pack).
    var state: [UInt8]
    /// The SHA-256 of the uploaded dataset to attach, when the worker does not hold it.
    var dataset: String?
    /// The SHA-256 of the uploaded catalogue to attach after the dataset (frame 4), for a shop's log.
    var catalogue: String? = nil
}

/// An averaged round to store: the state goes to the blob store, the records name its SHA-256.
struct RoundToStore {
    /// The averaged state, a parameter pack.
    var state: [UInt8]
    /// The round's record and the job's, both without the state's SHA-256 (the shell fills it in).
    var round: RoundRecord
    var job: JobRecord
    /// The metrics the replicas measured on the state they received, which belong to the previous round (nil in
    /// round 1, whose replicas start from the untrained model and do not evaluate).
    var previousRoundMetrics: String? = nil
}

/// A final checkpoint to register.
struct ModelToRegister {
    /// The job's record, to be completed with the version.
    var job: JobRecord
    /// The finalizing worker's report (dataset hash, validation metrics).
    var report: RoundReport
    /// The checkpoint bytes.
    var checkpoint: [UInt8]
    /// Whether to promote the new version.
    var promote: Bool
    /// The last round's own metrics when the checkpoint is an earlier, better round's state; nil when the checkpoint
    /// is the last round's state (whose metrics are the report's).
    var lastRoundMetrics: MetricValues? = nil
}
