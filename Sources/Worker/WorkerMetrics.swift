import Metrics

/// The worker's Prometheus metrics (names in docs/OPERATIONS.md). swift-metrics objects are thread
/// safe, so the session and compute threads record into them directly.
struct WorkerMetrics: Sendable {
    let batches = Counter(label: "recpool_worker_batches_total")
    let rows = Counter(label: "recpool_worker_rows_total")
    let batchRows = Recorder(label: "recpool_worker_batch_rows", aggregate: true)
    let compute = Metrics.Timer(label: "recpool_worker_compute_seconds")
    let errors = Counter(label: "recpool_worker_error_replies_total")
    let trainingSteps = Counter(label: "recpool_worker_training_steps_total")
    let trainingRounds = Counter(label: "recpool_worker_training_rounds_total")
    let weightSync = Metrics.Timer(label: "recpool_worker_weight_sync_seconds")
    let modelVersion = Gauge(label: "recpool_worker_model_version")
}
