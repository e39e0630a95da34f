import Foundation
import GRDB
import RecTestKit
import Testing

@testable import RecStore

/// A disk that failed under a running broker (every read EIO) made SQLite report "database disk image is
/// malformed", and clients were told the database was corrupt: an operator following "A damaged database" would have
/// salvaged a healthy file. The broker's own start check said EIO.
@Suite("A failing disk is not called a corrupt database")
struct FailingDiskTests {
    @Test("a malformed-image error over a file that cannot be read names the read failure, not corruption")
    func unreadableFileIsIO() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let malformed = DatabaseError(resultCode: .SQLITE_CORRUPT, message: "database disk image is malformed")
        guard case .corruptDatabase = store.storeError(malformed) else {
            Issue.record("a readable file with a malformed image is corruption")
            return
        }
        // The log cannot be read (a directory stands in for a file whose reads fail: read(2) fails, EISDIR).
        let wal = temporary.path + "/recpool.sqlite-wal"
        try? FileManager.default.removeItem(atPath: wal)
        try FileManager.default.createDirectory(atPath: wal, withIntermediateDirectories: false)
        let mapped = store.storeError(malformed)
        guard case .io(let path, let reason) = mapped else {
            Issue.record("expected an I/O error, got \(mapped)")
            return
        }
        #expect(path.hasSuffix("recpool.sqlite"))
        #expect(reason.contains("the disk failed") && reason.contains("not known to be damaged"), "\(reason)")
        #expect(RecStore.unreadable([temporary.path + "/none"]) == nil)
    }

    /// An immutable WAL (`chattr +i`) made `promote` fail "database: SQLite error 10: disk I/O error - while executing
    /// `COMMIT TRANSACTION`", naming neither the file nor the cause.
    @Test("a write SQLite could not make names the database file that refuses writing, and why")
    func unwritableFileIsNamed() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let failed = DatabaseError(resultCode: .SQLITE_IOERR, message: "disk I/O error")
        // Every file writable: no file to blame, the database's own error.
        guard case .database = store.storeError(failed) else {
            Issue.record("a writable store's I/O error named a file")
            return
        }
        // The log cannot be written (a directory in its place: EISDIR; an immutable file gives EPERM). Found without
        // opening it: closing a descriptor would drop SQLite's locks on the file.
        let wal = temporary.path + "/recpool.sqlite-wal"
        try? FileManager.default.removeItem(atPath: wal)
        try FileManager.default.createDirectory(atPath: wal, withIntermediateDirectories: false)
        let mapped = store.storeError(failed)
        guard case .database(let reason) = mapped else {
            Issue.record("expected a database error naming the file, got \(mapped)")
            return
        }
        #expect(reason.contains("disk I/O error") && reason.contains("cannot write \(wal): "), "\(reason)")
        #expect(reason.contains("Is a directory"), "\(reason)")
    }
}
