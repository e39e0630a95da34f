import Logging
import RecTransport
import RecWire

/// A moment as the worker core sees it: a monotonic clock for heartbeats, liveness and micro-batch
/// waits, and the wall clock for request deadlines, which clients express in ms since the Unix epoch.
struct WorkerInstant: Sendable, Hashable {
    /// Monotonic time in µs.
    var monotonicMicros: UInt64
    /// Wall-clock time in ms since the Unix epoch.
    var epochMillis: UInt64

    /// The clocks now.
    static var now: WorkerInstant {
        WorkerInstant(monotonicMicros: Clocks.monotonicMicros(), epochMillis: Clocks.epochMillis())
    }
}

/// Something that happened to the worker: the input of ``WorkerCore/handle(_:now:)``.
enum WorkerEvent: Sendable {
    /// The DEALER connected to the broker (a first connection or a reconnect): register.
    case connected
    /// A message from the broker: frames as bytes, then `held`, payload frames kept inside libzmq
    /// uncopied (a SCORE's tensor, read in place).
    /// `frameCount` is how many frames the whole message had (nil: `frames` and `held` are all of them): the shell
    /// keeps at most 16 and holds a SCORE's tensor uncopied, so only this count says whether it had too many.
    case message([[UInt8]], held: [ZMQFrame] = [], frameCount: Int? = nil)
    /// Time passed: a due micro-batch is scored, heartbeats, the drain and liveness are checked.
    case tick
    /// The worker was asked to stop: drain, then leave the broker.
    case stopRequested
    /// A new replica is served from now on (WEIGHTS loaded, or a swap from another thread).
    case replicaSwapped(ModelReplica)
    /// The RECOMMEND thread answered one of this registration's RECOMMENDs (``WorkerAction/recommend(_:registration:)``).
    case recommendAnswered
}

/// How the shell sends frames to the broker.
enum SendMode: Sendable, Equatable {
    /// Blocking send; a failure ends the session with the socket's error (READY, scoring replies, round results).
    case required
    /// Blocking send; a failure is ignored (error replies to single requests, a re-registration).
    case bestEffort
    /// Non-blocking send that may be dropped at the high-water mark; a failure other than a full queue
    /// ends the session (heartbeats).
    case ifRoom
    /// Non-blocking send; any failure is ignored (the drain notice and DISCONNECT on the way out).
    case ifRoomBestEffort
}

/// Why a connection to the broker ended.
enum WorkerExit: Sendable, Equatable {
    /// The worker left the broker (drained or not registered): the session is over.
    case stopped
    /// The broker was silent for `liveness` heartbeat intervals: reconnect after `afterMs` ms.
    case reconnect(afterMs: UInt64)
    /// The peer answered this worker's READY or HEARTBEAT with an error reply (`answer`, its status and message), as
    /// a broker's client endpoint (the frontend) does: `--broker` names no worker endpoint, and retrying cannot help.
    case notABackend(answer: String)
}

/// Something the shell must do: the output of ``WorkerCore/handle(_:now:)``, in the order to perform it.
enum WorkerAction: Sendable {
    /// Send frames to the broker.
    case send([[UInt8]], SendMode)
    /// Queue work off the session thread (WEIGHTS to load on the build thread, a training round on the compute thread).
    case background(BackgroundWork.Task)
    /// Queue work for the online-learning thread (POLICY, LEARN, POLICY_PULL).
    case online(OnlineLearning.Task)
    /// Answer a RECOMMEND request with the served policy (or the replica's recommender), off the session thread
    /// (``WorkerEvent/recommendAnswered`` reports its reply sent), and send the
    /// reply best-effort; the core hands it over because the policy snapshot belongs to another thread.
    case recommend(WireMessage, registration: UInt64)
    /// One forward pass computed `rows` rows in `computeMicros` µs, and `scoredRows` of them were answered with scores
    /// (metrics: `recpool_worker_rows_total` counts those).
    case batchScored(rows: Int, scoredRows: Int, computeMicros: UInt32?)
    /// A request was answered with an error (the error-reply counter).
    case countErrorReply
    /// Write a log line.
    case log(Logger.Level, String, Logger.Metadata)
    /// The broker ordered a drain: stop the whole worker (background threads included) once drained.
    case stopWorker
    /// A heartbeat went out: with `--exit-with-parent`, check that the parent process is alive.
    case checkParent
    /// The connection is over.
    case exit(WorkerExit)
}
