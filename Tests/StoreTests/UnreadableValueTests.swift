import Foundation
import GRDB
import RecTestKit
import Testing

@testable import RecStore

/// Values a hand edit or a damaged file can leave in a table: every read either returns the row or throws
/// ``StoreError/corruptColumn(table:row:column:problem:)`` naming the table, the row and the column. Nothing traps
/// (GRDB's row subscripts would), and no unknown value is shown as another.
@Suite("Unreadable stored values")
struct UnreadableValueTests {
    /// One damage and the read that meets it.
    struct Damage: Sendable, CustomTestStringConvertible {
        let sql: String
        let table: String
        let row: String
        let column: String
        let read: @Sendable (RecStore) throws -> Void
        var testDescription: String { sql }
    }

    /// A flipped bit made the job counter 0 with job-1 stored: the broker started, and the next `recpool train`
    /// failed with a raw UNIQUE constraint error (the id was given again).
    @Test("a job id counter below a stored job's number is an unreadable value, never an id given twice")
    func jobCounterBelowStoredJobs() throws {
        let temporary = try TemporaryDirectory("job-counter")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let first = try store.nextSequence("job")
        #expect(first == 1)
        try store.insertJob(JobRecord(id: "job-\(first)", model: "mlp", spec: "{}", totalRounds: 1, createdAt: 1))
        #expect(try store.jobs().map(\.id) == ["job-1"])
        let pool = try DatabasePool(path: temporary.path + "/recpool.sqlite")
        try pool.write { try $0.execute(sql: "UPDATE counters SET value = 0 WHERE name = 'job'") }
        #expect {
            try store.jobs()
        } throws: { error in
            (error as? StoreError).map {
                "\($0)".contains("table counters") && "\($0)".contains("below job-1")
            } ?? false
        }
        // With the counter's row gone, the next id continues past the stored jobs: never job-1 again.
        try pool.write { try $0.execute(sql: "DELETE FROM counters WHERE name = 'job'") }
        #expect(try store.nextSequence("job") == 2)
    }

    static let damages: [Damage] = [
        Damage(sql: "UPDATE jobs SET round = 'abc'", table: "jobs", row: #"id = "job-1""#, column: "round") {
            _ = try $0.jobs()
        },
        // Counts below 0 and infinite reals (SQLite keeps 1e999 as one) were read as stored: "round 1/-5", a loss shown
        // as absent.
        Damage(sql: "UPDATE jobs SET total_rounds = -5", table: "jobs", row: #"id = "job-1""#, column: "total_rounds") {
            _ = try $0.job("job-1")
        },
        Damage(sql: "UPDATE jobs SET loss = 1e999", table: "jobs", row: #"id = "job-1""#, column: "loss") {
            _ = try $0.jobs()
        },
        Damage(sql: "UPDATE jobs SET step = -1", table: "jobs", row: #"id = "job-1""#, column: "step") {
            _ = try $0.job("job-1")
        },
        Damage(
            sql: "UPDATE rounds SET loss = -1e999", table: "rounds", row: #"job_id = "job-1", round = 1"#, column: "loss"
        ) { _ = try $0.rounds(of: "job-1") },
        Damage(
            sql: "UPDATE rounds SET samples = -8", table: "rounds", row: #"job_id = "job-1", round = 1"#,
            column: "samples"
        ) { _ = try $0.rounds(of: "job-1") },
        Damage(
            sql: "UPDATE rounds SET seconds = 1e999", table: "rounds", row: #"job_id = "job-1", round = 1"#,
            column: "seconds"
        ) { _ = try $0.rounds(of: "job-1") },
        Damage(sql: "UPDATE jobs SET state = 'paused'", table: "jobs", row: #"id = "job-1""#, column: "state") {
            _ = try $0.job("job-1")
        },
        Damage(
            sql: "UPDATE jobs SET model_version = 'v2'", table: "jobs", row: #"id = "job-1""#, column: "model_version"
        ) {
            _ = try $0.job("job-1")
        },
        Damage(
            sql: "UPDATE rounds SET loss = 'low'", table: "rounds", row: #"job_id = "job-1", round = 1"#, column: "loss"
        ) { _ = try $0.rounds(of: "job-1") },
        Damage(
            sql: "UPDATE rounds SET state_sha = x'ff'", table: "rounds", row: #"job_id = "job-1", round = 1"#,
            column: "state_sha"
        ) { _ = try $0.round(of: "job-1", number: 1) },
        Damage(
            sql: "UPDATE models SET created_at = 'yesterday'", table: "models", row: "version = 1", column: "created_at"
        ) {
            _ = try $0.models()
        },
        Damage(
            sql: "UPDATE models SET checkpoint_sha = x'ff'", table: "models", row: "version = 1",
            column: "checkpoint_sha"
        ) {
            _ = try $0.model(1)
        },
        // A path in a blob-naming column was served as a hash: "blob ../recpool.lock is missing", with a repair (import
        // the checkpoint again) that could not work.
        Damage(
            sql: "UPDATE models SET checkpoint_sha = '../recpool.lock'", table: "models", row: "version = 1",
            column: "checkpoint_sha"
        ) {
            _ = try $0.model(1)
        },
        Damage(
            sql: "UPDATE models SET checkpoint_sha = upper(checkpoint_sha)", table: "models", row: "version = 1",
            column: "checkpoint_sha"
        ) {
            _ = try $0.models()
        },
        Damage(
            sql: "UPDATE rounds SET state_sha = 'abc'", table: "rounds", row: #"job_id = "job-1", round = 1"#,
            column: "state_sha"
        ) { _ = try $0.rounds(of: "job-1") },
        Damage(sql: "UPDATE jobs SET state_sha = '/etc/passwd'", table: "jobs", row: #"id = "job-1""#, column: "state_sha") {
            _ = try $0.job("job-1")
        },
        Damage(
            sql: "UPDATE policy_versions SET weights_sha = 'sha-1'", table: "policy_versions", row: "version = 1",
            column: "weights_sha"
        ) { _ = try $0.policyVersion(1) },
        Damage(
            sql: "UPDATE catalogue_versions SET sha256 = '../x'", table: "catalogue_versions", row: "version = 1",
            column: "sha256"
        ) { _ = try $0.catalogues() },
        Damage(sql: "UPDATE promotions SET version = 'one'", table: "promotions", row: "seq = 2", column: "version") {
            _ = try $0.promotedVersion()
        },
        Damage(sql: "UPDATE promotions SET version = 'one'", table: "promotions", row: "seq = 2", column: "version") {
            _ = try $0.rollbackTarget()
        },
        Damage(
            sql: "UPDATE catalogue_versions SET change = 'merge'", table: "catalogue_versions", row: "version = 1",
            column: "change"
        ) { _ = try $0.catalogues() },
        Damage(
            sql: "UPDATE catalogue_versions SET items = 'many'", table: "catalogue_versions", row: "version = 1",
            column: "items"
        ) { _ = try $0.catalogue(nil) },
        Damage(
            sql: "UPDATE policy_versions SET catalogue_version = 'new'", table: "policy_versions", row: "version = 1",
            column: "catalogue_version"
        ) { _ = try $0.latestPolicyVersion() },
        Damage(sql: "UPDATE models SET version = 0 WHERE version = 1", table: "models", row: "version = 0", column: "version") {
            _ = try $0.models()
        },
        Damage(sql: "UPDATE promotions SET version = -2", table: "promotions", row: "seq = 2", column: "version") {
            _ = try $0.promotedVersion()
        },
        Damage(sql: "UPDATE promotions SET version = -2", table: "promotions", row: "seq = 2", column: "version") {
            _ = try $0.rollbackTarget()
        },
        // A flag of 2 was read as "a rollback".
        Damage(sql: "UPDATE promotions SET rollback = 2", table: "promotions", row: "seq = 2", column: "rollback") {
            _ = try $0.rollbackTarget()
        },
        Damage(sql: "UPDATE jobs SET model_version = -1", table: "jobs", row: #"id = "job-1""#, column: "model_version") {
            _ = try $0.jobs()
        },
        Damage(sql: "UPDATE policy_versions SET version = -1", table: "policy_versions", row: "version = -1", column: "version") {
            _ = try $0.latestPolicyVersion()
        },
        Damage(
            sql: "UPDATE policy_versions SET catalogue_version = 0", table: "policy_versions", row: "version = 1",
            column: "catalogue_version"
        ) { _ = try $0.policyVersion(1) },
        Damage(
            sql: "UPDATE impressions SET created_ms = 'now'", table: "impressions", row: "seq = 1", column: "created_ms"
        ) { _ = try $0.impressions(after: 0, limit: 10) },
        // Negative numbers in unsigned columns were clamped to 0: an impression of version −5 read as version 0.
        Damage(sql: "UPDATE impressions SET version = -5", table: "impressions", row: "seq = 1", column: "version") {
            _ = try $0.impressions(after: 0, limit: 10)
        },
        Damage(
            sql: "UPDATE impressions SET created_ms = -1", table: "impressions", row: "seq = 1", column: "created_ms"
        ) { _ = try $0.impression("i-1") },
        Damage(
            sql: "UPDATE feedback SET click = 'yes'", table: "feedback", row: #"impression_id = "i-1", item = 3"#,
            column: "click"
        ) { _ = try $0.impression("i-1") },
        Damage(
            sql: "UPDATE feedback SET click = 7", table: "feedback", row: #"impression_id = "i-1", item = 3"#,
            column: "click"
        ) { _ = try $0.impression("i-1") },
        Damage(
            sql: "UPDATE feedback SET dwell = -3", table: "feedback", row: #"impression_id = "i-1", item = 3"#,
            column: "dwell"
        ) { _ = try $0.impressions(after: 0, limit: 10) },
        Damage(
            sql: "UPDATE settings SET value = 'yes'", table: "settings", row: #"name = "online.frozen""#, column: "value"
        ) { _ = try $0.flag("online.frozen") },
        // A helper's cases: GRDB reads a REAL as an integer by truncating it, so a promotion edited to 1.9 served model
        // version 1, and a job's model version 3.9 or a policy's catalogue version 3.7 were read as 3.
        Damage(sql: "UPDATE promotions SET version = 1.9", table: "promotions", row: "seq = 2", column: "version") {
            _ = try $0.promotedVersion()
        },
        Damage(sql: "UPDATE jobs SET model_version = 1.5", table: "jobs", row: #"id = "job-1""#, column: "model_version") {
            _ = try $0.jobs()
        },
        Damage(
            sql: "UPDATE policy_versions SET catalogue_version = 1.7", table: "policy_versions", row: "version = 1",
            column: "catalogue_version"
        ) { _ = try $0.policyVersion(1) },
        Damage(sql: "UPDATE jobs SET round = 1.5", table: "jobs", row: #"id = "job-1""#, column: "round") {
            _ = try $0.job("job-1")
        },
        Damage(
            sql: "UPDATE feedback SET click = 0.5", table: "feedback", row: #"impression_id = "i-1", item = 3"#,
            column: "click"
        ) { _ = try $0.impression("i-1") },
        // A helper's case: the served version renumbered 0 (or −5) beside an older one left the older the newest,
        // resumed with no word; the next sync stored other weights under the served number.
        Damage(
            sql: """
                CREATE TEMP TABLE copy AS SELECT * FROM policy_versions; UPDATE copy SET version = 2;
                INSERT INTO policy_versions SELECT * FROM copy; UPDATE policy_versions SET version = 0 WHERE version = 2
                """, table: "policy_versions", row: "version = 0", column: "version"
        ) { try $0.checkPolicyVersionRows() },
        // A helper's case: an older version's damaged row was read by no start, and surfaced as INTERNAL later.
        Damage(
            sql: """
                CREATE TEMP TABLE copy AS SELECT * FROM policy_versions; UPDATE copy SET version = 2;
                INSERT INTO policy_versions SELECT * FROM copy; UPDATE policy_versions SET catalogue_version = 0 WHERE version = 1
                """, table: "policy_versions", row: "version = 1", column: "catalogue_version"
        ) { try $0.checkPolicyVersionRows() },
    ]

    @Test(
        "a value of the wrong type or an unknown name is a corruptColumn error naming table, row and column",
        arguments: damages)
    func namedNeverTrapped(_ damage: Damage) throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try Self.filledStore(temporary.path)
        try damage.read(store)  // undamaged, it reads
        try Self.damage(temporary.path, damage.sql)
        #expect {
            try damage.read(store)
        } throws: { error in
            guard case .corruptColumn(let table, let row, let column, let problem) = error as? StoreError else {
                return false
            }
            return table == damage.table && row == damage.row && column == damage.column && !problem.isEmpty
        }
    }

    @Test("a yes-or-no setting reads as written, nil when never set")
    func flagReadsAsWritten() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        #expect(try store.flag("online.frozen") == nil)
        try store.setSetting("online.frozen", "true")
        #expect(try store.flag("online.frozen") == true)
        try store.setSetting("online.frozen", "false")
        #expect(try store.flag("online.frozen") == false)
        try store.setSetting("online.frozen", "TRUE")
        #expect(
            throws: StoreError.corruptColumn(
                table: "settings", row: #"name = "online.frozen""#, column: "value",
                problem: "'TRUE' is neither true nor false")
        ) { try store.flag("online.frozen") }
    }

    @Test("the error says what was stored and what was wanted")
    func describesTheValue() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try Self.filledStore(temporary.path)
        try Self.damage(temporary.path, "UPDATE jobs SET state = 'paused'")
        do {
            _ = try store.jobs()
            Issue.record("an unknown job state was read")
        } catch {
            #expect(
                error.description
                    == #"the database holds an unreadable value: table jobs, row id = "job-1", column state: "#
                    + "'paused' is not one of queued, running, completed, failed, cancelled")
        }
        try Self.damage(temporary.path, "UPDATE jobs SET state = 'running', round = 'abc'")
        #expect(
            throws: StoreError.corruptColumn(
                table: "jobs", row: #"id = "job-1""#, column: "round", problem: #""abc" is not a value of type Int"#)
        ) {
            _ = try store.jobs()
        }
    }

    /// A store holding one row of every table.
    static func filledStore(_ directory: String) throws -> RecStore {
        let store = try RecStore(directory: directory)
        var job = JobRecord(id: "job-1", model: "mlp", spec: "{}", totalRounds: 2, createdAt: 1)
        try store.insertJob(job)
        job.state = .running
        job.round = 1
        job.stateSHA = try store.blobs.put([1, 2, 3])
        try store.completeRound(
            RoundRecord(
                jobId: "job-1", round: 1, loss: 0.5, samples: 8, replicas: 1, metrics: nil, stateSHA: job.stateSHA!,
                seconds: 0.1),
            job: job)
        let checkpoint = try store.blobs.put([9, 9])
        let version = try store.registerModel(
            job: "job-1", datasetSHA: "d", hyperparameters: "{}", metrics: "{}", checkpointSHA: checkpoint)
        try store.promote(version)
        let second = try store.registerModel(
            job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: try store.blobs.put([8]))
        try store.promote(second)  // so that there is a version to roll back to
        let catalogue = try store.blobs.put([4, 5])
        _ = try store.registerCatalogue(
            CatalogueRecord(
                version: 0, parent: nil, change: .upload, item: nil, sha256: catalogue, sourceSHA256: nil, schema: "",
                items: 2, active: 2, width: 1, createdMs: 1))
        let weights = try store.blobs.put([6])
        try store.savePolicyVersion(
            PolicyVersionRow(version: 1, weightsSHA: weights, spec: "{}", decision: nil, catalogueVersion: 1),
            createdMs: 1)
        try store.appendImpressions([(id: "i-1", createdMs: 1, worker: "w", version: 1, record: "{}")], keep: 10)
        _ = try store.recordFeedback(impressionId: "i-1", item: 3, click: 1, dwell: 4.5, createdMs: 2)
        try store.setSetting("online.frozen", "true")
        return store
    }

    /// Runs `sql` on the store's database file from another connection, as the `sqlite3` shell would (foreign
    /// keys unchecked, its default).
    static func damage(_ directory: String, _ sql: String) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false
        try DatabaseQueue(path: "\(directory)/recpool.sqlite", configuration: configuration).write { db in
            try db.execute(sql: sql)
        }
    }
}
