internal import RecFiles

#if canImport(Glibc)
    import Glibc
#endif

extension Checkpoint {
    /// Writes the checkpoint atomically: to a temporary file in the same directory, `fsync`,
    /// then `rename` over `path`, so a reader sees either the old file or the whole new one.
    /// - Throws: ``CheckpointError/invalidField(field:value:)`` for a weight that is not finite, which
    ///   ``read(fromFile:)`` would refuse (nothing is written that cannot be read back), or
    ///   ``CheckpointError/io(path:operation:errno:)``.
    public func write(toFile path: String) throws(CheckpointError) {
        let weights = model.network.flatParameters
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw .invalidField(
                field: "weights",
                value: "\(weights[bad]) at index \(bad) (every weight must be finite; such a file would not load)")
        }
        try Self.writeRawFile(encoded(), to: path)
    }

    /// Reads and decodes a checkpoint file.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` if the file cannot be read, or
    ///   ``CheckpointError/inFile(path:_:)`` naming the file with the decoding error from ``init(decoding:)``.
    public static func read(fromFile path: String) throws(CheckpointError) -> Checkpoint {
        try decodeFile(path).checkpoint
    }

    /// Reads a checkpoint file and decodes it, keeping its bytes (whose SHA-256 names the model).
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` if the file cannot be read, or
    ///   ``CheckpointError/inFile(path:_:)``: the decoding error, naming the file (a bare "checkpoint truncated"
    ///   does not say which of a command's files it is).
    public static func decodeFile(_ path: String) throws(CheckpointError) -> (bytes: [UInt8], checkpoint: Checkpoint) {
        // A regular file's header is checked against its size first: a file that cannot be a checkpoint (gigabytes
        // of anything after the magic) is refused from its first bytes, never read whole (a 3 GB file aborted the
        // process on allocation). A pipe is read whole, as it can be read once only.
        var info = stat()
        var limit = Int.max
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            // At most one byte more than checked: a file that grew since is refused (trailing bytes), not read whole.
            limit = Int(info.st_size).addingReportingOverflow(1).partialValue
            let head = try readRawFile(path, limit: headerSize)
            do {
                _ = try checkHeader(head[...], totalBytes: Int(info.st_size))
            } catch {
                throw .inFile(path: path, error)
            }
        }
        let bytes = try readRawFile(path, limit: limit)
        do {
            return (bytes, try Checkpoint(decoding: bytes))
        } catch {
            throw .inFile(path: path, error)
        }
    }
}

extension Checkpoint {
    /// Reads a file's raw bytes (for a feature specification to embed), or its first `limit` bytes.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public static func readRawFile(_ path: String, limit: Int = .max) throws(CheckpointError) -> [UInt8] {
        do {
            return try AtomicFile.read(path, limit: limit)
        } catch {
            throw CheckpointError(error)
        }
    }

    /// Writes raw bytes atomically (temporary file, `fsync`, `rename`, as RecFiles' `AtomicFile`
    /// does), e.g. an ONNX export.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public static func writeRawFile(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw CheckpointError(error)
        }
    }
}

extension CheckpointError {
    /// The checkpoint form of a failed file operation.
    init(_ failure: FileFailure) {
        self = .io(path: failure.path, operation: failure.operation, errno: failure.errno.rawValue)
    }
}
