import GRDB

/// What changed from a catalogue version's parent.
public enum CatalogueChange: String, Codable, Sendable, CaseIterable {
    /// A catalogue file was uploaded (the version has no parent, or replaces the whole catalogue).
    case upload
    /// One item was added.
    case add
    /// One item was retired.
    case retire
}

/// A catalogue version as stored: the catalogue itself is the blob ``sha256`` (its canonical encoding).
public struct CatalogueRecord: Codable, Sendable, Equatable {
    /// The version, from 1.
    public var version: UInt64
    /// The version this one was made from (`nil` for an upload onto an empty registry).
    public var parent: UInt64?
    /// What changed.
    public var change: CatalogueChange
    /// The item added or retired (`nil` for an upload).
    public var item: String?
    /// SHA-256 of the canonical catalogue bytes, the blob's name.
    public var sha256: String
    /// SHA-256 of the uploaded CSV an `upload` was read from (`nil` otherwise).
    public var sourceSHA256: String?
    /// The schema's TOML text the catalogue was read with.
    public var schema: String
    /// Items held, retired ones included.
    public var items: Int
    /// Items that may be recommended.
    public var active: Int
    /// Feature columns per item.
    public var width: Int
    /// Milliseconds since the epoch when stored.
    public var createdMs: UInt64

    /// Creates a record.
    public init(
        version: UInt64, parent: UInt64?, change: CatalogueChange, item: String?, sha256: String,
        sourceSHA256: String?, schema: String, items: Int, active: Int, width: Int, createdMs: UInt64
    ) {
        self.version = version
        self.parent = parent
        self.change = change
        self.item = item
        self.sha256 = sha256
        self.sourceSHA256 = sourceSHA256
        self.schema = schema
        self.items = items
        self.active = active
        self.width = width
        self.createdMs = createdMs
    }
}

extension RecStore {
    /// Stores a catalogue version whose canonical bytes are already the blob `record.sha256`. The version number
    /// is assigned here (the newest plus one) and `record.parent` must be the newest version (`nil` on an empty
    /// registry, or any version for an `upload`), so two concurrent changes cannot both build on one parent.
    ///
    /// With `movingPolicyVersion`, the online policy version that moves to the new catalogue (a pool serving the
    /// registry) is stored as serving it in the same transaction: the change and the move are durable together or not
    /// at all. Stored apart, a full disk took the change and not the move, and the policy number served the new rows
    /// while its stored row named the old catalogue (after a restart it served the old rows under that number).
    /// - Returns: the stored record with its version.
    /// - Throws: ``StoreError/missingBlob(_:)`` when the bytes are not stored,
    ///   ``StoreError/staleCatalogueParent(parent:latest:)`` when an add or retire does not build on the newest,
    ///   ``StoreError/corruptColumn(table:row:column:problem:)`` when the newest stored version is not a version
    ///   number (below 1) or leaves none after it (2⁶³ − 1): a damaged row, never a trap.
    public func registerCatalogue(_ record: CatalogueRecord, movingPolicyVersion: UInt64? = nil) throws(StoreError)
        -> CatalogueRecord
    {
        guard blobs.contains(record.sha256) else { throw .missingBlob(record.sha256) }
        return try write { db in
            let newest = try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM catalogue_versions")
            if let newest {
                // Read as a row would be: a number below 1 is not a version (and would trap the sum below).
                guard newest >= 1 else { throw Self.corruptVersion(newest, StoredRow.notAVersion(newest)) }
                guard newest < Int64.max else {
                    throw Self.corruptVersion(newest, "\(newest) is the largest version there is; no next one can be numbered")
                }
            }
            let latest = newest.map { UInt64($0) }
            if record.change != .upload, record.parent != latest {
                throw StoreError.staleCatalogueParent(parent: record.parent ?? 0, latest: latest ?? 0)
            }
            // A parent is a stored version (read back through the check above), so it has a signed 64-bit form.
            let parent = try record.parent.map { parent throws(StoreError) in
                guard let number = Int64(exactly: parent) else {
                    throw StoreError.staleCatalogueParent(parent: parent, latest: latest ?? 0)
                }
                return number
            }
            var stored = record
            stored.version = (latest ?? 0) + 1
            try db.execute(
                sql: """
                    INSERT INTO catalogue_versions (version, parent, change, item, sha256, source_sha256, schema, items,
                        active, width, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Int64(stored.version), parent, stored.change.rawValue, stored.item,
                    stored.sha256, stored.sourceSHA256, stored.schema, stored.items, stored.active, stored.width,
                    Int64(clamping: stored.createdMs),
                ])
            if let policy = movingPolicyVersion {
                try db.execute(
                    sql: "UPDATE policy_versions SET catalogue_version = ? WHERE version = ?",
                    arguments: [Int64(stored.version), Int64(clamping: policy)])
            }
            return stored
        }
    }

    /// Every catalogue version, oldest first.
    public func catalogues() throws(StoreError) -> [CatalogueRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM catalogue_versions ORDER BY version").map(Self.catalogue)
        }
    }

    /// One catalogue version, or the newest when `version` is `nil`; `nil` when there is none.
    public func catalogue(_ version: UInt64?) throws(StoreError) -> CatalogueRecord? {
        try read { db in
            if let version {
                return try Row.fetchOne(
                    db, sql: "SELECT * FROM catalogue_versions WHERE version = ?", arguments: [Int64(clamping: version)]
                ).map(Self.catalogue)
            }
            return try Row.fetchOne(db, sql: "SELECT * FROM catalogue_versions ORDER BY version DESC LIMIT 1")
                .map(Self.catalogue)
        }
    }

    /// The error for a damaged `version` column of the row whose version is `stored`.
    static func corruptVersion(_ stored: Int64, _ problem: String) -> StoreError {
        .corruptColumn(table: "catalogue_versions", row: "version = \(stored)", column: "version", problem: problem)
    }

    private static func catalogue(_ row: Row) throws(StoreError) -> CatalogueRecord {
        let row = StoredRow(row, table: "catalogue_versions", key: "version")
        return CatalogueRecord(
            version: try row.version("version"), parent: try row.versionIfPresent("parent"),
            change: try row.value("change"), item: try row.value("item"), sha256: try row.sha256("sha256"),
            sourceSHA256: try row.sha256IfPresent("source_sha256"), schema: try row.value("schema"), items: try row.count("items"),
            active: try row.count("active"), width: try row.count("width"), createdMs: try row.unsigned("created_ms"))
    }
}
