import RecStore
import Testing

@testable import Broker

/// A damaged write-ahead log was refused with the advice for a damaged database: salvage it with the sqlite3 shell.
/// The shell reads the log as SQLite does, so its `.dump` was the silent rollback the refusal was about, and closing it
/// deleted the log with the only copy of the commits after the damage.
@Suite("The exit-65 advice fits the damage")
struct BrokerErrorAdviceTests {
    @Test("a damaged write-ahead log is told to copy the directory first, never to salvage with the sqlite3 shell")
    func writeAheadLog() {
        let wal = BrokerError.store(
            .corruptDatabase(path: "state/recpool.sqlite-wal", problems: ["the write-ahead log is damaged: frame 1 of 4"]))
        #expect("\(wal)".contains("copy the whole state directory aside before anything opens recpool.sqlite"))
        #expect(!"\(wal)".contains(".recover") && !"\(wal)".contains("salvage"))
        let database = BrokerError.store(
            .corruptDatabase(path: "state/recpool.sqlite", problems: ["PRAGMA quick_check: page 3 is never used"]))
        #expect("\(database)".contains("salvage it into a new file with the sqlite3 shell's .recover, or its .dump where .recover fails"))
        // A missing log (a reviewer's case): no shell can read a file that is not there.
        let missing = BrokerError.store(
            .corruptDatabase(
                path: "state/recpool.sqlite-wal",
                problems: ["the write-ahead log is damaged: … SQLite can read none of the log (recpool.sqlite-wal is missing), …"]))
        #expect("\(missing)".contains("lost unless the state directory is restored from a backup"))
        #expect(!"\(missing)".contains("sqlite3 shell"))
    }
}
