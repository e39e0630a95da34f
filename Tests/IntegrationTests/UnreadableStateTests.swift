import Foundation
import RecStore
import RecTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Durable state the broker cannot read at start stops it (exit 65, naming what), so it never serves a seeded
/// model while a version is promoted, nor runs without its registries.
@Suite("Unreadable durable state at start", .serialized)
struct UnreadableStateTests {
    /// A hand edit of the state, and what the broker's refusal must name.
    static let damages: [(sql: String, named: String)] = [
        ("ALTER TABLE jobs RENAME TO jobs_lost", "no such table: jobs"),
        ("ALTER TABLE promotions RENAME TO promotions_lost", "no such table: promotions"),
        (
            """
            INSERT INTO jobs (id, model, state, spec, round, total_rounds, step, epoch, created_at, updated_at)
            VALUES ('job-1', 'mlp', 'running', '{}', 'abc', 1, 0, 0, 1, 1)
            """,
            #"table jobs, row id = "job-1", column round"#
        ),
        (
            "UPDATE models SET created_at = 'yesterday' WHERE version = 2",
            "table models, row version = 2, column created_at"
        ),
        // An older promotion, which only rollback replays: accepted at start, then every rollback failed INTERNAL.
        (
            "UPDATE promotions SET rollback = 5 WHERE seq = (SELECT min(seq) FROM promotions)",
            "column rollback: 5 is not 0 or 1"
        ),
        (
            "UPDATE promotions SET version = 99 WHERE seq = (SELECT min(seq) FROM promotions)",
            "names model version 99, which the models table does not hold"
        ),
        // The newest: the broker logged it and served version 1 while `status` said 99.
        (
            "UPDATE promotions SET version = 99 WHERE seq = (SELECT max(seq) FROM promotions)",
            "names model version 99, which the models table does not hold"
        ),
        // A job's model version lost: `recpool jobs` named it, `promote` answered NOT_FOUND, and the start said nothing.
        (
            """
            INSERT INTO jobs (id, model, state, spec, round, total_rounds, step, epoch, model_version, created_at, updated_at)
            VALUES ('job-9', 'mlp', 'completed', '{"model": "mlp", "dataset": "synthetic:", "epochs": 1, "batch": 32, "lr": 0.001, "workers": 1, "sync_every": 5, "seed": 0, "validation": 0.1, "promote": false, "round_timeout_ms": 30000}', 1, 1, 0, 0, 7, 1, 1)
            """,
            "names model version 7, which the models table does not hold"
        ),
        // Promotion rows lost (a helper's case): the broker served the seeded model (all deleted) or version 1 (the
        // newest deleted) with no word.
        ("DELETE FROM promotions", "2 promotions and rollbacks were made (sqlite_sequence) but 0 rows are left"),
        (
            "DELETE FROM promotions WHERE seq = (SELECT max(seq) FROM promotions)",
            "2 promotions and rollbacks were made (sqlite_sequence) but 1 rows are left"
        ),
        // A job naming a version another job trained: `recpool job` reported that job's model as its own.
        (
            """
            UPDATE models SET job = 'job-3' WHERE version = 1;
            INSERT INTO jobs (id, model, state, spec, round, total_rounds, step, epoch, model_version, created_at, updated_at)
            VALUES ('job-9', 'mlp', 'completed', '{"model": "mlp", "dataset": "synthetic:", "epochs": 1, "batch": 32, "lr": 0.001, "workers": 1, "sync_every": 5, "seed": 0, "validation": 0.1, "promote": false, "round_timeout_ms": 30000}', 1, 1, 0, 0, 1, 1, 1)
            """,
            "names model version 1, which the models table says job job-3 trained"
        ),
        ("ALTER TABLE catalogue_versions RENAME TO catalogues_lost", "the catalogue registry cannot be read"),
        (
            """
            INSERT INTO catalogue_versions (version, change, sha256, schema, items, active, width, created_ms)
            VALUES (-1, 'upload', 'x', '', 1, 1, 1, 1)
            """,
            "table catalogue_versions, row version = -1, column version: -1 is not a version"
        ),
    ]

    @Test("a promoted pool whose tables or values cannot be read exits 65 naming them, announcing no endpoints")
    func refusesToServe() throws {
        let f = try StateIntegrityTests.Fixture()
        do {
            let cluster = ProcessCluster()
            defer { cluster.stop() }
            try cluster.startBroker(extra: ["--state-dir", f.state])
            let broker = cluster.endpoints.frontend
            for name in ["m1", "m2"] {
                #expect(
                    try runTool("recpool", ["import", "--broker", broker, "--model", f.path("\(name).ckpt").path]).code
                        == 0)
            }
            for version in ["1", "2"] {
                #expect(try runTool("recpool", ["promote", "--broker", broker, version]).code == 0)
            }
            #expect(cluster.kill("broker", signal: SIGTERM) == 0)
        }
        for damage in Self.damages {
            let state = f.path("damaged").path
            try? FileManager.default.removeItem(atPath: state)
            try FileManager.default.copyItem(atPath: f.state, toPath: state)
            try Self.execute(damage.sql, on: "\(state)/recpool.sqlite")
            let started = try runTool(
                "recpool-broker",
                [
                    "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--state-dir", state,
                    "--log-level", "error",
                ])
            #expect(started.code == 65, "\(damage.sql): \(started.stderr)")
            #expect(
                started.stderr.contains(damage.named) && started.stderr.contains("refusing to serve"),
                "\(started.stderr)")
            #expect(started.stdout.isEmpty, "the broker announced endpoints over state it cannot read")
        }
        // With --metrics, a refused start never opens the metrics port: it listened, then logged Hummingbird's
        // "Waiting on child channel: CancellationError()" and "Server shutdown error: Already closed" over the cause.
        let refused = try runTool(
            "recpool-broker",
            [
                "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--state-dir", f.path("damaged").path,
                "--metrics", "127.0.0.1:\(freeLoopbackPort())", "--log-level", "info",
            ])
        #expect(refused.code == 65, "\(refused.stderr)")
        #expect(!refused.stderr.contains("listening") && !refused.stderr.contains("Server shutdown error"), "\(refused.stderr)")
        #expect(refused.stderr.contains("refusing to serve"), "\(refused.stderr)")
    }

    /// Runs SQL statements on an SQLite file with Python's `sqlite3` module (real SQLite; the tests install no
    /// `sqlite3` shell).
    static func execute(_ sql: String, on database: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
            database, sql,
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(sql)")
    }
    /// A database its user may only read: SQLite opened it read-only without a word, the broker started, and every
    /// RECOMMEND then failed "attempt to write a readonly database". Runs as an unprivileged user (root may write any
    /// file), through util-linux's `setpriv`.
    @Test(
        "a recpool.sqlite the broker's user may only read stops the start with exit 73, naming the file",
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func readOnlyDatabase() throws {
        let folder = try TemporaryDirectory("read-only-db")
        defer { folder.remove() }
        let state = folder.path + "/state"
        let endpoints = ["--frontend", "ipc://\(folder.path)/f.ipc", "--backend", "ipc://\(folder.path)/b.ipc"]
        try StatePermissionTests.stateOwnedByNobody(state, in: folder.path)
        #expect(chmod(state + "/recpool.sqlite", 0o444) == 0)
        let run = try StatePermissionTests.brokerAsNobody(state: state, endpoints: endpoints)
        #expect(run.code == 73, "\(run.stderr)")
        #expect(run.stderr.contains("recpool.sqlite: this user may only read it"), "\(run.stderr)")
    }
}

/// A state directory its user may not write, and a database file it may not read, were refused with exit 73 and
/// SQLite's own words alone ("attempt to write a readonly database - while executing `PRAGMA journal_mode = WAL`",
/// "unable to open database file"), naming neither the path nor the permission.
@Suite("Permissions of the state directory, named")
struct StatePermissionTests {
    /// The state as a broker leaves it (the store opened and closed once), owned by `nobody` (65534) with `folder`.
    static func stateOwnedByNobody(_ state: String, in folder: String) throws {
        do { _ = try RecStore(directory: state) }
        for path in [folder, state, state + "/blobs"] + (try FileManager.default.contentsOfDirectory(atPath: state))
            .map({ state + "/" + $0 })
        {
            #expect(chown(path, 65534, 65534) == 0, "\(path)")
        }
    }

    /// A broker on `state` run as `nobody` (root may write any file), through util-linux's `setpriv`.
    static func brokerAsNobody(state: String, endpoints: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
        try runTool(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", ProcessCluster.executable("recpool-broker").path,
             "--state-dir", state] + endpoints)
    }

    @Test(
        "a state directory the broker's user may not write, or a database it may not read, is exit 73 naming it",
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")),
        arguments: ["directory", "database"])
    func named(_ what: String) throws {
        let folder = try TemporaryDirectory("state-permissions")
        defer { folder.remove() }
        let state = folder.path + "/state"
        let endpoints = ["--frontend", "ipc://\(folder.path)/f.ipc", "--backend", "ipc://\(folder.path)/b.ipc"]
        try Self.stateOwnedByNobody(state, in: folder.path)
        let says: String
        if what == "directory" {
            #expect(chmod(state, 0o555) == 0)
            says = "state: this user (uid 65534) may not create files in the state directory"
        } else {
            #expect(chmod(state + "/recpool.sqlite", 0o000) == 0)
            says = "recpool.sqlite: this user (uid 65534) may not read and write the database"
        }
        defer { _ = chmod(state, 0o755) }
        let run = try Self.brokerAsNobody(state: state, endpoints: endpoints)
        #expect(run.code == 73, "\(run.stderr)")
        #expect(run.stderr.contains(says), "\(run.stderr)")
    }
}
