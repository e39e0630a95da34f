/// Finds damage in an SQLite write-ahead log (`recpool.sqlite-wal`) that SQLite itself would take for the end of the
/// log.
///
/// SQLite reads the log's frames in order and stops at the first whose salts or checksum do not match: that frame and
/// every frame after it are ignored, so one flipped bit in an early frame silently rolls the database back to the
/// commit before it, and one in the log's header ignores the whole log. A crash in the middle of a write (a torn last
/// frame) looks the same to SQLite, and there dropping the frame is right. The two differ in what follows: a torn
/// write is the last frame with the log's salts, while a damaged frame is followed by a frame that continues the
/// checksum chain from it. ``damage(in:)`` reports exactly that case.
///
/// The format is SQLite's ("The WAL File Format", https://www.sqlite.org/fileformat2.html#walformat): a 32-byte
/// header of big-endian 32-bit words (magic `0x377f0682` or `0x377f0683`, version, page size, checkpoint sequence,
/// salt-1, salt-2, checksum-1, checksum-2), then frames of a 24-byte header (page number, database size after a
/// commit or 0, salt-1, salt-2, checksum-1, checksum-2) and one page. Each checksum runs over the header's first 24
/// bytes, or a frame header's first 8 bytes and its page, seeded by the previous checksum, in 32-bit words of the byte
/// order the magic's low bit names (1: big-endian).
enum WriteAheadLog {
    /// A frame SQLite would stop at though the log goes on after it.
    struct Damage: Equatable, Sendable {
        /// The damaged frame, from 1; 0 is the log's header.
        var frame: Int
        /// The frames in the file.
        var frames: Int
        /// Commits after the damage that SQLite would drop.
        var commitsDropped: Int

        /// One line for ``StoreError/corruptDatabase(path:problems:)``.
        var description: String {
            let place = frame == 0 ? "its header is damaged" : "frame \(frame) of \(frames) is damaged"
            return "the write-ahead log is damaged: \(place), and the frames after it continue the log, so SQLite "
                + "would drop them silently and roll the registry back by \(commitsDropped) "
                + "commit\(commitsDropped == 1 ? "" : "s"); restore the state directory from a backup "
                + "(docs/OPERATIONS.md), or move recpool.sqlite-wal aside to accept the rollback"
        }
    }

    /// A running checksum: the pair of 32-bit sums.
    typealias Checksum = (UInt32, UInt32)

    /// The size of the log's header and of a frame's header, bytes.
    static let headerSize = 32
    static let frameHeaderSize = 24

    /// The damage in a log's bytes, or `nil` when SQLite reads every frame the log meant to hold (a torn last frame,
    /// frames of an earlier log beyond the current one, and an empty or absent log are all fine).
    static func damage(in bytes: [UInt8]) -> Damage? {
        guard bytes.count >= headerSize else { return nil }
        let magic = word(bytes, 0, bigEndian: true)
        let pageSize = Int(word(bytes, 8, bigEndian: true))
        guard (512...65_536).contains(pageSize), pageSize & (pageSize - 1) == 0 else { return nil }
        let frameSize = frameHeaderSize + pageSize
        let frames = (bytes.count - headerSize) / frameSize
        guard frames > 0 else { return nil }
        let salts = (word(bytes, 16, bigEndian: true), word(bytes, 20, bigEndian: true))
        let stored: Checksum = (word(bytes, 24, bigEndian: true), word(bytes, 28, bigEndian: true))
        // A damaged magic leaves the byte order unknown: either one continuing the log is damage.
        let orders: [Bool] = magic & ~1 == 0x377f_0682 ? [magic & 1 == 1] : [true, false]
        for bigEndian in orders {
            let computed = checksum(bytes, 0..<24, seed: (0, 0), bigEndian: bigEndian)
            let headerIntact = magic & ~1 == 0x377f_0682 && computed == stored
            if !headerIntact {
                // SQLite ignores the whole log; it was meant to be read if its first frame continues from the header.
                if continues(bytes, frame: 0, frameSize: frameSize, salts: salts, seeds: [stored, computed], bigEndian) {
                    return Damage(frame: 0, frames: frames, commitsDropped: commits(bytes, from: 0, frames, frameSize))
                }
                continue
            }
            var running = stored
            for frame in 0..<frames {
                let start = headerSize + frame * frameSize
                let frameSalts = (word(bytes, start + 8, bigEndian: true), word(bytes, start + 12, bigEndian: true))
                let frameStored: Checksum = (
                    word(bytes, start + 16, bigEndian: true), word(bytes, start + 20, bigEndian: true)
                )
                let frameComputed = frameChecksum(bytes, start: start, pageSize: pageSize, seed: running, bigEndian)
                if frameSalts == salts && frameComputed == frameStored {
                    running = frameStored
                    continue
                }
                // The first frame SQLite stops at: damage if the next one continues the chain from it.
                guard frame + 1 < frames,
                    continues(
                        bytes, frame: frame + 1, frameSize: frameSize, salts: salts,
                        seeds: [frameStored, frameComputed], bigEndian)
                else { return nil }
                return Damage(
                    frame: frame + 1, frames: frames, commitsDropped: commits(bytes, from: frame, frames, frameSize))
            }
            return nil
        }
        return nil
    }

    /// Whether frame `frame` (from 0) has the log's salts and a checksum that one of `seeds` leads to.
    private static func continues(
        _ bytes: [UInt8], frame: Int, frameSize: Int, salts: (UInt32, UInt32), seeds: [Checksum], _ bigEndian: Bool
    ) -> Bool {
        let start = headerSize + frame * frameSize
        guard (word(bytes, start + 8, bigEndian: true), word(bytes, start + 12, bigEndian: true)) == salts else {
            return false
        }
        let stored: Checksum = (word(bytes, start + 16, bigEndian: true), word(bytes, start + 20, bigEndian: true))
        return seeds.contains {
            frameChecksum(bytes, start: start, pageSize: frameSize - frameHeaderSize, seed: $0, bigEndian) == stored
        }
    }

    /// The commit frames (a non-zero database size) among frames `from..<frames`.
    private static func commits(_ bytes: [UInt8], from: Int, _ frames: Int, _ frameSize: Int) -> Int {
        (from..<frames).filter { word(bytes, headerSize + $0 * frameSize + 4, bigEndian: true) != 0 }.count
    }

    /// A frame's checksum: its header's first 8 bytes, then its page.
    private static func frameChecksum(
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
