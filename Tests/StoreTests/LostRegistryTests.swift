import Foundation
import Testing

@testable import RecStore
import RecTestKit

/// An empty database beside stored blobs is a lost registry, refused at open: SQLite takes a truncated or re-created
/// file for a new database, and migrating it would reuse version numbers whose checkpoints are still in `blobs/`.
@Suite("A lost registry is refused, never started afresh")
struct LostRegistryTests {
    @Test("a truncated recpool.sqlite beside stored blobs is corruptDatabase naming what was lost")
    func truncatedDatabase() throws {
        let temporary = try TemporaryDirectory("lost-registry")
        defer { temporary.remove() }
        let directory = temporary.url.path
        do {
            let store = try RecStore(directory: directory)
            _ = try store.blobs.put(Array("a checkpoint".utf8))
        }
        let database = directory + "/recpool.sqlite"
        for suffix in ["-wal", "-shm"] { unlink(database + suffix) }
        #expect(truncate(database, 0) == 0)
        #expect {
            _ = try RecStore(directory: directory)
        } throws: { error in
            guard case .corruptDatabase(let path, let problems) = error as? StoreError else { return false }
            return path == database && problems.joined().contains("registry of jobs, model versions and promotions is lost")
        }
        // A deleted one is the same loss.
        unlink(database)
        #expect(throws: StoreError.self) { _ = try RecStore(directory: directory) }
    }

    @Test("a new state directory, and one whose blobs are only temporary leftovers, open as before")
    func freshDirectory() throws {
        let temporary = try TemporaryDirectory("fresh-registry")
        defer { temporary.remove() }
        _ = try RecStore(directory: temporary.url.path)
        _ = try RecStore(directory: temporary.url.path)
    }
}
