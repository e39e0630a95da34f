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

    /// The statement that replaces a job's row, with ``arguments(_:)``.
    static let updateJobSQL = """
        UPDATE jobs SET model = ?2, state = ?3, spec = ?4, round = ?5, total_rounds = ?6, step = ?7,
            epoch = ?8, loss = ?9, metrics = ?10, model_version = ?11, error = ?12, state_sha = ?13,
            created_at = ?14, updated_at = ?15
        WHERE id = ?1
        """

    /// Replaces a job's row.
    public func updateJob(_ job: JobRecord) throws(StoreError) {
        var job = job
        job.updatedAt = Self.now()
        let changed: Int = try write { db in
            try db.execute(
sql: Self.updateJobSQL, arguments: Self.arguments(job))
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
sql: Self.updateJobSQL, arguments: Self.arguments(job))
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
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a value that cannot be read.
    public func job(_ id: String) throws(StoreError) -> JobRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(Self.job) }
    }

    /// All jobs, oldest first.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a value that cannot be read, and for a job
    ///   id counter below a stored job's number (the next job would be given an id already taken: a damaged counter,
    ///   which the broker's start reads here and refuses).
    public func jobs() throws(StoreError) -> [JobRecord] {
        try read { db in
            // By the number of the id, which the counter hands out in submission order: jobs submitted within one
            // millisecond share `created_at`, and their ids compared as text put job-10 before job-8.
            let jobs = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM jobs ORDER BY
                        CASE WHEN id GLOB 'job-[0-9]*' THEN CAST(substr(id, 5) AS INTEGER) END, created_at, id
                    """
            ).map(Self.job)
            let highest = jobs.compactMap { $0.id.hasPrefix("job-") ? Int($0.id.dropFirst(4)) : nil }.max() ?? 0
            // Jobs stored without the counter (written directly, as tests do) leave nothing to compare.
            guard let counter = try Int.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'job'") else {
                return jobs
            }
            guard counter >= highest else {
                throw StoreError.corruptColumn(
                    table: "counters", row: "name = \"job\"", column: "value",
                    problem: "is \(counter), below job-\(highest), which the jobs table holds: the next job would be given "
                        + "an id already taken")
            }
            return jobs
        }
    }

    /// The rounds of a job, in order.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a value that cannot be read.
    public func rounds(of jobId: String) throws(StoreError) -> [RoundRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rounds WHERE job_id = ? ORDER BY round", arguments: [jobId])
                .map { row throws(StoreError) in try Self.round(StoredRow(row, table: "rounds", key: "job_id", "round")) }
        }
    }

    /// One stored round of a job, or `nil`.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a value that cannot be read.
    public func round(of jobId: String, number: Int) throws(StoreError) -> RoundRecord? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM rounds WHERE job_id = ? AND round = ?", arguments: [jobId, number]
            ).map { row throws(StoreError) in try Self.round(StoredRow(row, table: "rounds", key: "job_id", "round")) }
        }
    }

    /// A job's columns in the order of `jobs` (`?1` is its id), for INSERT and ``updateJobSQL``.
    static func arguments(_ job: JobRecord) -> StatementArguments {
        [
            job.id, job.model, job.state.rawValue, job.spec, job.round, job.totalRounds, job.step, job.epoch,
            job.loss, job.metrics, job.modelVersion.map { Int64(bitPattern: $0) }, job.error, job.stateSHA,
            job.createdAt, job.updatedAt,
        ]
    }

    private static func round(_ row: StoredRow) throws(StoreError) -> RoundRecord {
        RoundRecord(
            jobId: try row.value("job_id"), round: try row.count("round"), loss: try row.finiteIfPresent("loss"),
            samples: try row.count("samples"), replicas: try row.count("replicas"), metrics: try row.value("metrics"),
            stateSHA: try row.sha256OrEmpty("state_sha"), seconds: try row.finite("seconds"))
    }

    private static func job(_ row: Row) throws(StoreError) -> JobRecord {
        let row = StoredRow(row, table: "jobs", key: "id")
        var job = JobRecord(
            id: try row.value("id"), model: try row.value("model"), spec: try row.value("spec"),
            totalRounds: try row.count("total_rounds"), createdAt: try row.finite("created_at"))
        job.state = try row.value("state")
        // Not checked here: a resume fails a job whose round it cannot have reached, naming it (JobCoordinator).
        job.round = try row.value("round")
        job.step = try row.count("step")
        job.epoch = try row.count("epoch")
        job.loss = try row.finiteIfPresent("loss")
        job.metrics = try row.value("metrics")
        job.modelVersion = try row.versionIfPresent("model_version")
        job.error = try row.value("error")
        let stateSHA: String? = try row.value("state_sha")
        job.stateSHA = stateSHA?.isEmpty == false ? try row.sha256IfPresent("state_sha") : stateSHA
        job.updatedAt = try row.finite("updated_at")
        return job
    }
}
