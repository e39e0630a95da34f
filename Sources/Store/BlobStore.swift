import Crypto
import Foundation
import RecFiles
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed files: each blob is stored under the hex SHA-256 of its bytes, written to a
/// temporary name, fsynced and renamed, so a reader never sees half a file.
///
/// Every read verifies the bytes against the name. A blob that fails is moved to `quarantine/`
/// (kept for inspection, never served) and reported as ``StoreError/corruptBlob(_:)``; storing the
/// same content again (re-importing a checkpoint, re-uploading a dataset) writes a good copy, which
/// repairs it.
public struct BlobStore: Sendable {
    /// The folder holding the blobs.
    public let directory: String

    /// The folder that corrupt blobs are moved to (`<directory>/quarantine`).
    public var quarantineDirectory: String { "\(directory)/quarantine" }

    /// Opens (and creates) the folder.
    public init(directory: String) throws(StoreError) {
        self.directory = directory
        try SymbolicLinkLoop.check(directory)
        do {
            try FolderCreation.create(directory)
        } catch {
            throw .io(path: directory, reason: error.description)
        }
    }

    /// The hex SHA-256 of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `name` can name a blob: exactly 64 lowercase hexadecimal digits (a SHA-256). Names come from peers
    /// (`train`'s `sha256:<hex>` dataset, an upload, a catalogue's source), so every method here refuses any other
    /// string: a name like `../recpool.sqlite` would otherwise reach a file outside the folder.
    public static func isName(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The path of the blob named `sha256`, or of an impossible name inside the folder when `sha256` is not a blob
    /// name (``isName(_:)``), so no caller's path can leave the folder.
    public func path(_ sha256: String) -> String {
        Self.isName(sha256) ? "\(directory)/\(sha256)" : "\(directory)/not-a-blob-name"
    }

    /// Whether a file for the blob exists (its content is not checked; ``get(_:)`` checks it); false for a string
    /// that is not a blob name.
    public func contains(_ sha256: String) -> Bool {
        Self.isName(sha256) && FileManager.default.fileExists(atPath: path(sha256))
    }

    /// Deletes the blobs named `names` that no row names any more (the caller has checked that), skipping strings that
    /// are not blob names.
    /// - Returns: the bytes freed; a blob that cannot be deleted is left (it only takes space) and not counted.
    public func remove(_ names: some Sequence<String>) -> Int {
        var freed = 0
        for sha256 in names where Self.isName(sha256) {
            let file = path(sha256)
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            if (try? FileManager.default.removeItem(atPath: file)) != nil { freed += size }
        }
        return freed
    }

    /// Stores `bytes` durably and returns their SHA-256. Storing bytes that are already stored and
    /// verify is a no-op; a stored copy that fails its checksum is quarantined and replaced.
    /// - Throws: ``StoreError/noSpace(path:reason:)`` when the disk is full (nothing is left behind),
    ///   ``StoreError/io(path:reason:)`` for other failures.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws(StoreError) -> String {
        let sha = Self.digest(bytes)
        if contains(sha) {
            do {
                _ = try get(sha)
                return sha
            } catch .corruptBlob {
                // Quarantined by `get`: write a good copy below.
            } catch .missingBlob {
                // Removed meanwhile: write it below.
            }
        }
        try Self.writeDurably(bytes, to: path(sha))
        return sha
    }

    /// Reads a blob and verifies its checksum. A blob whose bytes do not hash to its name is moved
    /// to ``quarantineDirectory`` before the error is thrown, so it is never read again.
    /// - Throws: ``StoreError/missingBlob(_:)`` (no such file) or ``StoreError/corruptBlob(_:)``;
    ///   ``StoreError/io(path:reason:)`` when the file is there but cannot be read (never reported as missing).
    public func get(_ sha256: String) throws(StoreError) -> [UInt8] {
        guard Self.isName(sha256) else { throw .missingBlob(sha256) }
        let bytes: [UInt8]
        do {
            bytes = try AtomicFile.read(path(sha256))
        } catch {
            guard error.operation == "open", error.errno == .noSuchFileOrDirectory else {
                throw .io(path: path(sha256), reason: error.description)
            }
            // Quarantined earlier: still corrupt (and repaired by storing the same content again), not merely missing.
            if try isQuarantined(sha256) { throw .corruptBlob(sha256) }
            throw .missingBlob(sha256)
        }
        guard Self.digest(bytes) == sha256 else {
            throw .corruptBlob(sha256, quarantined: quarantine(sha256) != nil)
        }
        return bytes
    }

    /// Checks that a blob exists and verifies, without keeping its bytes.
    /// - Throws: ``StoreError/missingBlob(_:)``, ``StoreError/corruptBlob(_:)`` (quarantined), or
    ///   ``StoreError/io(path:reason:)`` when the blob or the quarantine folder cannot be read.
    public func verify(_ sha256: String) throws(StoreError) {
        _ = try get(sha256)
    }

    /// Whether a corrupt copy of the blob named `sha256` sits in ``quarantineDirectory`` (false while that folder
    /// does not exist).
    /// - Throws: ``StoreError/io(path:reason:)`` when the folder is there but cannot be listed: the answer is then
    ///   unknown, and a corrupt blob must not be reported as merely missing.
    public func isQuarantined(_ sha256: String) throws(StoreError) -> Bool {
        guard Self.isName(sha256) else { return false }
        return try Self.names(in: quarantineDirectory).contains { $0.hasPrefix(sha256 + ".") }
    }

    /// The names in `folder`; none when it does not exist.
    /// - Throws: ``StoreError/io(path:reason:)`` when it exists (or cannot be examined) but cannot be listed.
    static func names(in folder: String) throws(StoreError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            // Foundation's error does not keep errno in a stable form: ask the system why once more.
            guard let stream = opendir(folder) else {
                let code = errno
                if code == ENOENT { return [] }
                throw .io(path: folder, reason: "cannot list the folder: \(String(cString: strerror(code)))")
            }
            closedir(stream)
            throw .io(path: folder, reason: "cannot list the folder: \(error.localizedDescription)")
        }
    }

    /// Moves the blob named `sha256` to ``quarantineDirectory`` (as `<sha256>.<epoch seconds>`).
    /// - Returns: where it went, or `nil` when there was nothing to move or the move failed.
    @discardableResult
    public func quarantine(_ sha256: String) -> String? {
        guard Self.isName(sha256) else { return nil }
        try? FileManager.default.createDirectory(atPath: quarantineDirectory, withIntermediateDirectories: true)
        let target = "\(quarantineDirectory)/\(sha256).\(Int(Date().timeIntervalSince1970))"
        return rename(path(sha256), target) == 0 ? target : nil
    }

    /// Bytes free for an unprivileged writer on the file system holding the blobs, or `nil` when unknown.
    public func availableBytes() -> Int? {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        return Int(clamping: UInt64(info.f_bavail) &* UInt64(info.f_frsize))
    }

    /// Deletes the temporary files (`*.tmp-<pid>`) that a writer killed between write and rename
    /// left behind. Call once at start-up, before anything writes.
    /// - Returns: the names removed.
    /// - Throws: ``StoreError/io(path:reason:)`` when the blob folder is there but cannot be listed.
    @discardableResult
    public func removeTemporaryFiles() throws(StoreError) -> [String] {
        let leftovers = try Self.names(in: directory).filter { $0.contains(AtomicFile.temporarySuffix) }
        for name in leftovers { unlink("\(directory)/\(name)") }
        return leftovers
    }

    /// Writes `bytes` to `path` atomically and durably (``AtomicFile/write(_:to:)``). On failure
    /// the temporary file is removed, so a full disk leaves nothing behind.
    /// - Throws: ``StoreError/noSpace(path:reason:)`` (ENOSPC, EDQUOT) or ``StoreError/io(path:reason:)``.
    public static func writeDurably(_ bytes: [UInt8], to path: String) throws(StoreError) {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw StoreError(error.errno, path: path)
        }
    }
}

extension StoreError {
    /// Maps a file-system error to ``noSpace(path:reason:)`` (ENOSPC, EDQUOT) or ``io(path:reason:)``.
    init(_ error: any Error, path: String) {
        if let errno = error as? Errno {
            if errno == .noSpace || errno == .diskQuotaExceeded {
                self = .noSpace(path: path, reason: "\(errno)")
            } else {
                self = .io(path: path, reason: "\(errno)")
            }
        } else if let error = error as? StoreError {
            self = error
        } else {
            self = .io(path: path, reason: "\(error)")
        }
    }
}
