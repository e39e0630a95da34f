import Foundation
import GRDB
import RecFiles
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension RecStore {
    /// Free bytes an upload must leave on the state directory's file system, beyond its own bytes,
    /// so the database can still commit (1 MiB).
    public static let uploadHeadroomBytes = 1 << 20

    /// Records a dataset stored in ``blobs`` under a display name.
    public func registerDataset(sha256: String, name: String) throws(StoreError) {
        guard blobs.contains(sha256) else { throw .missingBlob(sha256) }
        // A size that cannot be read is an error, never recorded as 0 bytes.
        let path = blobs.path(sha256)
        let size: Int
        do {
            guard let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int else {
                throw StoreError.io(path: path, reason: "the file system gives no size")
            }
            size = bytes
        } catch let error as StoreError {
            throw error
        } catch {
            throw .io(path: path, reason: "cannot read its size: \(error)")
        }
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO datasets (sha256, name, bytes, created_at) VALUES (?, ?, ?, ?)",
                arguments: [sha256, name, size, Self.now()])
        }
    }

    /// The display name a dataset was first uploaded under (`logs.csv`), or nil when none is recorded.
    public func datasetName(sha256: String) throws(StoreError) -> String? {
        try read { db in
            try String.fetchOne(db, sql: "SELECT name FROM datasets WHERE sha256 = ?", arguments: [sha256])
        }
    }

    /// Appends one chunk of an upload whose whole content hashes to `sha256`.
    ///
    /// The bytes received so far live in `blobs/<sha256>.part`. A chunk may start at any offset up to
    /// what is stored: a chunk already stored with the same bytes (a client retry) changes nothing,
    /// and any other chunk replaces everything from its offset on, so a client that starts again
    /// from 0 after any failure restarts cleanly. Each chunk carries its own SHA-256, checked before
    /// it is written. Once the part holds `totalBytes`, it is verified against `sha256` and renamed
    /// into place (no second copy, so an upload needs its own size in free space, not twice it); a
    /// part that was complete when the broker stopped is finished by the next chunk for it.
    ///
    /// Before the first byte of a chunk is written, the file system must have room for the rest of
    /// the upload plus ``uploadHeadroomBytes``. A write that fails for lack of space removes the
    /// part, so a failed upload never keeps the disk full.
    /// - Returns: whether the upload is now complete (verified and stored as a blob).
    /// - Throws: ``StoreError/badUpload(_:)`` for a chunk that does not fit, ``StoreError/noSpace(path:reason:)``
    ///   when the disk lacks room (the upload was discarded), ``StoreError/io(path:reason:)``.
    public func appendUpload(
        sha256: String, name: String, totalBytes: Int, offset: Int, chunk: [UInt8], chunkSHA256: String
    ) throws(StoreError) -> Bool {
        guard BlobStore.isName(sha256) else { throw .badUpload("sha256 must be 64 lowercase hexadecimal digits") }
        if blobs.contains(sha256), (try? blobs.verify(sha256)) != nil {
            try registerDataset(sha256: sha256, name: name)
            return true
        }
        guard BlobStore.digest(chunk) == chunkSHA256 else { throw .badUpload("chunk at offset \(offset) fails its checksum") }
        // Compared without a sum: `offset` is the client's number, and `offset + count` could overflow.
        guard totalBytes >= 0, offset >= 0, chunk.count <= totalBytes, offset <= totalBytes - chunk.count else {
            throw .badUpload("chunk at offset \(offset) of \(chunk.count) bytes overruns \(totalBytes) bytes")
        }
        let partPath = blobs.path(sha256) + ".part"
        let have = try Self.fileSize(partPath) ?? 0
        guard offset <= have else { throw .badUpload("expected the chunk at offset \(have), got \(offset)") }
        let retried = offset + chunk.count <= have && Self.bytes(at: offset, count: chunk.count, of: partPath) == chunk
        if !retried {
            // Saturating: `totalBytes` is the client's, and Int.max plus the headroom would trap.
            let (sum, overflow) = (totalBytes - offset).addingReportingOverflow(Self.uploadHeadroomBytes)
            let needed = overflow ? Int.max : sum
            if let available = blobs.availableBytes(), available < needed - (have - offset) {
                try? FileManager.default.removeItem(atPath: partPath)
                throw .noSpace(
                    path: partPath,
                    reason: "the upload needs \(totalBytes - offset) more bytes (+\(Self.uploadHeadroomBytes) "
                        + "headroom); \(available + (have - offset)) are free; the upload was discarded")
            }
            try Self.write(chunk, at: offset, to: partPath)
        }
        guard (try Self.fileSize(partPath) ?? 0) == totalBytes else { return false }
        try finishUpload(sha256: sha256, partPath: partPath)
        try registerDataset(sha256: sha256, name: name)
        return true
    }

    /// Verifies a complete part file and renames it to its blob name.
    private func finishUpload(sha256: String, partPath: String) throws(StoreError) {
        guard let data = FileManager.default.contents(atPath: partPath) else { throw .io(path: partPath, reason: "cannot read") }
        guard BlobStore.digest([UInt8](data)) == sha256 else {
            try? FileManager.default.removeItem(atPath: partPath)
            throw .badUpload("the uploaded bytes do not hash to \(sha256); the upload was discarded")
        }
        blobs.quarantine(sha256)  // a corrupt copy, if any, is kept aside, never overwritten in place
        guard rename(partPath, blobs.path(sha256)) == 0 else {
            throw .io(path: partPath, reason: String(cString: strerror(errno)))
        }
        AtomicFile.syncFolder(of: partPath)
    }

    /// Truncates `path` to `offset` and writes `chunk` there, fsynced. A failed write truncates the
    /// file back to `offset` (or removes it when the disk is full), so it never holds a torn chunk.
    private static func write(_ chunk: [UInt8], at offset: Int, to path: String) throws(StoreError) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw StoreError(error, path: path)
        }
        do {
            try fd.closeAfter {
                try fd.resize(to: Int64(offset))
                _ = try fd.writeAll(toAbsoluteOffset: Int64(offset), chunk)
                guard fsync(fd.rawValue) == 0 else { throw Errno(rawValue: errno) }
            }
        } catch {
            let mapped = StoreError(error, path: path)
            if case .noSpace = mapped {
                try? FileManager.default.removeItem(atPath: path)
            } else {
                truncate(path, off_t(offset))
            }
            throw mapped
        }
    }

    /// The size of the file at `path`, or nil when there is none (`ENOENT`: no part uploaded yet).
    /// - Throws: ``StoreError/io(path:reason:)`` when the file cannot be examined for another reason, which would
    ///   otherwise read as "no bytes yet" and answer the client with a wrong offset.
    private static func fileSize(_ path: String) throws(StoreError) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw .io(path: path, reason: "cannot examine the upload's part file: \(String(cString: strerror(code)))")
        }
        return Int(info.st_size)
    }

    private static func bytes(at offset: Int, count: Int, of path: String) -> [UInt8]? {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly) else { return nil }
        defer { try? fd.close() }
        var buffer = [UInt8](repeating: 0, count: count)
        let read = try? buffer.withUnsafeMutableBytes { raw in
            try fd.read(fromAbsoluteOffset: Int64(offset), into: raw)
        }
        return read == count ? buffer : nil
    }
}
