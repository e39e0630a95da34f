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
            return try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY version").map { row throws(StoreError) in
                try Self.model(row, promoted)
            }
        }
    }

    /// One version, or `nil`.
    public func model(_ version: UInt64) throws(StoreError) -> ModelRecord? {
        try read { db in
            let promoted = try Self.promoted(db)
            return try Row.fetchOne(db, sql: "SELECT * FROM models WHERE version = ?", arguments: [Int64(clamping: version)])
                .map { row throws(StoreError) in try Self.model(row, promoted) }
        }
    }

    /// The oldest version whose checkpoint is the blob `checkpointSHA`, or `nil`: a checkpoint's
    /// content hash names at most one version, so importing it again finds this one.
    public func model(checkpointSHA: String) throws(StoreError) -> ModelRecord? {
        try read { db in try Self.model(checkpointSHA: checkpointSHA, promoted: try Self.promoted(db), db) }
    }

    /// ``model(checkpointSHA:)`` inside a transaction (a job's completion reuses it), with the promoted version given.
    static func model(checkpointSHA: String, promoted: UInt64?, _ db: Database) throws -> ModelRecord? {
        let sql = "SELECT * FROM models WHERE checkpoint_sha = ? ORDER BY version LIMIT 1"
        return try Row.fetchOne(db, sql: sql, arguments: [checkpointSHA]).map { row throws(StoreError) in
            try Self.model(row, promoted)
        }
    }

    /// The version ``rollback()`` would promote: the newest earlier promotion of another version.
    /// - Throws: ``StoreError/nothingToRollBack`` when there is none.
    public func rollbackTarget() throws(StoreError) -> UInt64 {
        try read { db in try Self.rollbackTarget(try Self.promotions(db)) }
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

    /// Goes back to the version promoted before the current one, through the promotion history: promoting 1, 2 and 3
    /// then rolling back twice serves 2, then 1 (never 3 again, which a second rollback that only looked for the newest
    /// other version gave).
    /// - Returns: the version now promoted.
    /// - Throws: ``StoreError/nothingToRollBack`` when there is no earlier, different promotion.
    public func rollback() throws(StoreError) -> UInt64 {
        try write { db in
            let version = try Self.rollbackTarget(try Self.promotions(db))
            // Read back as a version (1 … 2⁶³ − 1), so it has its signed form.
            try db.execute(
                sql: "INSERT INTO promotions (version, at, rollback) VALUES (?, ?, 1)",
                arguments: [Int64(version), Self.now()])
            return version
        }
    }

    static func promoted(_ db: Database) throws -> UInt64? {
        try Row.fetchOne(db, sql: "SELECT seq, version FROM promotions ORDER BY seq DESC LIMIT 1").map { row throws(StoreError) in
            try StoredRow(row, table: "promotions", key: "seq").version("version")
        }
    }

    static func model(_ row: Row, _ promoted: UInt64?) throws(StoreError) -> ModelRecord {
        let row = StoredRow(row, table: "models", key: "version")
        let version = try row.version("version")
        return ModelRecord(
            version: version, job: try row.value("job"), datasetSHA: try row.value("dataset_sha"),
            hyperparameters: try row.value("hyperparameters"), metrics: try row.value("metrics"),
            checkpointSHA: try row.sha256("checkpoint_sha"), promoted: version == promoted,
            createdAt: try row.finite("created_at"))
    }

    /// Reads the whole promotion history (every row's version and flag checked) and returns the first row, oldest
    /// first, that names a model version the registry does not hold: versions are never deleted, so such a row is
    /// damage (a row edited or a `models` row lost), and `rollback` would later serve or fail on it.
    /// - Returns: the row's `seq` and version, or nil when every promotion names a registered version.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a row that does not read.
    public func promotionNamingUnregisteredVersion() throws(StoreError) -> (seq: Int64, version: UInt64)? {
        try read { db in
            _ = try Self.promotions(db)
            let registered = Set(try UInt64.fetchAll(db, sql: "SELECT version FROM models"))
            for row in try Row.fetchAll(db, sql: "SELECT seq, version FROM promotions ORDER BY seq") {
                let version = try StoredRow(row, table: "promotions", key: "seq").version("version")
                if !registered.contains(version) { return (row["seq"], version) }
            }
            return nil
        }
    }

    /// Whether rows of the promotion history were lost: promotions are never deleted and `seq` is `AUTOINCREMENT`, so
    /// SQLite's `sqlite_sequence` holds how many were ever made; fewer rows (a deleted newest row, a table emptied, a
    /// salvage that dropped pages) would make the broker serve an older version, or the seeded model, silently.
    /// - Returns: the rows held and the promotions made, or nil when none is missing (or `sqlite_sequence` says
    ///   nothing: a store that never promoted, or whose sequence row was lost too).
    public func lostPromotions() throws(StoreError) -> (held: Int, made: Int64)? {
        try read { db in
            guard let made = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'promotions'")
            else { return nil }
            let held = try Int.fetchOne(db, sql: "SELECT count(*) FROM promotions") ?? 0
            return Int64(held) < made ? (held, made) : nil
        }
    }

    /// The promotion history, oldest first: each row's version and whether it was a rollback.
    private static func promotions(_ db: Database) throws -> [(version: UInt64, rollback: Bool)] {
        // Read newest first (a damaged row is named as the newest one is, whichever query reads it), then replayed
        // oldest first.
        try Row.fetchAll(db, sql: "SELECT seq, version, rollback FROM promotions ORDER BY seq DESC").map {
            row throws(StoreError) in
            let stored = StoredRow(row, table: "promotions", key: "seq")
            let rollback: Int64 = try stored.value("rollback")
            // A flag: 0 (a promotion) or 1 (a rollback); any other number is a damaged row, not "true".
            guard rollback == 0 || rollback == 1 else { throw stored.corrupt("rollback", "\(rollback) is not 0 or 1") }
            return (try stored.version("version"), rollback == 1)
        }.reversed()
    }

    /// The version a rollback serves: the history replayed as a stack (a promotion of another version pushes it, a
    /// rollback pops the top), and the version under the top.
    private static func rollbackTarget(_ promotions: [(version: UInt64, rollback: Bool)]) throws(StoreError) -> UInt64 {
        var stack: [UInt64] = []
        for (version, rollback) in promotions {
            if rollback {
                if stack.count > 1 { stack.removeLast() }
                if stack.last != version { stack.append(version) }  // a history edited by hand: follow what was served
            } else if stack.last != version {
                stack.append(version)
            }
        }
        guard stack.count > 1 else { throw .nothingToRollBack }
        return stack[stack.count - 2]
    }
}
