import Foundation
import GRDB
import RecTestKit
import Testing

@testable import RecStore

/// Damage that SQLite reports as something else is named as damage (the broker exits 65), never as a state directory
/// that cannot be opened (73, which a service manager restarts on).
@Suite("Damaged schema and header are corrupt databases")
struct DamagedSchemaTests {
    /// A helper's case: every table dropped but the migrations' record exited 73 "cannot open the state directory:
    /// no such table: counters".
    @Test("a table the applied migrations created, dropped, is a corrupt database naming it")
    func droppedTable() throws {
        let temporary = try TemporaryDirectory("store-dropped")
        defer { temporary.remove() }
        _ = try UnreadableValueTests.filledStore(temporary.path)
        try UnreadableValueTests.damage(temporary.path, "DROP TABLE counters")
        #expect {
            _ = try RecStore(directory: temporary.path)
        } throws: { error in
            guard case .corruptDatabase(_, let problems) = error as? StoreError else { return false }
            return problems.contains { $0.contains("no such table: counters") }
        }
    }

    /// A helper's case: one flipped bit in byte 18 of the header (write version 3) made SQLite open the file read-only,
    /// diagnosed as "this user may only read it … make the file writable".
    @Test("a header whose write version no SQLite writes is a corrupt database, not a permission problem")
    func damagedWriteVersion() throws {
        let temporary = try TemporaryDirectory("store-header")
        defer { temporary.remove() }
        _ = try UnreadableValueTests.filledStore(temporary.path)
        // Checkpointed into the file, so its header is the one SQLite reads.
        try DatabaseQueue(path: temporary.path + "/recpool.sqlite").writeWithoutTransaction {
            try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE")
        }
        let path = temporary.path + "/recpool.sqlite"
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[18] = 3
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(RecStore.headerWriteVersion(path) == 3)
        #expect {
            _ = try RecStore(directory: temporary.path)
        } throws: { error in
            guard case .corruptDatabase(_, let problems) = error as? StoreError else { return false }
            return problems.contains { $0.contains("file format write version (byte 18) is 3") }
        }
    }
}
