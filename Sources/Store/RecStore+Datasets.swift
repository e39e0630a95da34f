import Foundation
import GRDB

extension RecStore {
    /// Records a dataset stored in ``blobs`` under a display name.
    public func registerDataset(sha256: String, name: String) throws(StoreError) {
        guard blobs.contains(sha256) else { throw .missingBlob(sha256) }
        let size = (try? FileManager.default.attributesOfItem(atPath: blobs.path(sha256))[.size] as? Int) ?? 0
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO datasets (sha256, name, bytes, created_at) VALUES (?, ?, ?, ?)",
                arguments: [sha256, name, size, Self.now()])
        }
    }

    /// Appends one chunk of an upload whose whole content hashes to `sha256`.
    ///
    /// Chunks must arrive in order; a chunk that was already received (a client retry) is accepted
    /// again without change. Each chunk carries its own SHA-256, checked before it is written.
    /// - Returns: whether the upload is now complete (its last chunk verified and stored as a blob).
    public func appendUpload(
        sha256: String, name: String, totalBytes: Int, offset: Int, chunk: [UInt8], chunkSHA256: String
    ) throws(StoreError) -> Bool {
        guard sha256.count == 64, sha256.allSatisfy(\.isHexDigit) else { throw .badUpload("sha256 must be 64 hex digits") }
        if blobs.contains(sha256) {
            try registerDataset(sha256: sha256, name: name)
            return true
        }
        guard BlobStore.digest(chunk) == chunkSHA256 else { throw .badUpload("chunk at offset \(offset) fails its checksum") }
        // Compared without a sum: `offset` is the client's number, and `offset + count` could overflow.
        guard totalBytes >= 0, offset >= 0, offset <= totalBytes - chunk.count else {
            throw .badUpload("chunk at offset \(offset) of \(chunk.count) bytes overruns \(totalBytes) bytes")
        }
        let partPath = blobs.path(sha256) + ".part"
        let have = (try? FileManager.default.attributesOfItem(atPath: partPath)[.size] as? Int) ?? 0
        if offset + chunk.count <= have { return false }  // a retried chunk
        guard offset == have else { throw .badUpload("expected the chunk at offset \(have), got \(offset)") }
        guard let handle = FileHandle(forWritingAtPath: partPath) ?? Self.create(partPath) else {
            throw .io(path: partPath, reason: "cannot open")
        }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(chunk))
            try handle.synchronize()
            try handle.close()
        } catch {
            throw .io(path: partPath, reason: "\(error)")
        }
        guard offset + chunk.count == totalBytes else { return false }
        guard let data = FileManager.default.contents(atPath: partPath) else { throw .io(path: partPath, reason: "cannot read") }
        let bytes = [UInt8](data)
        guard BlobStore.digest(bytes) == sha256 else {
            try? FileManager.default.removeItem(atPath: partPath)
            throw .badUpload("the uploaded bytes do not hash to \(sha256); the upload was discarded")
        }
        try blobs.put(bytes)
        try? FileManager.default.removeItem(atPath: partPath)
        try registerDataset(sha256: sha256, name: name)
        return true
    }

    private static func create(_ path: String) -> FileHandle? {
        FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }
}
