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
    // Online learning (issue #9).
    let onlineEvents = Counter(label: "recpool_worker_online_events_total")
    let onlineEventsDropped = Counter(label: "recpool_worker_online_events_dropped_total")
    let onlineUpdates = Counter(label: "recpool_worker_online_updates_total")
    let onlineUpdate = Metrics.Timer(label: "recpool_worker_online_update_seconds")
    let policyVersion = Gauge(label: "recpool_worker_policy_version")
    let policyRecommendations = Counter(label: "recpool_worker_policy_recommendations_total")
    /// Slates whose retrieval completion by bucket bias stopped at its scan limit (``RecData/PriorGroups``).
    let retrievalTruncated = Counter(label: "recpool_worker_retrieval_truncated_total")
}
