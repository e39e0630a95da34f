import Foundation
import GRDB

extension RecStore {
    /// What one pruning freed: the versions whose weights were deleted and the bytes their blobs held.
    public struct PolicyPruning: Sendable, Equatable {
        /// The versions pruned, oldest first.
        public var versions: [UInt64]
        /// The bytes of the blobs deleted (a blob another row still names is kept and not counted).
        public var bytes: Int
    }

    /// Deletes the weights of every online policy version but the newest `keep` that still hold theirs: each such
    /// row is marked pruned (``PolicyVersionRow/prunedMs``, in one transaction) and its blob deleted once no row of
    /// any table names it. The rows stay, so `online_policy` names such a version as pruned, not unknown.
    ///
    /// Each accepted sync stores a version whose statistics are width² × 8 bytes for the precision matrix alone
    /// (6.2 MB for OBD's catalogue with four user features): kept for ever, the state directory grew about 2 GB an
    /// hour under steady feedback (docs/OPERATIONS.md, "Disk").
    /// - Parameters:
    ///   - keep: how many of the newest versions keep their weights, at least 1 (the newest, which a restart
    ///     resumes, is never pruned).
    ///   - nowMs: the time recorded as the pruning's.
    /// - Returns: what was pruned.
    /// - Throws: ``StoreError`` when the rows cannot be read or marked; a blob that cannot be deleted is left (no
    ///   kept row names it, so it only takes space) and not counted.
    @discardableResult
    public func prunePolicyVersions(keepingNewest keep: Int, nowMs: UInt64) throws(StoreError) -> PolicyPruning {
        let keep = max(keep, 1)
        let (versions, released): ([UInt64], [String]) = try write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT version, weights_sha FROM policy_versions WHERE pruned_ms IS NULL
                    ORDER BY version DESC LIMIT -1 OFFSET ?
                    """, arguments: [keep])
            guard !rows.isEmpty else { return ([], []) }
            var shas: Set<String> = []
            var versions: [UInt64] = []
            for row in rows {
                let version: Int64 = row["version"]
                versions.append(UInt64(clamping: version))
                shas.insert(row["weights_sha"])
                try db.execute(
                    sql: "UPDATE policy_versions SET pruned_ms = ? WHERE version = ?",
                    arguments: [Int64(clamping: nowMs), version])
            }
            return (versions.sorted(), try shas.filter { try !Self.isBlobNamed($0, db) }.sorted())
        }
        return PolicyPruning(versions: versions, bytes: blobs.remove(released))
    }

    /// Deletes the weights blobs of pruned versions that no row names but are still on disk: a pruning whose commit
    /// was followed by a crash (or a failed delete) before its files went left them for good, since later prunings
    /// look at kept rows only. Run at start, once.
    /// - Returns: what was freed (`versions`: the pruned versions whose blob was deleted).
    /// - Throws: ``StoreError`` when the rows cannot be read.
    @discardableResult
    public func sweepPrunedBlobs() throws(StoreError) -> PolicyPruning {
        let candidates: [(UInt64, String)] = try read { db in
            try Row.fetchAll(db, sql: "SELECT version, weights_sha FROM policy_versions WHERE pruned_ms IS NOT NULL")
                .map { row in (UInt64(clamping: row["version"] as Int64), row["weights_sha"] as String) }
        }
        let onDisk = candidates.filter { BlobStore.isName($0.1) && blobs.contains($0.1) }
        guard !onDisk.isEmpty else { return PolicyPruning(versions: [], bytes: 0) }
        let released: Set<String> = try read { db in
            Set(try onDisk.map(\.1).filter { try !Self.isBlobNamed($0, db) })
        }
        let bytes = blobs.remove(released)
        let versions = onDisk.filter { released.contains($0.1) }.map(\.0).sorted()
        return PolicyPruning(versions: versions, bytes: bytes)
    }

    /// Whether a row of any table still names blob `sha`: a policy version that keeps its weights, a model version's
    /// checkpoint or dataset, an upload, a catalogue version, a job's or a round's state. A blob is content-addressed,
    /// so two versions with the same statistics (a restart that carried them on) share one.
    static func isBlobNamed(_ sha: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM policy_versions WHERE weights_sha = ?1 AND pruned_ms IS NULL)
                    OR EXISTS (SELECT 1 FROM models WHERE checkpoint_sha = ?1 OR dataset_sha = ?1)
                    OR EXISTS (SELECT 1 FROM datasets WHERE sha256 = ?1)
                    OR EXISTS (SELECT 1 FROM catalogue_versions WHERE sha256 = ?1 OR source_sha256 = ?1)
                    OR EXISTS (SELECT 1 FROM rounds WHERE state_sha = ?1)
                    OR EXISTS (SELECT 1 FROM jobs WHERE state_sha = ?1)
                """, arguments: [sha]) ?? false
    }
}
