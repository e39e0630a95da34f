import Foundation
import GRDB
import RecFiles

/// RecPool's durable state in `--state-dir`: an SQLite database (through GRDB) for jobs, rounds,
/// datasets, model versions and promotions, and a ``BlobStore`` for the bytes (datasets,
/// checkpoints, round states) named by SHA-256.
///
/// Every write is a committed transaction before it returns, so the broker can acknowledge what
/// it has stored. Methods are synchronous: call them from the broker's control thread, never from
/// the reactor or the cooperative pool.
public final class RecStore: Sendable {
    /// The state directory.
    public let directory: String
    /// Content-addressed files.
    public let blobs: BlobStore
    let database: DatabaseQueue
    /// Held while this store is open (``StateDirectoryLock``).
    private let lock: StateDirectoryLock

    /// Opens (creating if needed) the store in `directory`.
    /// - Throws: ``StoreError/io(path:reason:)`` when `directory` is empty or blank or cannot be created,
    ///   ``StoreError/inUse(path:holder:)`` when another open store holds it, and other ``StoreError`` cases when the
    ///   database cannot be used.
    public init(directory: String) throws(StoreError) {
        // "" would put `recpool.sqlite` and `blobs/` at the file system's root ("" + "/recpool.sqlite").
        guard !directory.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .io(path: directory, reason: "the state directory's path is empty")
        }
        self.directory = directory
        try SymbolicLinkLoop.check(directory)
        do {
            try FolderCreation.create(directory)
        } catch {
            throw .io(path: directory, reason: error.description)
        }
        // Before anything is read or cleaned up: a second store on this directory would resume the same jobs and
        // delete the first one's partly written blobs.
        lock = try StateDirectoryLock(directory: directory)
        blobs = try BlobStore(directory: "\(directory)/blobs")
        // SQLite says only "unable to open database file" of a database path that is a folder (or another kind of
        // file): name the path and what it is.
        for file in ["recpool.sqlite", "recpool.sqlite-wal", "recpool.sqlite-shm"] {
            try SymbolicLinkLoop.check("\(directory)/\(file)")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: "\(directory)/recpool.sqlite", isDirectory: &isFolder), isFolder.boolValue {
            throw .io(path: "\(directory)/recpool.sqlite", reason: "is a directory, not the state's SQLite database file")
        }
        // Before SQLite opens the database: it would drop a damaged log's frames without a word, and its last
        // connection's checkpoint then deletes the log, and the evidence with it.
        try Self.checkWriteAheadLog(path: "\(directory)/recpool.sqlite-wal")
        try Self.checkDatabaseBesideLog(directory: directory)
        let sharedMemoryExisted = FileManager.default.fileExists(atPath: "\(directory)/recpool.sqlite-shm")
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            // Write-ahead logging: a commit is one fsync of the log (synchronous stays FULL, so a
            // committed transaction survives power loss), and reads never wait for writes.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            // SQLite opens a file whose header names a write version above 2 read-only: a damaged header (one bit of
            // byte 18), which was diagnosed as a file this user may only read (exit 73) and is damage (65).
            if let version = Self.headerWriteVersion("\(directory)/recpool.sqlite"), version > 2 {
                throw StoreError.corruptDatabase(
                    path: "\(directory)/recpool.sqlite",
                    problems: [
                        "its header's file format write version (byte 18) is \(version), which no SQLite writes (1 or "
                            + "2), so SQLite would open it read-only: the header is damaged"
                    ])
            }
            let queue = try DatabaseQueue(path: "\(directory)/recpool.sqlite", configuration: configuration)
            do {
                try Self.check(queue, path: "\(directory)/recpool.sqlite")
                try Self.checkNotLost(queue, path: "\(directory)/recpool.sqlite", blobs: blobs)
                try Self.migrate(queue, path: "\(directory)/recpool.sqlite")
                try Self.checkWritable(queue, path: "\(directory)/recpool.sqlite")
            } catch {
                // A refused start leaves the directory as it found it: closed as the last connection, the queue would
                // checkpoint the log into the database and delete it (the evidence the refusal tells the operator to
                // copy aside).
                Self.closeKeepingLog(
                    queue, path: "\(directory)/recpool.sqlite", removeSharedMemory: !sharedMemoryExisted)
                throw error
            }
            database = queue
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where Self.isCorruption(error) {
            throw .corruptDatabase(path: "\(directory)/recpool.sqlite", problems: ["\(error)"])
        } catch let error as DatabaseError
            where error.resultCode == .SQLITE_FULL
                || (error.resultCode.primaryResultCode == .SQLITE_IOERR && Self.isOutOfSpace(directory))
        {
            // SQLite says "disk I/O error" when a full file system refuses the shared-memory file it creates at open,
            // which reads like failing hardware.
            throw .noSpace(path: "\(directory)/recpool.sqlite", reason: "\(error)")
        } catch {
            if let problem = Self.sidecarProblem("\(directory)/recpool.sqlite") { throw problem }
            if let problem = Self.permissionProblem(directory: directory, error: error) { throw problem }
            throw .database("\(error)")
        }
        try blobs.removeTemporaryFiles()
    }

    /// Refuses a state directory whose database file is gone while its write-ahead log is not: SQLite would start an
    /// empty database beside the log and, on closing, delete the log with every commit it holds.
    /// - Throws: ``StoreError/corruptDatabase(path:problems:)`` naming both files.
    static func checkDatabaseBesideLog(directory: String) throws(StoreError) {
        let database = "\(directory)/recpool.sqlite"
        guard !FileManager.default.fileExists(atPath: database),
            let size = (try? FileManager.default.attributesOfItem(atPath: database + "-wal"))?[.size] as? Int, size > 0
        else { return }
        throw .corruptDatabase(
            path: database,
            problems: [
                "the database file is missing while its write-ahead log recpool.sqlite-wal holds \(size) bytes of commits: "
                    + "SQLite would start an empty registry and delete the log on closing; restore recpool.sqlite from a "
                    + "backup, or move recpool.sqlite-wal and recpool.sqlite-shm aside to start afresh (docs/OPERATIONS.md)"
            ])
    }

    /// Closes `queue` without the checkpoint SQLite runs when the last connection to a database in WAL mode closes
    /// (which copies the log into the database file and deletes it): a read-only connection, opened first, holds the
    /// database while the queue closes, and a read-only connection never checkpoints. `-shm` is removed afterwards when
    /// this start created it. Best effort: nothing here throws.
    static func closeKeepingLog(_ queue: DatabaseQueue, path: String, removeSharedMemory: Bool) {
        var configuration = Configuration()
        configuration.readonly = true
        let reader = try? DatabaseQueue(path: path, configuration: configuration)
        try? reader?.inDatabase { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
        try? queue.close()
        try? reader?.close()
        if removeSharedMemory { unlink(path + "-shm") }
    }

    /// A state directory or database file this user may not use as the broker must (SQLite says only "attempt to write
    /// a readonly database" or "unable to open database file"): the path and what to change, or nil when the
    /// permissions are not the cause. `access(2)` answers for this process's user.
    static func permissionProblem(directory: String, error: any Error) -> StoreError? {
        let database = "\(directory)/recpool.sqlite"
        let reason = (error as? DatabaseError)?.message ?? "\(error)"
        if access(directory, W_OK | X_OK) != 0 {
            return .io(
                path: directory,
                reason: "this user (uid \(getuid())) may not create files in the state directory (\(reason)): SQLite "
                    + "needs to create recpool.sqlite-wal and -shm beside the database; make the directory writable by "
                    + "the broker's user")
        }
        if FileManager.default.fileExists(atPath: database), access(database, R_OK | W_OK) != 0 {
            return .io(
                path: database,
                reason: "this user (uid \(getuid())) may not read and write the database (\(reason)): make the file, "
                    + "its -wal and -shm files and the state directory readable and writable by the broker's user")
        }
        return nil
    }

    /// Whether the file system holding `directory` has less than 64 KiB left for this user (`statvfs`): the space
    /// SQLite needs to create its shared-memory and log files at open.
    static func isOutOfSpace(_ directory: String) -> Bool {
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return false }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize) < 64 << 10
    }

    /// A database file's log or shared-memory file that is not a regular file (a folder, a socket): SQLite calls the
    /// database read-only, which a user would try to fix with permissions.
    static func sidecarProblem(_ path: String) -> StoreError? {
        for suffix in ["-wal", "-shm"] {
            let sidecar = path + suffix
            guard let type = try? FileManager.default.attributesOfItem(atPath: sidecar)[.type] as? FileAttributeType,
                type != .typeRegular
            else { continue }
            let kind = type == .typeDirectory ? "a directory" : "not a regular file (\(type.rawValue))"
            return .io(
                path: sidecar,
                reason: "is \(kind), where SQLite keeps the database's \(suffix == "-wal" ? "write-ahead log" : "shared memory"): remove it")
        }
        return nil
    }

    /// Refuses a database this process may only read (its file, its log or its folder not writable by this user):
    /// SQLite opens it read-only without a word, and every later write (each impression, each job) failed one request
    /// at a time while the broker looked healthy. A write statement in a transaction that is rolled back takes the
    /// write lock and changes nothing.
    /// - Throws: ``StoreError/io(path:reason:)`` naming the file (the broker exits 73).
    static func checkWritable(_ database: DatabaseQueue, path: String) throws {
        do {
            try database.writeWithoutTransaction { db in
                try db.inTransaction {
                    try db.execute(
                        sql: "INSERT INTO counters(name, value) VALUES ('recpool write check', 0) ON CONFLICT(name) DO NOTHING")
                    return .rollback
                }
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR && error.message?.hasPrefix("no such table") == true {
            // The migrations are recorded as applied, so the table was dropped: damage, never a directory that cannot
            // be opened (exit 73, which a service manager restarts on).
            throw StoreError.corruptDatabase(
                path: path, problems: ["\(error.message ?? "a table is missing"): a table the applied migrations created is gone"])
        } catch let error as DatabaseError
            where [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH].contains(error.resultCode)
        {
            if let problem = sidecarProblem(path) { throw problem }
            throw StoreError.io(
                path: path,
                reason: "this user may only read it (\(error.message ?? "\(error.resultCode)")): make the file, its "
                    + "-wal and -shm files and the state directory writable by the broker's user")
        }
    }

    /// Byte 18 of the database file's header (SQLite's file format write version: 1 legacy, 2 WAL), or nil when the
    /// file cannot be read that far or does not start with SQLite's magic (checked elsewhere).
    static func headerWriteVersion(_ path: String) -> UInt8? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 19), header.count == 19,
            header.prefix(16).elementsEqual(Array("SQLite format 3\u{0}".utf8))
        else { return nil }
        return header[header.startIndex + 18]
    }

    /// Brings the schema to this build's: refuses one a newer build migrated (its migrations are not all this
    /// build's; migrating on would write rows that build cannot read), and names a migration that fails on a
    /// schema that already holds what it adds (the record of applied migrations was damaged) as damage.
    /// - Throws: ``StoreError/corruptDatabase(path:problems:)`` for either.
    static func migrate(_ database: DatabaseQueue, path: String) throws {
        let known = Set(migrator.migrations)
        let applied = try database.read { db in try migrator.appliedIdentifiers(db) }
        let unknown = applied.subtracting(known).sorted()
        guard unknown.isEmpty else {
            throw StoreError.corruptDatabase(
                path: path,
                problems: [
                    "its schema was migrated by another (newer) RecPool: migration\(unknown.count == 1 ? "" : "s") "
                        + "\(unknown.joined(separator: ", ")) \(unknown.count == 1 ? "is" : "are") not one this build "
                        + "knows; run that build, or restore a backup made by this one"
                ])
        }
        do {
            try migrator.migrate(database)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR {
            // SQLite's generic error from a migration's statement (a column or table that already exists): the
            // schema does not match the migrations recorded as applied.
            throw StoreError.corruptDatabase(
                path: path,
                problems: [
                    "its schema does not match the migrations recorded as applied (grdb_migrations): \(error.message ?? "\(error)")"
                ])
        }
    }

    /// Refuses a write-ahead log whose frames SQLite would stop reading at a damaged frame while the log goes on
    /// (``WriteAheadLog/damage(in:)``), or that ends before the last committed frame its index records
    /// (``WriteAheadLog/truncation(log:index:databasePageSize:)``): opened, the database would roll back silently to
    /// before the damage. An absent log opens as before unless its index records frames not copied into the database
    /// (a clean shutdown removes both); a torn last frame (a crash mid-write) opens as before.
    /// - Throws: ``StoreError/corruptDatabase(path:problems:)`` naming the log and the frame, or ``StoreError/io(path:reason:)``
    ///   when the log exists but cannot be read.
    static func checkWriteAheadLog(path: String) throws(StoreError) {
        let indexPath = String(path.dropLast("-wal".count)) + "-shm"
        guard FileManager.default.fileExists(atPath: path) else {
            // A log deleted while its index still records committed frames not copied into the database (a clean
            // close removes the index first).
            if let index = try? AtomicFile.read(indexPath, limit: WriteAheadLog.indexPrefixSize),
                let truncation = WriteAheadLog.truncation(log: nil, index: index)
            {
                // Named by the log, the file that is gone: the index is intact (it named recpool.sqlite-shm as corrupt).
                throw .corruptDatabase(path: path, problems: [truncation.description])
            }
            return
        }
        let bytes: [UInt8]
        do {
            bytes = try AtomicFile.read(path)
        } catch {
            throw .io(path: path, reason: "\(error)")
        }
        // The database's own page size: a damaged log header may name another.
        let header = try? AtomicFile.read(String(path.dropLast("-wal".count)), limit: 100)
        let pageSize = header.flatMap(WriteAheadLog.databasePageSize(header:))
        if let damage = WriteAheadLog.damage(in: bytes, databasePageSize: pageSize) {
            throw .corruptDatabase(path: path, problems: [damage.description])
        }
        // A log cut at its end shows no damage in itself: its index, when a crash left one, says what it held.
        if let index = try? AtomicFile.read(indexPath, limit: WriteAheadLog.indexPrefixSize),
            let truncation = WriteAheadLog.truncation(log: bytes, index: index, databasePageSize: pageSize)
        {
            throw .corruptDatabase(path: path, problems: [truncation.description])
        }
    }

    /// Runs `PRAGMA quick_check` (every page and index entry is well formed; O(N), no cross-index
    /// checks) and throws when it finds anything.
    /// - Throws: ``StoreError/corruptDatabase(path:problems:)`` naming the first problems found.
    static func check(_ database: DatabaseQueue, path: String) throws {
        let problems = try database.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        guard problems == ["ok"] else {
            throw StoreError.corruptDatabase(path: path, problems: problems.map { "PRAGMA quick_check: \($0)" })
        }
    }

    /// Refuses a database with no tables beside blobs that hold files: SQLite takes an empty (truncated, deleted and
    /// re-created) file for a new database, and migrating it would forget every job, model version and promotion
    /// while their checkpoints stay in `blobs/`, so the next model would be "version 1" again under a number clients
    /// may have pinned. A new state directory has neither.
    /// - Throws: ``StoreError/corruptDatabase(path:problems:)`` naming what was lost and what to do.
    static func checkNotLost(_ database: DatabaseQueue, path: String, blobs: BlobStore) throws {
        let tables = try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0 }
        guard tables == 0 else { return }
        let held = try BlobStore.names(in: blobs.directory).filter(BlobStore.isName)
        guard !held.isEmpty else { return }
        throw StoreError.corruptDatabase(
            path: path,
            problems: [
                "it holds no tables (it is empty: truncated or re-created) while \(blobs.directory) holds \(held.count) "
                    + "stored files: the registry of jobs, model versions and promotions is lost; restore the state "
                    + "directory from a backup (docs/OPERATIONS.md), or move blobs/ aside to start an empty one"
            ])
    }

    /// Whether SQLite's error says the file is damaged or not a database.
    static func isCorruption(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }

    /// Maps a GRDB error to ``StoreError``: a full disk to ``StoreError/noSpace(path:reason:)``, a
    /// damaged file to ``StoreError/corruptDatabase(path:problems:)``, anything else to ``StoreError/database(_:)``.
    func storeError(_ error: any Error) -> StoreError { Self.storeError(error, directory: directory) }

    /// ``storeError(_:)`` for the store in `directory`.
    static func storeError(_ error: any Error, directory: String) -> StoreError {
        if let error = error as? StoreError { return error }
        let path = "\(directory)/recpool.sqlite"
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_FULL { return .noSpace(path: path, reason: "\(error)") }
            if Self.isCorruption(error) {
                // A failing disk makes SQLite's reads come back short or wrong, which it calls a malformed image:
                // an operator told so would salvage (`.recover`) a healthy file. The files are read again here, and a
                // read that fails (EIO) names the disk.
                if let failure = Self.unreadable([path, path + "-wal"]) {
                    return .io(
                        path: path,
                        reason: "\(error); but the file cannot be read at all (\(failure)): the disk failed, the "
                            + "database is not known to be damaged: check the disk, then restart the broker")
                }
                return .corruptDatabase(path: path, problems: ["\(error)"])
            }
            // A write SQLite could not make ("disk I/O error", "attempt to write a readonly database"): the file it
            // failed on and why, when one of the database's files refuses writing (immutable, read-only mount, a
            // folder in its place); the message named neither.
            if [.SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM].contains(error.resultCode),
                let failure = [path, path + "-wal", path + "-shm"].lazy.compactMap(AtomicFile.writeProblem).first
            {
                // Still a database error (the start and the control plane judge it as one), naming the file and cause.
                return .database("\(error); \(failure)")
            }
        }
        return .database("\(error)")
    }

    /// The first read failure among `paths` (an existing file whose first 4 KiB cannot be read), or nil.
    static func unreadable(_ paths: [String]) -> String? {
        for path in paths where FileManager.default.fileExists(atPath: path) {
            do {
                _ = try AtomicFile.read(path, limit: 4_096)
            } catch {
                return "\(error)"
            }
        }
        return nil
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        id TEXT PRIMARY KEY, model TEXT NOT NULL, state TEXT NOT NULL, spec TEXT NOT NULL,
                        round INTEGER NOT NULL, total_rounds INTEGER NOT NULL, step INTEGER NOT NULL,
                        epoch INTEGER NOT NULL, loss REAL, metrics TEXT, model_version INTEGER, error TEXT,
                        state_sha TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
                    CREATE TABLE rounds (
                        job_id TEXT NOT NULL REFERENCES jobs(id), round INTEGER NOT NULL, loss REAL NOT NULL,
                        samples INTEGER NOT NULL, replicas INTEGER NOT NULL, metrics TEXT, state_sha TEXT NOT NULL,
                        seconds REAL NOT NULL, PRIMARY KEY (job_id, round));
                    CREATE TABLE datasets (
                        sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, bytes INTEGER NOT NULL, created_at REAL NOT NULL);
                    CREATE TABLE models (
                        version INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, dataset_sha TEXT NOT NULL,
                        hyperparameters TEXT NOT NULL, metrics TEXT NOT NULL, checkpoint_sha TEXT NOT NULL,
                        created_at REAL NOT NULL);
                    CREATE TABLE promotions (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, version INTEGER NOT NULL REFERENCES models(version),
                        at REAL NOT NULL);
                    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    """)
        }
        migrator.registerMigration("v2-online") { db in
            try db.execute(
                sql: """
                    CREATE TABLE impressions (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,
                        worker TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL);
                    CREATE TABLE feedback (
                        impression_id TEXT NOT NULL, item INTEGER NOT NULL, click INTEGER NOT NULL, dwell REAL,
                        created_ms INTEGER NOT NULL, PRIMARY KEY (impression_id, item));
                    CREATE TABLE policy_versions (
                        version INTEGER PRIMARY KEY, weights_sha TEXT NOT NULL, spec TEXT NOT NULL,
                        decision TEXT, created_ms INTEGER NOT NULL);
                    CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """)
        }
        migrator.registerMigration("v3-catalogues") { db in
            try db.execute(
                sql: """
                    CREATE TABLE catalogue_versions (
                        version INTEGER PRIMARY KEY, parent INTEGER REFERENCES catalogue_versions(version),
                        change TEXT NOT NULL, item TEXT, sha256 TEXT NOT NULL, source_sha256 TEXT,
                        schema TEXT NOT NULL, items INTEGER NOT NULL, active INTEGER NOT NULL, width INTEGER NOT NULL,
                        created_ms INTEGER NOT NULL);
                    """)
        }
        migrator.registerMigration("v4-policy-catalogue") { db in
            // The registry's catalogue version each online policy version serves (NULL: the simulator world's).
            try db.execute(sql: "ALTER TABLE policy_versions ADD COLUMN catalogue_version INTEGER")
        }
        migrator.registerMigration("v5-round-loss-nullable") { db in
            // A round in which no replica took a gradient step has no loss (NULL), not 0. SQLite cannot drop a
            // NOT NULL constraint in place, so the table is rebuilt with its rows.
            try db.execute(
                sql: """
                    CREATE TABLE rounds_v5 (
                        job_id TEXT NOT NULL REFERENCES jobs(id), round INTEGER NOT NULL, loss REAL,
                        samples INTEGER NOT NULL, replicas INTEGER NOT NULL, metrics TEXT, state_sha TEXT NOT NULL,
                        seconds REAL NOT NULL, PRIMARY KEY (job_id, round));
                    INSERT INTO rounds_v5 SELECT job_id, round, loss, samples, replicas, metrics, state_sha, seconds
                        FROM rounds;
                    DROP TABLE rounds;
                    ALTER TABLE rounds_v5 RENAME TO rounds;
                    """)
        }
        migrator.registerMigration("v6-feedback-unlearnt") { db in
            // Feedback that no finished online sync has consumed yet (1): a restarted broker hands it to the
            // replicas again, since a restart drops what they learnt since the last sync. Rows stored before this
            // migration count as consumed.
            try db.execute(
                sql: """
                    ALTER TABLE feedback ADD COLUMN unlearnt INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX feedback_unlearnt ON feedback(unlearnt) WHERE unlearnt = 1;
                    """)
        }
        migrator.registerMigration("v7-promotion-rollbacks") { db in
            // A rollback is recorded as a promotion marked `rollback = 1`, so a second rollback goes further back
            // instead of forward to the version the first one left. Rows from before are promotions.
            try db.execute(sql: "ALTER TABLE promotions ADD COLUMN rollback INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v8-policy-pruning") { db in
            // When an online policy version's weights were deleted by retention (`--online-keep-versions`), ms since
            // the epoch; NULL while they are kept. The row stays, so the version is named as pruned, not unknown.
            // Indexed so that each stored version's pruning finds the kept rows, and a blob's names, without reading
            // every row's spec (the simulator world's is the whole catalogue).
            try db.execute(
                sql: """
                    ALTER TABLE policy_versions ADD COLUMN pruned_ms INTEGER;
                    CREATE INDEX policy_versions_kept ON policy_versions(version) WHERE pruned_ms IS NULL;
                    CREATE INDEX policy_versions_weights ON policy_versions(weights_sha);
                    """)
        }
        return migrator
    }

    /// Runs a write transaction, mapping GRDB's errors to ``StoreError``.
    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.write(body)
        } catch {
            throw storeError(error)
        }
    }

    /// Runs a read, mapping GRDB's errors to ``StoreError``.
    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.read(body)
        } catch {
            throw storeError(error)
        }
    }

    /// Increments and returns a named durable counter (job ids). The `job` counter never gives a number a stored job
    /// holds: with its row missing (deleted by hand or lost), it continues past the highest `job-N` (a counter row below
    /// them is refused as damage when the jobs are read, `jobs()`).
    public func nextSequence(_ name: String) throws(StoreError) -> Int {
        try write { db in
            let floor =
                name == "job"
                ? try Int.fetchOne(
                    db, sql: "SELECT MAX(CAST(substr(id, 5) AS INTEGER)) FROM jobs WHERE id GLOB 'job-[0-9]*'") ?? 0
                : 0
            try db.execute(
                sql: "INSERT INTO counters(name, value) VALUES (?1, ?2 + 1) "
                    + "ON CONFLICT(name) DO UPDATE SET value = MAX(value, ?2) + 1",
                arguments: [name, floor])
            return try Int.fetchOne(db, sql: "SELECT value FROM counters WHERE name = ?", arguments: [name]) ?? 1
        }
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}
