import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed files: each blob is stored under the hex SHA-256 of its bytes, written to a
/// temporary name, fsynced and renamed, so a reader never sees half a file.
public struct BlobStore: Sendable {
    /// The folder holding the blobs.
    public let directory: String

    /// Opens (and creates) the folder.
    public init(directory: String) throws(StoreError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, reason: "\(error.localizedDescription)")
        }
    }

    /// The hex SHA-256 of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The path of the blob named `sha256`.
    public func path(_ sha256: String) -> String { "\(directory)/\(sha256)" }

    /// Whether the blob exists.
    public func contains(_ sha256: String) -> Bool { FileManager.default.fileExists(atPath: path(sha256)) }

    /// Stores `bytes` durably and returns their SHA-256. Storing the same bytes twice is a no-op.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws(StoreError) -> String {
        let sha = Self.digest(bytes)
        if contains(sha) { return sha }
        try Self.writeDurably(bytes, to: path(sha))
        return sha
    }

    /// Reads a blob and verifies its checksum.
    /// - Throws: ``StoreError/missingBlob(_:)`` or ``StoreError/corruptBlob(_:)``.
    public func get(_ sha256: String) throws(StoreError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path(sha256)) else { throw .missingBlob(sha256) }
        let bytes = [UInt8](data)
        guard Self.digest(bytes) == sha256 else { throw .corruptBlob(sha256) }
        return bytes
    }

    /// Writes `bytes` to `path` through a temporary file, fsync and rename.
    public static func writeDurably(_ bytes: [UInt8], to path: String) throws(StoreError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .io(path: temporary, reason: String(cString: strerror(errno))) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .io(path: path, reason: reason)
        }
        let folder = (path as NSString).deletingLastPathComponent
        let dirFd = open(folder, O_RDONLY)
        if dirFd >= 0 {
            fsync(dirFd)
            close(dirFd)
        }
    }
}
