/// Finds damage in an SQLite write-ahead log (`recpool.sqlite-wal`) that SQLite itself would take for the end of the
/// log.
///
/// SQLite reads the log's frames in order and stops at the first whose salts or checksum do not match: that frame and
/// every frame after it are ignored, so one flipped bit in an early frame silently rolls the database back to the
/// commit before it, and one in the log's header ignores the whole log. Frames SQLite rightly ignores look the same at
/// that point: a crash in the middle of the last transaction (a torn frame, or frames written out of order), and the
/// frames a rolled-back transaction spilled into the log before a shorter one overwrote their start. What tells
/// damage apart is what follows: a **durable run**, frames with the log's salts that chain to one another (each
/// checksum seeded by the one stored in the frame before it) and hold a commit frame followed by at least one more
/// frame. With `synchronous = FULL` a transaction is written only after the commit before it was synced, so that
/// commit was durable, and everything SQLite would drop before it was damaged, never torn. Spilled frames hold no
/// commit; a torn last transaction has nothing after its commit. ``damage(in:databasePageSize:)`` reports exactly that
/// case; damage inside the last transaction cannot be told from a torn write, and is dropped as one.
///
/// The format is SQLite's ("The WAL File Format", https://www.sqlite.org/fileformat2.html#walformat): a 32-byte
/// header of big-endian 32-bit words (magic `0x377f0682` or `0x377f0683`, version, page size, checkpoint sequence,
/// salt-1, salt-2, checksum-1, checksum-2), then frames of a 24-byte header (page number, database size after a
/// commit or 0, salt-1, salt-2, checksum-1, checksum-2) and one page. Each checksum runs over the header's first 24
/// bytes, or a frame header's first 8 bytes and its page, seeded by the previous checksum, in 32-bit words of the byte
/// order the magic's low bit names (1: big-endian).
enum WriteAheadLog {
    /// Frames SQLite would stop at though a durable part of the log follows them.
    struct Damage: Equatable, Sendable {
        /// The first frame SQLite would drop, from 1; 0 when the log's header is damaged (SQLite ignores the log).
        var frame: Int
        /// The frames in the file.
        var frames: Int
        /// Commit frames with the log's salts that SQLite would drop.
        var commitsDropped: Int

        /// One line for ``StoreError/corruptDatabase(path:problems:)``.
        var description: String {
            let place = frame == 0 ? "its header is damaged" : "frame \(frame) of \(frames) is damaged"
            return "the write-ahead log is damaged: \(place), and committed frames after it continue the log, so "
                + "SQLite would drop them silently and roll the registry back by \(commitsDropped) "
                + "commit\(commitsDropped == 1 ? "" : "s"); restore the state directory from a backup "
                + "(docs/OPERATIONS.md), or move recpool.sqlite-wal and recpool.sqlite-shm aside to accept the rollback"
        }
    }

    /// A running checksum: the pair of 32-bit sums.
    typealias Checksum = (UInt32, UInt32)

    /// The size of the log's header and of a frame's header, bytes.
    static let headerSize = 32
    static let frameHeaderSize = 24
    /// The WAL magic without its byte-order bit.
    static let magic: UInt32 = 0x377f_0682

    /// The damage in a log's bytes, or `nil` when SQLite reads every frame the log meant to hold (a torn last
    /// transaction, frames a rolled-back transaction left, frames of an earlier log beyond the current one, and an
    /// empty or absent log are all fine).
    /// - Parameter databasePageSize: The database file's page size, used when the log's header names another or an
    ///   impossible one (a damaged header); nil to trust the header.
    static func damage(in bytes: [UInt8], databasePageSize: Int? = nil) -> Damage? {
        guard bytes.count >= headerSize else { return nil }
        let headerPageSize = Int(word(bytes, 8, bigEndian: true))
        let plausible = (512...65_536).contains(headerPageSize) && headerPageSize & (headerPageSize - 1) == 0
        guard let pageSize = databasePageSize ?? (plausible ? headerPageSize : nil) else { return nil }
        let frameSize = frameHeaderSize + pageSize
        let frames = (bytes.count - headerSize) / frameSize
        guard frames > 0 else { return nil }
        let log = Log(bytes: bytes, pageSize: pageSize, frames: frames)
        let magicWord = word(bytes, 0, bigEndian: true)
        // A damaged magic leaves the byte order unknown: either one holding a durable run is damage.
        let orders: [Bool] = magicWord & ~1 == magic ? [magicWord & 1 == 1] : [true, false]
        for bigEndian in orders {
            let stored: Checksum = (word(bytes, 24, bigEndian: true), word(bytes, 28, bigEndian: true))
            let computed = checksum(bytes, 0..<24, seed: (0, 0), bigEndian: bigEndian)
            let headerIntact = magicWord & ~1 == magic && computed == stored && headerPageSize == pageSize
            // With a damaged header its salts may be the damage: the frames' are the log's then, frame 0's or those
            // most frames carry (a zeroed first disk block takes the header and the first frame's header with it:
            // frame 0's salts read (0, 0), no frame matched them, and the log was taken for undamaged).
            let candidates: [(UInt32, UInt32)] =
                headerIntact
                ? [(word(bytes, 16, bigEndian: true), word(bytes, 20, bigEndian: true))]
                : [log.salts(of: 0)] + (log.commonSalts() == log.salts(of: 0) ? [] : [log.commonSalts()])
            for salts in candidates {
                // Where SQLite stops: at the first frame that does not chain (every frame, with a damaged header).
                var stop = 0
                var running = stored
                if headerIntact {
                    while stop < frames, log.verifies(stop, salts: salts, seed: running, bigEndian) {
                        running = log.stored(stop)
                        stop += 1
                    }
                }
                guard stop < frames else { return nil }
                // A durable run anywhere after it: a frame that chains from the stored checksum before it (the
                // header's, or the header's recomputed, for frame 0), and its successors.
                var first = headerIntact ? stop + 1 : 0
                while first < frames {
                    let seeds: [Checksum] = first == 0 ? [stored, computed] : [log.stored(first - 1)]
                    guard seeds.contains(where: { log.verifies(first, salts: salts, seed: $0, bigEndian) }) else {
                        first += 1
                        continue
                    }
                    var last = first
                    while last + 1 < frames, log.verifies(last + 1, salts: salts, seed: log.stored(last), bigEndian) {
                        last += 1
                    }
                    // A commit with a frame after it in the run: a later transaction was written, so it was durable.
                    if (first..<last).contains(where: log.isCommit) {
                        let dropped = (stop..<frames).filter { log.salts(of: $0) == salts && log.isCommit($0) }.count
                        return Damage(frame: headerIntact ? stop + 1 : 0, frames: frames, commitsDropped: dropped)
                    }
                    first = last + 1
                }
            }
        }
        return nil
    }

    /// The page size a database file's header gives (bytes 16–17, big-endian; 1 means 65,536; "Database File
    /// Format", https://www.sqlite.org/fileformat2.html#database_header), or nil for a header too short or a size
    /// SQLite never writes.
    static func databasePageSize(header: [UInt8]) -> Int? {
        guard header.count >= 100 else { return nil }
        let size = Int(header[16]) << 8 | Int(header[17])
        if size == 1 { return 65_536 }
        return size >= 512 && size & (size - 1) == 0 ? size : nil
    }

    /// A log's frames, read in place.
    struct Log {
        let bytes: [UInt8]
        let pageSize: Int
        let frames: Int

        func start(_ frame: Int) -> Int { headerSize + frame * (frameHeaderSize + pageSize) }
        /// The salts most frames carry (the current generation's), frame 0's on a tie.
        func commonSalts() -> (UInt32, UInt32) {
            var counts: [UInt64: Int] = [:]
            var best = salts(of: 0)
            var bestCount = 0
            for frame in 0..<frames {
                let (a, b) = salts(of: frame)
                let count = counts[UInt64(a) << 32 | UInt64(b), default: 0] + 1
                counts[UInt64(a) << 32 | UInt64(b)] = count
                if count > bestCount { (best, bestCount) = ((a, b), count) }
            }
            return best
        }

        func salts(of frame: Int) -> (UInt32, UInt32) {
            (word(bytes, start(frame) + 8, bigEndian: true), word(bytes, start(frame) + 12, bigEndian: true))
        }
        func stored(_ frame: Int) -> Checksum {
            (word(bytes, start(frame) + 16, bigEndian: true), word(bytes, start(frame) + 20, bigEndian: true))
        }
        func isCommit(_ frame: Int) -> Bool { word(bytes, start(frame) + 4, bigEndian: true) != 0 }
        /// Whether `frame` has `salts` and the checksum `seed` leads to.
        func verifies(_ frame: Int, salts: (UInt32, UInt32), seed: Checksum, _ bigEndian: Bool) -> Bool {
            self.salts(of: frame) == salts
                && frameChecksum(bytes, start: start(frame), pageSize: pageSize, seed: seed, bigEndian) == stored(frame)
        }
    }

    /// A frame's checksum: its header's first 8 bytes, then its page.
    static func frameChecksum(
        _ bytes: [UInt8], start: Int, pageSize: Int, seed: Checksum, _ bigEndian: Bool
    ) -> Checksum {
        let header = checksum(bytes, start..<(start + 8), seed: seed, bigEndian: bigEndian)
        let body = start + frameHeaderSize
        return checksum(bytes, body..<(body + pageSize), seed: header, bigEndian: bigEndian)
    }

    /// SQLite's WAL checksum over `range` (a multiple of 8 bytes): for each pair of words `x0, x1`,
    /// `s0 += x0 + s1; s1 += x1 + s0`, wrapping.
    static func checksum(_ bytes: [UInt8], _ range: Range<Int>, seed: Checksum, bigEndian: Bool) -> Checksum {
        var (s0, s1) = seed
        var offset = range.lowerBound
        while offset + 8 <= range.upperBound {
            s0 = s0 &+ word(bytes, offset, bigEndian: bigEndian) &+ s1
            s1 = s1 &+ word(bytes, offset + 4, bigEndian: bigEndian) &+ s0
            offset += 8
        }
        return (s0, s1)
    }

    /// The 32-bit word at `offset`.
    static func word(_ bytes: [UInt8], _ offset: Int, bigEndian: Bool) -> UInt32 {
        let (b0, b1, b2, b3) = (
            UInt32(bytes[offset]), UInt32(bytes[offset + 1]), UInt32(bytes[offset + 2]), UInt32(bytes[offset + 3])
        )
        return bigEndian ? b0 << 24 | b1 << 16 | b2 << 8 | b3 : b3 << 24 | b2 << 16 | b1 << 8 | b0
    }
}
