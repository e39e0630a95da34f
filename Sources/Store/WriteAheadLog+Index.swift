extension WriteAheadLog {
    /// A log cut short: its index (`recpool.sqlite-shm`) records more committed frames than SQLite can read from it.
    ///
    /// SQLite writes a transaction's frames, syncs them (`synchronous = FULL`) and only then records the new last
    /// committed frame (`mxFrame`) in the wal-index header, so the index never names a frame that was not durable. A
    /// log that ends (or stops chaining) before the frame the index names lost committed transactions: opened, SQLite
    /// rebuilds the index from the frames it can read and the registry silently rolls back to before them.
    struct Truncation: Equatable, Sendable {
        /// The last committed frame the index records (its `mxFrame`, from 1).
        var recorded: Int
        /// The committed frames SQLite can read from the log (up to its last readable commit frame).
        var readable: Int
        /// The whole frames in the file.
        var frames: Int

        /// One line for ``StoreError/corruptDatabase(path:problems:)``.
        var description: String {
            "the write-ahead log is damaged: its index (recpool.sqlite-shm) records \(recorded) committed frames, and "
                + "SQLite can read only the first \(readable) (the file holds \(frames) whole frames: the log was cut short "
                + "or its later frames overwritten), so it would drop the commits after frame \(readable) silently and roll the registry back; "
                + "restore the state directory from a backup (docs/OPERATIONS.md), or move recpool.sqlite-wal and "
                + "recpool.sqlite-shm aside to accept the rollback"
        }
    }

    /// The size of one copy of the wal-index header, bytes.
    static let indexHeaderSize = 48
    /// The wal-index format version SQLite writes (`WALINDEX_MAX_VERSION`).
    static let indexVersion: UInt32 = 3_007_000

    /// The truncation of a log whose index says it held more committed frames, or nil: when the index is absent,
    /// short, of another format or another generation of the log (other salts), not initialised, or its two header
    /// copies differ (a writer was changing it), and whenever SQLite can read every frame the index records.
    ///
    /// The index header is SQLite's `WalIndexHdr` ("Write-Ahead Log File Format", https://www.sqlite.org/walformat.html),
    /// written twice at the start of the `-shm` file in the host's byte order: `iVersion` (u32), padding, `iChange`,
    /// `isInit` (u8), `bigEndCksum` (u8), `szPage` (u16), `mxFrame` (u32, byte 16), `nPage`, `aFrameCksum[2]`,
    /// `aSalt[2]` (bytes 32–39, the log header's salt bytes as written), `aCksum[2]`.
    static func truncation(log bytes: [UInt8], index: [UInt8], databasePageSize: Int? = nil) -> Truncation? {
        guard bytes.count >= headerSize, index.count >= 2 * indexHeaderSize else { return nil }
        guard index[0..<indexHeaderSize].elementsEqual(index[indexHeaderSize..<(2 * indexHeaderSize)]) else { return nil }
        guard word(index, 0, bigEndian: false) == indexVersion, index[12] == 1 else { return nil }
        guard index[32..<40].elementsEqual(bytes[16..<24]) else { return nil }
        let recorded = Int(word(index, 16, bigEndian: false))
        guard recorded > 0 else { return nil }
        let headerPageSize = Int(word(bytes, 8, bigEndian: true))
        let pageSize = databasePageSize ?? headerPageSize
        guard pageSize == headerPageSize, (512...65_536).contains(pageSize) else { return nil }
        let magicWord = word(bytes, 0, bigEndian: true)
        guard magicWord & ~1 == magic else { return nil }
        let bigEndian = magicWord & 1 == 1
        let frames = (bytes.count - headerSize) / (frameHeaderSize + pageSize)
        let salts = (word(bytes, 16, bigEndian: true), word(bytes, 20, bigEndian: true))
        var running: Checksum = (word(bytes, 24, bigEndian: true), word(bytes, 28, bigEndian: true))
        guard checksum(bytes, 0..<24, seed: (0, 0), bigEndian: bigEndian) == running else { return nil }
        // The frames SQLite reads: the chain from the header, up to its last commit frame.
        var readable = 0
        var frame = 0
        while frame < frames {
            let start = headerSize + frame * (frameHeaderSize + pageSize)
            let frameSalts = (word(bytes, start + 8, bigEndian: true), word(bytes, start + 12, bigEndian: true))
            let stored = (word(bytes, start + 16, bigEndian: true), word(bytes, start + 20, bigEndian: true))
            guard frameSalts == salts,
                frameChecksum(bytes, start: start, pageSize: pageSize, seed: running, bigEndian) == stored
            else { break }
            running = stored
            frame += 1
            if word(bytes, start + 4, bigEndian: true) != 0 { readable = frame }
        }
        guard readable < recorded else { return nil }
        return Truncation(recorded: recorded, readable: readable, frames: frames)
    }
}
