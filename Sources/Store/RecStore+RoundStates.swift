import Foundation
import GRDB

extension RecStore {
    /// Tables no blob name is ever written to (the online log): left out of the reference check, which would
    /// otherwise scan every logged impression once per released state.
    static let tablesWithoutBlobs: Set<String> = ["impressions", "feedback", "counters", "sqlite_sequence", "grdb_migrations"]

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
        var freed = 0
        for sha in released where BlobStore.isName(sha) {
            let path = blobs.path(sha)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if (try? FileManager.default.removeItem(atPath: path)) != nil { freed += size }
        }
        return freed
    }

    /// Whether any text column of any table (but the online log's) holds `sha`, whole or inside a document.
    static func isNamed(_ sha: String, _ db: Database) throws -> Bool {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        for table in tables where !tablesWithoutBlobs.contains(table) {
            let columns = try Row.fetchAll(db, sql: "SELECT name, type FROM pragma_table_info(?)", arguments: [table])
            for column in columns where (column["type"] as String).uppercased().contains("TEXT") {
                let name: String = column["name"]
                let quoted = "\"\(name.replacingOccurrences(of: "\"", with: "\"\""))\""
                let table = "\"\(table.replacingOccurrences(of: "\"", with: "\"\""))\""
                if try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM \(table) WHERE instr(\(quoted), ?) > 0)", arguments: [sha])
                    ?? false
                {
                    return true
                }
            }
        }
        return false
    }
}
