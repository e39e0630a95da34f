import Foundation
import Testing

@testable import RecStore
import RecTestKit

/// A refused start told the operator to copy the state directory aside before anything opened it, having itself just
/// checkpointed the log into the database and deleted it (SQLite does that when the last connection closes).
@Suite("A refused start leaves the state directory as it found it")
struct RefusedStartTests {
    /// The sizes of the database files in `folder`, by name (missing ones absent).
    static func sizes(_ folder: String) -> [String: Int] {
        var sizes: [String: Int] = [:]
        for name in ["recpool.sqlite", "recpool.sqlite-wal", "recpool.sqlite-shm"] {
            if let size = (try? FileManager.default.attributesOfItem(atPath: folder + "/" + name))?[.size] as? Int {
                sizes[name] = size
            }
        }
        return sizes
    }

    @Test("a database that fails its check keeps its log: nothing is checkpointed, no -shm is left behind")
    func failedCheckKeepsTheLog() throws {
        let temporary = try TemporaryDirectory("refused-start")
        defer { temporary.remove() }
        // A registry checkpointed into its database file, then more commits in the log, copied as a crash leaves it.
        let live = temporary.file("live").path
        let copy = temporary.file("copy").path
        do {
            let store = try RecStore(directory: live)
            let checkpoint = try store.blobs.put(Array("a checkpoint".utf8))
            for index in 0..<400 {
                _ = try store.registerModel(
                    job: "job-\(index)", datasetSHA: String(repeating: "d", count: 200), hyperparameters: "{}",
                    metrics: "{}", checkpointSHA: checkpoint)
            }
        }
        let store = try RecStore(directory: live)
        let checkpoint = try store.blobs.put(Array("another checkpoint".utf8))
        for index in 0..<400 {
            _ = try store.registerModel(
                job: "job-x\(index)", datasetSHA: String(repeating: "e", count: 200), hyperparameters: "{}", metrics: "{}",
                checkpointSHA: checkpoint)
        }
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: live + "/blobs", toPath: copy + "/blobs")
        for name in ["recpool.sqlite", "recpool.sqlite-wal"] {
            try FileManager.default.copyItem(atPath: live + "/" + name, toPath: copy + "/" + name)
        }
        withExtendedLifetime(store) {}
        // The database file cut short (a bad copy): pages only it held are gone, and PRAGMA quick_check fails.
        let database = copy + "/recpool.sqlite"
        let size = try #require((try FileManager.default.attributesOfItem(atPath: database))[.size] as? Int)
        let handle = try #require(FileHandle(forWritingAtPath: database))
        try handle.truncate(atOffset: UInt64(size / 2 / 4096 * 4096))
        try handle.close()
        let before = Self.sizes(copy)
        #expect(before["recpool.sqlite-wal", default: 0] > 0 && before["recpool.sqlite-shm"] == nil)
        #expect(throws: StoreError.self) { _ = try RecStore(directory: copy) }
        #expect(Self.sizes(copy) == before)
    }

    @Test("a log without its database file is refused before SQLite creates an empty one beside it")
    func logWithoutDatabase() throws {
        let temporary = try TemporaryDirectory("refused-start-missing")
        defer { temporary.remove() }
        let copy = try WriteAheadLogDamageTests.crashedState(temporary, models: 3)
        try FileManager.default.removeItem(atPath: copy + "/recpool.sqlite")
        let before = Self.sizes(copy)
        #expect {
            _ = try RecStore(directory: copy)
        } throws: { error in
            guard case .corruptDatabase(_, let problems) = error as? StoreError else { return false }
            return problems.joined().contains("the database file is missing while its write-ahead log recpool.sqlite-wal holds")
        }
        #expect(Self.sizes(copy) == before)
    }
}
