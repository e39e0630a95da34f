import GRDB

extension RecStore {
    /// Registers a finished training job's model version and completes the job with it, in one transaction: the
    /// version (`models`), the job's record (`completed`, its version and final metrics), its last round's metrics
    /// (those of the final state), and, when `promote` is set, the version's promotion. A crash leaves all of it
    /// stored or none of it (the job then resumes from its last round and finalizes again); never a version with
    /// no completed job, or a completed job whose promotion is missing.
    /// - Parameters:
    ///   - job: the job's record as it stands (stored with `state` completed, its `modelVersion` and `metrics`).
    ///   - metrics: the final state's validation metrics (JSON object), or nil when it measured none: the job and its
    ///     last round then hold no metrics (`null`), never an empty object, and the version's column holds `{}`
    ///     (shown as none).
    ///   - checkpointSHA: the checkpoint blob, already in ``blobs``.
    ///   - lastRoundMetrics: the last round's own metrics when the checkpoint is an earlier round's (better) state;
    ///     the last round is stored with these, the job with `metrics` (the registered model's). Nil: both get
    ///     `metrics`.
    /// - Returns: the registered version: a new one, or the version already registered for the same checkpoint bytes
    ///   (one content hash names one version).
    /// - Throws: ``StoreError/missingBlob(_:)`` when the checkpoint is not stored, ``StoreError/unknownJob(_:)``,
    ///   or the database's error; nothing is stored then.
    public func completeJob(
        _ job: JobRecord, datasetSHA: String, metrics: String?, checkpointSHA: String, promote: Bool,
        lastRoundMetrics: String? = nil
    ) throws(StoreError) -> ModelRecord {
        guard blobs.contains(checkpointSHA) else { throw .missingBlob(checkpointSHA) }
        let now = Self.now()
        return try write { db in
            // A checkpoint's content hash names at most one version (as an import finds it): a job whose checkpoint is
            // byte for byte one already registered completes with that version instead of a second number for it.
            let existing = try Self.model(checkpointSHA: checkpointSHA, promoted: nil, db)
            if existing == nil {
                try db.execute(
                    sql: """
                        INSERT INTO models (job, dataset_sha, hyperparameters, metrics, checkpoint_sha, created_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [job.id, datasetSHA, job.spec, metrics ?? "{}", checkpointSHA, now])
            }
            let version = existing?.version ?? UInt64(db.lastInsertedRowID)
            if job.round > 0 {
                try db.execute(
                    sql: "UPDATE rounds SET metrics = ? WHERE job_id = ? AND round = ?",
                    arguments: [lastRoundMetrics ?? metrics, job.id, job.round])
            }
            var completed = job
            completed.state = .completed
            completed.modelVersion = version
            completed.metrics = metrics
            completed.updatedAt = now
            try db.execute(sql: Self.updateJobSQL, arguments: Self.arguments(completed))
            guard db.changesCount > 0 else { throw StoreError.unknownJob(job.id) }
            if promote {
                try db.execute(
                    sql: "INSERT INTO promotions (version, at) VALUES (?, ?)",
                    arguments: [Int64(bitPattern: version), now])
            }
            if var existing {
                let served = try Self.promoted(db)
                existing.promoted = promote || served == version
                return existing
            }
            return ModelRecord(
                version: version, job: job.id, datasetSHA: datasetSHA, hyperparameters: job.spec, metrics: metrics ?? "{}",
                checkpointSHA: checkpointSHA, promoted: promote, createdAt: now)
        }
    }
}
