import GRDB

extension RecStore {
    /// Stores a new job.
    public func insertJob(_ job: JobRecord) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO jobs (id, model, state, spec, round, total_rounds, step, epoch, loss, metrics,
                        model_version, error, state_sha, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: Self.arguments(job))
        }
    }

    /// Replaces a job's row.
    public func updateJob(_ job: JobRecord) throws(StoreError) {
        var job = job
        job.updatedAt = Self.now()
        let changed: Int = try write { db in
            try db.execute(
                sql: """
                    UPDATE jobs SET model = ?2, state = ?3, spec = ?4, round = ?5, total_rounds = ?6, step = ?7,
                        epoch = ?8, loss = ?9, metrics = ?10, model_version = ?11, error = ?12, state_sha = ?13,
                        created_at = ?14, updated_at = ?15
                    WHERE id = ?1
                    """,
                arguments: Self.arguments(job))
            return db.changesCount
        }
        if changed == 0 { throw .unknownJob(job.id) }
    }

    /// Records a completed round and the job's new progress in one transaction.
    public func completeRound(_ round: RoundRecord, job: JobRecord) throws(StoreError) {
        var job = job
        job.updatedAt = Self.now()
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO rounds (job_id, round, loss, samples, replicas, metrics, state_sha, seconds)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    round.jobId, round.round, round.loss, round.samples, round.replicas, round.metrics,
                    round.stateSHA, round.seconds,
                ])
            try db.execute(
                sql: """
                    UPDATE jobs SET model = ?2, state = ?3, spec = ?4, round = ?5, total_rounds = ?6, step = ?7,
                        epoch = ?8, loss = ?9, metrics = ?10, model_version = ?11, error = ?12, state_sha = ?13,
                        created_at = ?14, updated_at = ?15
                    WHERE id = ?1
                    """,
                arguments: Self.arguments(job))
        }
    }

    /// Sets the validation metrics of a stored round: those of the averaged state after it, which the next round
    /// (or the finalize step) measures. A round that is not stored is left alone.
    public func setRoundMetrics(jobId: String, round: Int, metrics: String) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE rounds SET metrics = ? WHERE job_id = ? AND round = ?", arguments: [metrics, jobId, round])
        }
    }

    /// One job, or `nil`.
    public func job(_ id: String) throws(StoreError) -> JobRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Self.job) }
    }

    /// All jobs, oldest first.
    public func jobs() throws(StoreError) -> [JobRecord] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY created_at, id").map(Self.job) }
    }

    /// The rounds of a job, in order.
    public func rounds(of jobId: String) throws(StoreError) -> [RoundRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rounds WHERE job_id = ? ORDER BY round", arguments: [jobId]).map {
                row in
                RoundRecord(
                    jobId: row["job_id"], round: row["round"], loss: row["loss"], samples: row["samples"],
                    replicas: row["replicas"], metrics: row["metrics"], stateSHA: row["state_sha"],
                    seconds: row["seconds"])
            }
        }
    }

    private static func arguments(_ job: JobRecord) -> StatementArguments {
        [
            job.id, job.model, job.state.rawValue, job.spec, job.round, job.totalRounds, job.step, job.epoch,
            job.loss, job.metrics, job.modelVersion.map { Int64(bitPattern: $0) }, job.error, job.stateSHA,
            job.createdAt, job.updatedAt,
        ]
    }

    private static func job(_ row: Row) -> JobRecord {
        var job = JobRecord(
            id: row["id"], model: row["model"], spec: row["spec"], totalRounds: row["total_rounds"],
            createdAt: row["created_at"])
        job.state = JobState(rawValue: row["state"]) ?? .failed
        job.round = row["round"]
        job.step = row["step"]
        job.epoch = row["epoch"]
        job.loss = row["loss"]
        job.metrics = row["metrics"]
        job.modelVersion = (row["model_version"] as Int64?).map { UInt64(bitPattern: $0) }
        job.error = row["error"]
        job.stateSHA = row["state_sha"]
        job.updatedAt = row["updated_at"]
        return job
    }
}
