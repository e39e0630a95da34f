import Foundation
import Testing

@testable import RecStore
import RecTestKit

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14 §3–§4: durable state is verified before it is served, and a full disk or a crash never
/// wedges an upload.
@Suite("Durable store: verification and recovery")
struct StateRecoveryTests {
    /// Mounts a tmpfs of `size` (`4m`) on `directory` (the tests run as root), recording an issue when it cannot.
    static func mountTmpfs(_ directory: String, size: String) -> Bool {
        guard mount("tmpfs", directory, "tmpfs", 0, "size=\(size)") == 0 else {
            Issue.record("cannot mount a tmpfs (run as root): \(String(cString: strerror(errno)))")
            return false
        }
        return true
    }

    static func upload(
        _ store: RecStore, _ content: [UInt8], chunk size: Int, from start: Int = 0
    ) throws -> Bool {
        let sha = BlobStore.digest(content)
        var offset = start
        var complete = false
        while offset < content.count {
            let chunk = Array(content[offset..<min(content.count, offset + size)])
            complete = try store.appendUpload(
                sha256: sha, name: "d.csv", totalBytes: content.count, offset: offset, chunk: chunk,
                chunkSHA256: BlobStore.digest(chunk))
            offset += chunk.count
        }
        return complete
    }

    @Test("a corrupt blob is quarantined when read, and storing the same bytes again repairs it")
    func quarantineAndRepair() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        let store = try RecStore(directory: directory)
        let sha = try store.blobs.put([1, 2, 3, 4])
        try Data([1, 2, 3, 5]).write(to: URL(fileURLWithPath: store.blobs.path(sha)))
        #expect(throws: StoreError.corruptBlob(sha)) { try store.blobs.get(sha) }
        #expect(!store.blobs.contains(sha))
        // Read again: still reported corrupt (quarantined), not merely missing, until the same content is stored.
        #expect(throws: StoreError.corruptBlob(sha)) { try store.blobs.get(sha) }
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: store.blobs.quarantineDirectory)
        #expect(quarantined.count == 1 && quarantined[0].hasPrefix(sha))
        #expect(try store.blobs.put([1, 2, 3, 4]) == sha)
        #expect(try store.blobs.get(sha) == [1, 2, 3, 4])
    }

    @Test("put over a corrupt copy that was never read replaces it")
    func putRepairsUnreadCorruption() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        let store = try RecStore(directory: directory)
        let sha = try store.blobs.put([9, 9, 9])
        try Data([0]).write(to: URL(fileURLWithPath: store.blobs.path(sha)))
        try store.blobs.put([9, 9, 9])
        #expect(try store.blobs.get(sha) == [9, 9, 9])
    }

    @Test("a database with a damaged page is refused at open with corruptDatabase, naming quick_check's finding")
    func damagedDatabase() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        do {
            let store = try RecStore(directory: directory)
            for i in 0..<200 {
                try store.insertJob(JobRecord(id: "job-\(i)", model: "mlp", spec: String(repeating: "x", count: 200), totalRounds: 1, createdAt: 1))
            }
        }
        // Closed: the WAL is checkpointed into the file. Flip six bytes of page 3's b-tree header.
        let path = "\(directory)/recpool.sqlite"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 4 * 4096)
        for i in 0..<6 { bytes[2 * 4096 + i] ^= 0xA5 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try RecStore(directory: directory)
        } throws: { error in
            guard case .corruptDatabase(let where_, let problems) = error as? StoreError else { return false }
            return where_ == path && !problems.isEmpty
        }
    }

    @Test("an upload restarts cleanly from 0 after a torn chunk, and a retried chunk changes nothing")
    func restartAfterTornChunk() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        let store = try RecStore(directory: directory)
        let content = [UInt8]((0..<10_000).map { UInt8($0 % 251) })
        let sha = BlobStore.digest(content)
        // A part holding a torn chunk (as a full disk or a kill mid-write leaves it): 3,072 bytes.
        try Data(content[0..<3072]).write(to: URL(fileURLWithPath: store.blobs.path(sha) + ".part"))
        #expect(try Self.upload(store, content, chunk: 4096))
        #expect(try store.blobs.get(sha) == content)
        #expect(!FileManager.default.fileExists(atPath: store.blobs.path(sha) + ".part"))
    }

    @Test("a part left complete by a broker killed before storing the blob is finished by a retry of any chunk")
    func finishAfterKill() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        let store = try RecStore(directory: directory)
        let content = [UInt8]((0..<10_000).map { UInt8($0 % 13) })
        let sha = BlobStore.digest(content)
        try Data(content).write(to: URL(fileURLWithPath: store.blobs.path(sha) + ".part"))
        // The retried last chunk completes it…
        let last = Array(content[8192...])
        #expect(
            try store.appendUpload(
                sha256: sha, name: "d.csv", totalBytes: content.count, offset: 8192, chunk: last,
                chunkSHA256: BlobStore.digest(last)))
        #expect(try store.blobs.get(sha) == content)
        // …and so does a client that starts again from 0 (here the blob is already stored).
        #expect(try Self.upload(store, content, chunk: 4096))
    }

    @Test("leftover temporary files are removed when the store opens")
    func temporaryFilesRemoved() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        _ = try RecStore(directory: directory)
        let leftover = "\(directory)/blobs/abc.tmp-12345"
        try Data([1]).write(to: URL(fileURLWithPath: leftover))
        _ = try RecStore(directory: directory)
        #expect(!FileManager.default.fileExists(atPath: leftover))
    }

    @Test("on a full disk an upload is refused before writing, leaves no part, and succeeds once space is back")
    func fullDisk() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        guard Self.mountTmpfs(directory, size: "4m") else { return }
        defer { umount2(directory, 0) }
        let store = try RecStore(directory: directory)
        // Fill the disk but for about 1 MiB.
        let free = try #require(store.blobs.availableBytes())
        let filler = "\(directory)/filler"
        try Data(count: free - (1 << 20)).write(to: URL(fileURLWithPath: filler))
        let content = [UInt8]((0..<(1_500_000)).map { UInt8($0 % 241) })
        let sha = BlobStore.digest(content)
        #expect {
            _ = try Self.upload(store, content, chunk: 1 << 20)
        } throws: { error in
            guard case .noSpace(_, let reason) = error as? StoreError else { return false }
            return reason.contains("1500000")
        }
        #expect(!FileManager.default.fileExists(atPath: store.blobs.path(sha) + ".part"))
        // The database still commits: the headroom was kept.
        try store.insertJob(JobRecord(id: "job-1", model: "mlp", spec: "{}", totalRounds: 1, createdAt: 1))
        try FileManager.default.removeItem(atPath: filler)
        #expect(try Self.upload(store, content, chunk: 1 << 20))
        #expect(try store.blobs.get(sha) == content)
    }

    @Test("a blob write that runs out of space throws noSpace and leaves no temporary file")
    func blobWriteOnFullDisk() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        guard Self.mountTmpfs(directory, size: "1m") else { return }
        defer { umount2(directory, 0) }
        let blobs = try BlobStore(directory: "\(directory)/blobs")
        #expect {
            try blobs.put([UInt8](repeating: 7, count: 2 << 20))
        } throws: { error in
            if case .noSpace = error as? StoreError { return true }
            return false
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs.directory).isEmpty)
    }

    /// Opening a state directory on a full file system said "SQLite error 10: disk I/O error - while executing
    /// `PRAGMA journal_mode = WAL`", which reads like failing hardware.
    @Test("a store opened on a full file system throws noSpace naming the database, not a disk I/O error")
    func openOnFullDisk() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        guard Self.mountTmpfs(directory, size: "4m") else { return }
        defer { umount2(directory, 0) }
        do { _ = try RecStore(directory: "\(directory)/state") }  // created, then closed
        // Fill what is left, then open again.
        #expect(FileManager.default.createFile(atPath: "\(directory)/filler", contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: "\(directory)/filler"))
        for size in [1 << 16, 1 << 12, 1 << 9] {
            while (try? handle.write(contentsOf: Data(repeating: 2, count: size))) != nil {}
        }
        try? handle.close()
        #expect(RecStore.isOutOfSpace(directory))
        #expect {
            _ = try RecStore(directory: "\(directory)/state")
        } throws: { error in
            // Named as out of space: never a bare I/O error.
            guard let store = error as? StoreError else { return false }
            if case .noSpace = store { return true }
            return false
        }
    }
}
