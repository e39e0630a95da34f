import Foundation
import RecTestKit
import Testing

@testable import RecStore

/// A blob whose file is there but cannot be read is an I/O error naming the path and the system's reason, never
/// reported as missing (which a client would be told as NOT_FOUND).
@Suite("Blobs that cannot be read")
struct UnreadableBlobTests {
    /// Runs `body`, which must throw ``StoreError/io(path:reason:)`` at `path` with a reason containing `word`;
    /// records `never` when it does not throw at all.
    static func expectIOError(
        at path: String, reasonContaining word: String, otherwise never: String, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record(Comment(rawValue: never))
        } catch {
            guard case .io(let at, let reason)? = error as? StoreError else {
                Issue.record("expected an I/O error, got \(error)")
                return
            }
            #expect(at == path && reason.contains(word), "\(reason)")
        }
    }

    @Test("a blob path that cannot be read (a folder) is an I/O error, not a missing blob")
    func unreadableIsNotMissing() throws {
        let temporary = try TemporaryDirectory("blob-unreadable")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let sha = try store.blobs.put([1, 2, 3])
        let path = store.blobs.path(sha)
        try FileManager.default.removeItem(atPath: path)
        // A folder in the blob's place: open(2) succeeds, read(2) fails with EISDIR.
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        Self.expectIOError(at: path, reasonContaining: "cannot read", otherwise: "a folder was read as a blob") {
            _ = try store.blobs.get(sha)
        }
        // A blob that is really gone is still missing.
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: StoreError.missingBlob(sha)) { try store.blobs.get(sha) }
    }

    /// A part file that cannot be examined (here a symbolic link to itself: `stat(2)` fails with ELOOP) read as "no
    /// bytes yet", and the client was told the wrong offset to send.
    @Test("an upload's part file that cannot be examined is an I/O error naming it, not an empty part")
    func unexaminablePartIsNotEmpty() throws {
        let temporary = try TemporaryDirectory("part-unexaminable")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let content: [UInt8] = [1, 2, 3, 4]
        let sha = BlobStore.digest(content)
        let part = store.blobs.path(sha) + ".part"
        try FileManager.default.createSymbolicLink(atPath: part, withDestinationPath: part)
        Self.expectIOError(at: part, reasonContaining: "cannot examine", otherwise: "an unexaminable part file was taken as an empty one") {
            _ = try store.appendUpload(
                sha256: sha, name: "d.csv", totalBytes: 4, offset: 2, chunk: [3, 4], chunkSHA256: BlobStore.digest([3, 4]))
        }
    }

    /// A missing blob whose quarantine folder could not be listed was reported missing (NOT_FOUND), although a
    /// corrupt copy may sit there: the answer is unknown, so it is an I/O error naming the folder.
    @Test("a missing blob beside a quarantine folder that cannot be listed is an I/O error, not missing")
    func unlistableQuarantine() throws {
        let temporary = try TemporaryDirectory("quarantine-unlistable")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let sha = BlobStore.digest([9, 9, 9])
        // No quarantine folder yet: simply missing.
        #expect(throws: StoreError.missingBlob(sha)) { try store.blobs.get(sha) }
        // A file in the folder's place: listing it fails with ENOTDIR (root reads every folder, so no chmod).
        try? FileManager.default.removeItem(atPath: store.blobs.quarantineDirectory)
        FileManager.default.createFile(atPath: store.blobs.quarantineDirectory, contents: Data([1]))
        Self.expectIOError(at: store.blobs.quarantineDirectory, reasonContaining: "cannot list", otherwise: "a missing blob was reported without checking the quarantine") {
            _ = try store.blobs.get(sha)
        }
        // A quarantined copy makes it corrupt, as before.
        try FileManager.default.removeItem(atPath: store.blobs.quarantineDirectory)
        try FileManager.default.createDirectory(atPath: store.blobs.quarantineDirectory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: store.blobs.quarantineDirectory + "/\(sha).1", contents: Data([1]))
        #expect(throws: StoreError.corruptBlob(sha)) { try store.blobs.get(sha) }
    }

    /// The error said the corrupt blob "was moved to blobs/quarantine" when the move had failed (a read-only folder).
    @Test("a corrupt blob that cannot be quarantined says so, stays in place, and is still never served")
    func quarantineFails() throws {
        let temporary = try TemporaryDirectory("blob-quarantine")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let sha = try store.blobs.put([1, 2, 3])
        try Data([9, 9, 9]).write(to: URL(fileURLWithPath: store.blobs.path(sha)))
        // A file where the quarantine folder goes: the move fails (ENOTDIR), as on a read-only file system.
        try Data().write(to: URL(fileURLWithPath: store.blobs.quarantineDirectory))
        #expect(throws: StoreError.corruptBlob(sha, quarantined: false)) { try store.blobs.get(sha) }
        #expect(StoreError.corruptBlob(sha, quarantined: false).description.contains("could not be moved"))
        #expect(FileManager.default.fileExists(atPath: store.blobs.path(sha)))
        #expect(throws: StoreError.corruptBlob(sha, quarantined: false)) { try store.blobs.get(sha) }
        // With the folder usable, the next read moves it and says so.
        try FileManager.default.removeItem(atPath: store.blobs.quarantineDirectory)
        #expect(throws: StoreError.corruptBlob(sha, quarantined: true)) { try store.blobs.get(sha) }
        #expect(!FileManager.default.fileExists(atPath: store.blobs.path(sha)))
    }
}
