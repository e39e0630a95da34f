import GRDB

extension RecStore {
    /// Registers a model version; its checkpoint must already be in ``blobs``.
    /// - Returns: the new version number (1, 2, …).
    public func registerModel(
        job: String, datasetSHA: String, hyperparameters: String, metrics: String, checkpointSHA: String
    ) throws(StoreError) -> UInt64 {
        guard blobs.contains(checkpointSHA) else { throw .missingBlob(checkpointSHA) }
        return try write { db in
            try db.execute(
                sql: """
                    INSERT INTO models (job, dataset_sha, hyperparameters, metrics, checkpoint_sha, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [job, datasetSHA, hyperparameters, metrics, checkpointSHA, Self.now()])
            return UInt64(db.lastInsertedRowID)
        }
    }

    /// All versions, oldest first.
    public func models() throws(StoreError) -> [ModelRecord] {
        try read { db in
            let promoted = try Self.promoted(db)
            return try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY version").map { Self.model($0, promoted) }
        }
    }

    /// One version, or `nil`.
    public func model(_ version: UInt64) throws(StoreError) -> ModelRecord? {
        try read { db in
            let promoted = try Self.promoted(db)
            return try Row.fetchOne(db, sql: "SELECT * FROM models WHERE version = ?", arguments: [Int64(clamping: version)])
                .map { Self.model($0, promoted) }
        }
    }

    /// The oldest version whose checkpoint is the blob `checkpointSHA`, or `nil`: a checkpoint's
    /// content hash names at most one version, so importing it again finds this one.
    public func model(checkpointSHA: String) throws(StoreError) -> ModelRecord? {
        try read { db in
            let promoted = try Self.promoted(db)
            let sql = "SELECT * FROM models WHERE checkpoint_sha = ? ORDER BY version LIMIT 1"
            return try Row.fetchOne(db, sql: sql, arguments: [checkpointSHA]).map { Self.model($0, promoted) }
        }
    }

    /// The version ``rollback()`` would promote: the newest earlier promotion of another version.
    /// - Throws: ``StoreError/nothingToRollBack`` when there is none.
    public func rollbackTarget() throws(StoreError) -> UInt64 {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT seq, version FROM promotions ORDER BY seq DESC")
            guard let current = rows.first else { throw StoreError.nothingToRollBack }
            let currentVersion: Int64 = current["version"]
            guard let previous = rows.dropFirst().first(where: { ($0["version"] as Int64) != currentVersion }) else {
                throw StoreError.nothingToRollBack
            }
            return UInt64(bitPattern: previous["version"] as Int64)
        }
    }

    /// The version scoring uses now, if any was promoted.
    public func promotedVersion() throws(StoreError) -> UInt64? {
        try read { db in try Self.promoted(db) }
    }

    /// Makes `version` the one scoring uses.
    public func promote(_ version: UInt64) throws(StoreError) {
        try write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM models WHERE version = ?", arguments: [Int64(clamping: version)]) != nil
            else { throw StoreError.unknownModel(version) }
            try db.execute(
                sql: "INSERT INTO promotions (version, at) VALUES (?, ?)", arguments: [Int64(clamping: version), Self.now()])
        }
    }

    /// Goes back to the version promoted before the current one.
    /// - Returns: the version now promoted.
    /// - Throws: ``StoreError/nothingToRollBack`` when there is no earlier, different promotion.
    public func rollback() throws(StoreError) -> UInt64 {
        try write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT seq, version FROM promotions ORDER BY seq DESC")
            guard let current = rows.first else { throw StoreError.nothingToRollBack }
            let currentVersion: Int64 = current["version"]
            guard let previous = rows.dropFirst().first(where: { ($0["version"] as Int64) != currentVersion }) else {
                throw StoreError.nothingToRollBack
            }
            let version: Int64 = previous["version"]
            try db.execute(sql: "INSERT INTO promotions (version, at) VALUES (?, ?)", arguments: [version, Self.now()])
            return UInt64(bitPattern: version)
        }
    }

    private static func promoted(_ db: Database) throws -> UInt64? {
        try Int64.fetchOne(db, sql: "SELECT version FROM promotions ORDER BY seq DESC LIMIT 1").map { UInt64(bitPattern: $0) }
    }

    private static func model(_ row: Row, _ promoted: UInt64?) -> ModelRecord {
        let version = UInt64(bitPattern: row["version"] as Int64)
        return ModelRecord(
            version: version, job: row["job"], datasetSHA: row["dataset_sha"], hyperparameters: row["hyperparameters"],
            metrics: row["metrics"], checkpointSHA: row["checkpoint_sha"], promoted: version == promoted,
            createdAt: row["created_at"])
    }
}
