import Foundation
import GRDB

extension RecStore {
    /// Releases the stored averaged states of a job's rounds that are not in `keep`: the rounds keep their rows (loss,
    /// metrics, timing, which `recpool job` shows) with `state_sha` cleared, and each state's blob is deleted once no
    /// row of any table names it any more. A round state is the model's weights and both Adam moments, 3 × its
    /// parameters in float32, and a long job left hundreds of them in `blobs/` for ever (241 MB for seven small jobs).
    ///
    /// Resuming needs only the last round's state, and `--restore-best` the best-validating one: the caller keeps
    /// those while the job runs and releases all of them once it has ended (the job's own `state_sha` is then cleared
    /// too).
    /// - Returns: the bytes freed.
    /// - Throws: ``StoreError`` when the rounds cannot be updated; a blob that cannot be deleted is left (it is named
    ///   by no row, so it only takes space) and not counted.
    @discardableResult
    public func releaseRoundStates(jobId: String, keeping keep: Set<Int>) throws(StoreError) -> Int {
        let released: [String] = try write { db in
            // An ended job resumes from nothing: the state it names goes with its rounds'.
            try db.execute(
                sql: "UPDATE jobs SET state_sha = NULL WHERE id = ? AND state IN ('completed', 'failed', 'cancelled')",
                arguments: [jobId])
            let rows = try Row.fetchAll(
                db, sql: "SELECT round, state_sha FROM rounds WHERE job_id = ? AND state_sha != ''", arguments: [jobId])
            var shas: Set<String> = []
            for row in rows {
                let round: Int = row["round"]
                guard !keep.contains(round) else { continue }
                shas.insert(row["state_sha"])
                try db.execute(
                    sql: "UPDATE rounds SET state_sha = '' WHERE job_id = ? AND round = ?", arguments: [jobId, round])
            }
            return try shas.filter { try !Self.isNamed($0, db) }.sorted()
        }
        return blobs.remove(released)
    }

    /// Whether a round or a job still names `sha` as its state. Only those two columns hold round states (a state
    /// is a parameter pack of weights and both Adam moments, never the bytes of a checkpoint, a dataset, a catalogue or
    /// a policy pack), so the check is two exact lookups, not a scan of every table on each stored round.
    static func isNamed(_ sha: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM rounds WHERE state_sha = ?1)
                    OR EXISTS (SELECT 1 FROM jobs WHERE state_sha = ?1)
                """, arguments: [sha]) ?? false
    }

    /// Deletes the checkpoint blob `sha` when no model version names it: a job's final checkpoint is put in `blobs/`
    /// before its registration's transaction, and a registration that failed (a full disk) left it there for good,
    /// named by nothing (docs/OPERATIONS.md, "Disk": an ended job keeps nothing). A blob a version names is kept.
    /// - Returns: whether it was deleted.
    @discardableResult
    public func releaseUnregisteredCheckpoint(_ sha: String) -> Bool {
        guard BlobStore.isName(sha), (try? model(checkpointSHA: sha)) == .some(nil) else { return false }
        return (try? FileManager.default.removeItem(atPath: blobs.path(sha))) != nil
    }
}
