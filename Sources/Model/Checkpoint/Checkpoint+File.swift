extension Checkpoint {
    /// Writes the checkpoint atomically: to a temporary file in the same directory, `fsync`,
    /// then `rename` over `path`, so a reader sees either the old file or the whole new one.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func write(toFile path: String) throws(CheckpointError) {
        if let f = writeWholeFileAtomically(encoded(), to: path) {
            throw .io(path: f.path, operation: f.operation, errno: f.errno)
        }
    }

    /// Reads and decodes a checkpoint file.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)`` if the file cannot be read, or any
    ///   decoding error from ``init(decoding:)``.
    public static func read(fromFile path: String) throws(CheckpointError) -> Checkpoint {
        switch readWholeFile(path) {
        case .success(let bytes): return try Checkpoint(decoding: bytes)
        case .failure(let f): throw .io(path: path, operation: f.operation, errno: f.errno)
        }
    }
}

extension Checkpoint {
    /// Reads a file's raw bytes (for a feature specification to embed).
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public static func readRawFile(_ path: String) throws(CheckpointError) -> [UInt8] {
        switch readWholeFile(path) {
        case .success(let bytes): return bytes
        case .failure(let f): throw .io(path: path, operation: f.operation, errno: f.errno)
        }
    }

    /// Writes raw bytes atomically (temporary file, `fsync`, `rename`), e.g. an ONNX export.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public static func writeRawFile(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        if let f = writeWholeFileAtomically(bytes, to: path) {
            throw .io(path: f.path, operation: f.operation, errno: f.errno)
        }
    }
}
