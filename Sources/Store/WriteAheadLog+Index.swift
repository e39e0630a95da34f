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
        /// The committed frames SQLite can read from the log (up to its last readable commit frame); 0 when it reads
        /// none (the log is missing, empty, or its header does not verify).
        var readable: Int
        /// The whole frames in the file (0 when it is missing).
        var frames: Int
        /// The frames the index records as copied into the database file (`nBackfill`).
        var backfilled: Int
        /// The frames from the first that verify, in a chain (their salts and checksums): ``readable`` and any after it
        /// that verify but that no commit frame follows. Equal to ``frames`` when every whole frame in the file
        /// verifies, so the file was cut short, within a transaction or at its end, not damaged in place.
        var verified = 0
        /// Whether the log file does not exist (its index still records commits not copied into the database).
        var missing = false
        /// Whether the log is not the one the index describes: it holds no frame of the index's salts and no header
        /// SQLite accepts (overwritten whole, with zeros or garbage). Opened, SQLite would read none of it and drop
        /// the commits the index records.
        var foreign = false

        /// One line for ``StoreError/corruptDatabase(path:problems:)``.
        var description: String {
            if foreign {
                return "the write-ahead log is not the one its index (recpool.sqlite-shm) describes: the index records "
                    + "\(recorded) committed frames, \(backfilled) of them copied into recpool.sqlite, and the log has no "
                    + "header SQLite accepts and no frame of the index's salts (overwritten whole, with zeros or garbage), "
                    + "so SQLite would read none of it and roll the registry back; restore the state directory from a "
                    + "backup (docs/OPERATIONS.md), or move recpool.sqlite-wal and recpool.sqlite-shm aside to accept the "
                    + "rollback to what recpool.sqlite holds"
            }
            let read =
                readable == 0
                ? "SQLite can read none of the log (\(missing ? "recpool.sqlite-wal is missing" : "it is empty or its header does not verify")), and the index "
                    + "records only \(backfilled) of them as copied into recpool.sqlite"
                : verified < frames
                    ? "SQLite can read only the first \(readable) (the file holds \(frames) whole frames, but frame "
                        + "\(verified + 1) does not verify: damaged in place or overwritten)"
                    : frames > readable
                        ? "SQLite can read only the first \(readable) (the file holds \(frames) whole frames, each of which "
                            + "verifies, but none after frame \(readable) ends a transaction: the log was cut short within "
                            + "one)"
                        : "SQLite can read only the first \(readable) (the file holds only \(frames) whole frames: the log was "
                            + "cut short)"
            let accept =
                readable == 0
                ? "move recpool.sqlite-shm aside to accept the rollback to what recpool.sqlite holds"
                : "move recpool.sqlite-shm aside to accept the rollback to the log's first \(readable) frames"
            return "the write-ahead log is damaged: its index (recpool.sqlite-shm) records \(recorded) committed frames, "
                + "and \(read), so it would drop the later commits silently and roll the registry back; restore the state "
                + "directory from a backup (docs/OPERATIONS.md), or \(accept)"
        }
    }

    /// The size of one copy of the wal-index header, bytes.
    static let indexHeaderSize = 48
    /// The bytes of the index read: both header copies and `nBackfill`.
    static let indexPrefixSize = 2 * 48 + 4
    /// The wal-index format version SQLite writes (`WALINDEX_MAX_VERSION`).
    static let indexVersion: UInt32 = 3_007_000

    /// The truncation of a log whose index says it held more committed frames, or nil: when the index is absent,
    /// short, of another format, not initialised, or its two header copies differ (a writer was changing it), and
    /// whenever SQLite can read every frame the index records. A log overwritten whole (no header SQLite accepts, no
    /// frame of the index's salts) while the index records frames not yet copied is a truncation too
    /// (``Truncation/foreign``); a log of other salts whose header verifies is not judged (another generation).
    ///
    /// The index header is SQLite's `WalIndexHdr` ("Write-Ahead Log File Format", https://www.sqlite.org/walformat.html),
    /// written twice at the start of the `-shm` file in the host's byte order: `iVersion` (u32), padding, `iChange`,
    /// `isInit` (u8), `bigEndCksum` (u8), `szPage` (u16), `mxFrame` (u32, byte 16), `nPage`, `aFrameCksum[2]`,
    /// `aSalt[2]` (bytes 32–39, the log header's salt bytes as written), `aCksum[2]`.
    static func truncation(log bytes: [UInt8]?, index: [UInt8], databasePageSize: Int? = nil) -> Truncation? {
        guard index.count >= indexPrefixSize else { return nil }
        guard index[0..<indexHeaderSize].elementsEqual(index[indexHeaderSize..<(2 * indexHeaderSize)]) else { return nil }
        guard word(index, 0, bigEndian: false) == indexVersion, index[12] == 1 else { return nil }
        let recorded = Int(word(index, 16, bigEndian: false))
        guard recorded > 0 else { return nil }
        // `nBackfill`, the first word after the two header copies: the frames already copied into the database.
        let backfilled = Int(word(index, 2 * indexHeaderSize, bigEndian: false))
        // No log SQLite can read from: the database holds the backfilled frames, and loses the rest.
        func unreadable(frames: Int) -> Truncation? {
            backfilled < recorded
                ? Truncation(recorded: recorded, readable: 0, frames: frames, backfilled: backfilled) : nil
        }
        guard let bytes else {
            var cut = unreadable(frames: 0)
            cut?.missing = true
            return cut
        }
        guard bytes.count >= headerSize else { return unreadable(frames: 0) }
        let headerPageSize = Int(word(bytes, 8, bigEndian: true))
        let pageSize = databasePageSize ?? headerPageSize
        let magicWord = word(bytes, 0, bigEndian: true)
        let bigEndian = magicWord & 1 == 1
        var running: Checksum = (word(bytes, 24, bigEndian: true), word(bytes, 28, bigEndian: true))
        let headerValid =
            pageSize == headerPageSize && (512...65_536).contains(pageSize) && magicWord & ~1 == magic
            && checksum(bytes, 0..<24, seed: (0, 0), bigEndian: bigEndian) == running
        guard headerValid else {
            // A header SQLite does not accept makes it ignore the whole log. Whether the log is the generation the
            // index describes is read from its frames' salts then (a zeroed first block takes the header's).
            guard let pageSize = databasePageSize, (512...65_536).contains(pageSize) else { return unreadable(frames: 0) }
            let frames = (bytes.count - headerSize) / (frameHeaderSize + pageSize)
            let log = Log(bytes: bytes, pageSize: pageSize, frames: frames)
            let indexSalts = (word(index, 32, bigEndian: true), word(index, 36, bigEndian: true))
            let ours = (0..<frames).contains { log.salts(of: $0) == indexSalts }
            if ours || frames == 0 { return unreadable(frames: frames) }
            // Frames of no salts the index knows, under a header SQLite does not accept: garbage or zeros over the
            // whole log (SQLite restarts a log only once every frame is copied, after resetting the index).
            guard var cut = unreadable(frames: frames) else { return nil }
            cut.foreign = true
            return cut
        }
        // Another generation of the log (its salts changed when it restarted) is not the one the index describes.
        // Not refused: the index is never synced, and after a power loss it may be older than the log (SQLite itself
        // discards it and rebuilds it from the log), so an index of old salts beside a log of new ones is a state a
        // genuine crash leaves, with every acknowledged commit in the log.
        guard index[32..<40].elementsEqual(bytes[16..<24]) else { return nil }
        let frames = (bytes.count - headerSize) / (frameHeaderSize + pageSize)
        let log = Log(bytes: bytes, pageSize: pageSize, frames: frames)
        let salts = (word(bytes, 16, bigEndian: true), word(bytes, 20, bigEndian: true))
        // The frames SQLite reads: the chain from the header, up to its last commit frame.
        var readable = 0
        var frame = 0
        while frame < frames, log.verifies(frame, salts: salts, seed: running, bigEndian) {
            running = log.stored(frame)
            if log.isCommit(frame) { readable = frame + 1 }
            frame += 1
        }
        guard readable < recorded else { return nil }
        // No frame read: SQLite reads the database alone, which holds the backfilled frames.
        if readable == 0 { return unreadable(frames: frames) }
        return Truncation(recorded: recorded, readable: readable, frames: frames, backfilled: backfilled, verified: frame)
    }
}
