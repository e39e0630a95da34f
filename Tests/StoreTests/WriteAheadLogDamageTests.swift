import Foundation
import GRDB
import Testing

@testable import RecStore
import RecTestKit

/// A damaged frame in the middle of `recpool.sqlite-wal` is refused at open: SQLite stops reading the log at the first
/// frame whose checksum fails, so the registry would silently roll back to the commit before it.
@Suite("A damaged write-ahead log is refused, never read as a shorter history")
struct WriteAheadLogDamageTests {
    /// A state directory as a crash leaves it: `models` versions registered one commit each, and the database and its
    /// write-ahead log copied while the store is still open (nothing checkpointed). Returns the copy's folder.
    static func crashedState(_ temporary: TemporaryDirectory, models: Int, withIndex: Bool = false) throws -> String {
        let live = temporary.file("live").path
        let copy = temporary.file("copy").path
        let store = try RecStore(directory: live)
        let checkpoint = try store.blobs.put(Array("a checkpoint".utf8))
        for index in 0..<models {
            _ = try store.registerModel(
                job: "job-\(index)", datasetSHA: "d", hyperparameters: "{}", metrics: "{}", checkpointSHA: checkpoint)
        }
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: live + "/blobs", toPath: copy + "/blobs")
        for name in ["recpool.sqlite", "recpool.sqlite-wal"] + (withIndex ? ["recpool.sqlite-shm"] : []) {
            try FileManager.default.copyItem(atPath: live + "/" + name, toPath: copy + "/" + name)
        }
        withExtendedLifetime(store) {}
        return copy
    }

    /// The log's frames: its page size and frame count.
    static func layout(_ wal: [UInt8]) -> (pageSize: Int, frames: Int) {
        let pageSize = Int(WriteAheadLog.word(wal, 8, bigEndian: true))
        return (pageSize, (wal.count - 32) / (24 + pageSize))
    }

    static func edit(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test("the copy opens with every version when the log is intact")
    func intact() throws {
        let temporary = try TemporaryDirectory("wal-intact")
        defer { temporary.remove() }
        let copy = try Self.crashedState(temporary, models: 6)
        let wal = Array(try Data(contentsOf: URL(fileURLWithPath: copy + "/recpool.sqlite-wal")))
        #expect(Self.layout(wal).frames >= 6)
        #expect(WriteAheadLog.damage(in: wal) == nil)
        #expect(try RecStore(directory: copy).models().count == 6)
    }

    @Test(
        "one flipped bit in a frame's page, its header or the log's header is corruptDatabase naming the log and frame",
        arguments: ["page", "frame header", "log header"])
    func flippedBit(_ place: String) throws {
        let temporary = try TemporaryDirectory("wal-flip")
        defer { temporary.remove() }
        let copy = try Self.crashedState(temporary, models: 6)
        let log = copy + "/recpool.sqlite-wal"
        var frame = 0
        try Self.edit(log) { bytes in
            let (pageSize, frames) = Self.layout(bytes)
            frame = place == "log header" ? 0 : frames / 2
            let start = 32 + (frame - 1) * (24 + pageSize)
            switch place {
            case "page": bytes[start + 24 + pageSize / 2] ^= 0x10
            case "frame header": bytes[start + 3] ^= 0x01  // the page number
            default: bytes[12] ^= 0x01  // the checkpoint sequence, inside the header's checksum
            }
        }
        #expect {
            _ = try RecStore(directory: copy)
        } throws: { error in
            guard case .corruptDatabase(let path, let problems) = error as? StoreError else { return false }
            let says = frame == 0 ? "its header is damaged" : "frame \(frame) of"
            // Named as the log it is, not "the database …-wal".
            let text = (error as? StoreError)?.description ?? ""
            return path == log && problems.joined().contains(says) && problems.joined().contains("roll the registry back")
                && text.hasPrefix("the database's write-ahead log \(log) is corrupt")
        }
        // Refused without opening: the log is still there for a backup or a look.
        #expect(FileManager.default.fileExists(atPath: log))
    }

    /// A zeroed first disk block (4 KiB: the log's header and the first frame's header with it) was taken for an
    /// intact log: frame 0's salts read (0, 0), no frame matched them, and the broker started on a registry rolled
    /// back by every commit in the log, then numbered new versions over the lost ones.
    @Test("a zeroed first 4 KiB of the log, headers and all, is corruptDatabase, not a registry rolled back")
    func zeroedFirstBlock() throws {
        let temporary = try TemporaryDirectory("wal-zero-block")
        defer { temporary.remove() }
        let copy = try Self.crashedState(temporary, models: 6)
        let log = copy + "/recpool.sqlite-wal"
        try Self.edit(log) { bytes in
            for index in 0..<min(4096, bytes.count) { bytes[index] = 0 }
        }
        #expect {
            _ = try RecStore(directory: copy)
        } throws: { error in
            guard case .corruptDatabase(let path, let problems) = error as? StoreError else { return false }
            return path == log && problems.joined().contains("roll the registry back")
        }
        #expect(FileManager.default.fileExists(atPath: log))
    }

    @Test("a torn last frame (a crash mid-write) opens, as SQLite recovers it: only the unfinished commit is gone")
    func tornLastFrame() throws {
        let temporary = try TemporaryDirectory("wal-torn")
        defer { temporary.remove() }
        let copy = try Self.crashedState(temporary, models: 6)
        try Self.edit(copy + "/recpool.sqlite-wal") { bytes in
            let (pageSize, _) = Self.layout(bytes)
            // The last frame half written: its page's second half is zeros.
            for index in (bytes.count - pageSize / 2)..<bytes.count { bytes[index] = 0 }
        }
        let models = try RecStore(directory: copy).models()
        #expect(models.count == 5)
        #expect(models.map(\.version) == [1, 2, 3, 4, 5])
    }

    /// A log cut short shows no damage in itself: a broker started on a copy whose `recpool.sqlite-wal` was truncated
    /// (at a frame boundary, or inside a frame) lost its last versions silently and gave version 6 again to another
    /// checkpoint. The index a crash leaves beside it (`recpool.sqlite-shm`) records the last committed frame.
    @Test("a log cut short of the committed frames its index records is corruptDatabase; intact, or with no index, it opens",
        arguments: ["whole frames", "inside a frame", "to nothing", "deleted"])
    func truncatedBelowItsIndex(_ cut: String) throws {
        let temporary = try TemporaryDirectory("wal-cut")
        defer { temporary.remove() }
        let intact = try Self.crashedState(temporary, models: 6, withIndex: true)
        let copy = temporary.file("cut").path
        try FileManager.default.copyItem(atPath: intact, toPath: copy)
        let log = copy + "/recpool.sqlite-wal"
        switch cut {
        case "deleted":
            try FileManager.default.removeItem(atPath: log)
        case "to nothing":
            try Data().write(to: URL(fileURLWithPath: log))
        default:
            try Self.edit(log) { bytes in
                let (pageSize, frames) = Self.layout(bytes)
                let keep = frames / 2
                bytes.removeLast(
                    bytes.count - (32 + keep * (24 + pageSize)) - (cut == "whole frames" ? 0 : 24 + pageSize / 2))
            }
        }
        #expect {
            _ = try RecStore(directory: copy)
        } throws: { error in
            guard case .corruptDatabase(let path, let problems) = error as? StoreError else { return false }
            let named = log  // a deleted log is named itself, not its intact index
            let says = ["whole frames", "inside a frame"].contains(cut) ? "SQLite can read only the first" : "can read none of the log"
            return path == named && problems.joined().contains("its index (recpool.sqlite-shm) records")
                && problems.joined().contains("roll the registry back") && problems.joined().contains(says)
        }
        // The intact copy, index and all, opens with every version; the cut one opens once the index is moved aside
        // (the rollback the message offers), with fewer.
        #expect(try RecStore(directory: intact).models().count == 6)
        try FileManager.default.removeItem(atPath: copy + "/recpool.sqlite-shm")
        if ["whole frames", "inside a frame"].contains(cut) {
            #expect(try RecStore(directory: copy).models().count < 6)
        } else {
            // Every commit was in the log: what is left is an empty registry beside stored blobs, refused as lost.
            #expect(throws: StoreError.self) { _ = try RecStore(directory: copy) }
        }
    }

    @Test("a rolled-back transaction's spilled frames left behind a shorter commit open as the intact log they are")
    func rolledBackSpill() throws {
        let temporary = try TemporaryDirectory("wal-spill")
        defer { temporary.remove() }
        let live = temporary.file("live").path
        let copy = temporary.file("copy").path
        withExtendedLifetime(try RecStore(directory: live)) {}
        // The store's own database, written by SQLite with a tiny page cache: a large transaction spills pages into
        // the log before it rolls back, and a small one then commits over the start of those frames.
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = 5") }
        let queue = try DatabaseQueue(path: live + "/recpool.sqlite", configuration: configuration)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE filler (payload TEXT)")
            try db.execute(sql: "BEGIN")
            for _ in 0..<400 { try db.execute(sql: "INSERT INTO filler VALUES (?)", arguments: [String(repeating: "x", count: 2048)]) }
            try db.execute(sql: "ROLLBACK")
            try db.execute(sql: "INSERT INTO filler VALUES ('kept')")
        }
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: live + "/blobs", toPath: copy + "/blobs")
        for name in ["recpool.sqlite", "recpool.sqlite-wal"] {
            try FileManager.default.copyItem(atPath: live + "/" + name, toPath: copy + "/" + name)
        }
        withExtendedLifetime(queue) {}
        let wal = Array(try Data(contentsOf: URL(fileURLWithPath: copy + "/recpool.sqlite-wal")))
        // The spill left many more frames than SQLite reads.
        #expect(Self.layout(wal).frames > 20)
        #expect(WriteAheadLog.damage(in: wal) == nil)
        _ = try RecStore(directory: copy)
        let kept = try DatabaseQueue(path: copy + "/recpool.sqlite").read { db in
            try String.fetchAll(db, sql: "SELECT payload FROM filler")
        }
        #expect(kept == ["kept"])
    }

    /// A log written as SQLite writes one (big-endian checksums, 512-byte pages), so each case below is exactly the
    /// frames it names. `frames(_:from:)` chains frames from a seed; a case splices such chains as a crash leaves them.
    struct Synthetic {
        static let salts: (UInt32, UInt32) = (0x0102_0304, 0x0A0B_0C0D)
        static let pageSize = 512

        static func be(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }

        static func header() -> [UInt8] {
            var bytes = be(0x377f_0683) + be(3_007_000) + be(UInt32(pageSize)) + be(0) + be(salts.0) + be(salts.1)
            let sum = WriteAheadLog.checksum(bytes, 0..<24, seed: (0, 0), bigEndian: true)
            bytes += be(sum.0) + be(sum.1)
            return bytes
        }

        static var headerChecksum: WriteAheadLog.Checksum {
            let bytes = header()
            return (WriteAheadLog.word(bytes, 24, bigEndian: true), WriteAheadLog.word(bytes, 28, bigEndian: true))
        }

        /// Frames for `commits` (true: a commit frame), each page filled with `fill` + its index, chained from `seed`.
        static func frames(_ commits: [Bool], from seed: WriteAheadLog.Checksum, fill: UInt8 = 1) -> [[UInt8]] {
            var running = seed
            var out: [[UInt8]] = []
            for (index, commit) in commits.enumerated() {
                var frame = be(UInt32(index + 2)) + be(commit ? 10 : 0) + be(salts.0) + be(salts.1) + be(0) + be(0)
                frame += [UInt8](repeating: fill &+ UInt8(index), count: pageSize)
                running = WriteAheadLog.frameChecksum(frame, start: 0, pageSize: pageSize, seed: running, true)
                frame.replaceSubrange(16..<24, with: be(running.0) + be(running.1))
                out.append(frame)
            }
            return out
        }

        static func stored(_ frame: [UInt8]) -> WriteAheadLog.Checksum {
            (WriteAheadLog.word(frame, 16, bigEndian: true), WriteAheadLog.word(frame, 20, bigEndian: true))
        }
    }

    @Test("the rule on logs made frame by frame: damage is a drop followed by a durable run, nothing else")
    func synthetic() {
        typealias S = Synthetic
        let six = S.frames([false, true, false, true, false, true], from: S.headerChecksum)
        let log = S.header() + six.flatMap { $0 }
        #expect(WriteAheadLog.damage(in: log) == nil)
        // A bit flipped in frame 2's page: SQLite stops there; frames 3–6 chain and commit twice, with a frame after
        // the first commit: damage, and three commits (frames 2, 4 and 6) would be dropped.
        var flipped = six
        flipped[1][24 + 100] ^= 0x04
        #expect(
            WriteAheadLog.damage(in: S.header() + flipped.flatMap { $0 })
                == WriteAheadLog.Damage(frame: 2, frames: 6, commitsDropped: 3))
        // Two frames' pages zeroed (a 4 KiB block across them): the run after them still shows the damage.
        var zeroed = six
        for f in [1, 2] { zeroed[f].replaceSubrange(24..., with: [UInt8](repeating: 0, count: S.pageSize)) }
        #expect(WriteAheadLog.damage(in: S.header() + zeroed.flatMap { $0 })?.frame == 2)
        // A rolled-back transaction's spilled frames, their start overwritten by a shorter committed one: they chain
        // among themselves but hold no commit. SQLite ignores them rightly.
        let committed = S.frames([false, true], from: S.headerChecksum)
        let spill = S.frames([false, false, false, false, false], from: S.stored(committed[1]), fill: 90)
        let shorter = S.frames([true], from: S.stored(committed[1]), fill: 50)
        let leftover = S.header() + (committed + shorter + spill.dropFirst()).flatMap { $0 }
        #expect(WriteAheadLog.damage(in: leftover) == nil)
        // The last transaction torn out of order (its first frame's page half written, its commit frame written):
        // nothing follows its commit, so it is a torn write, not damage.
        var torn = S.frames([false, true, false, false, true], from: S.headerChecksum)
        torn[2].replaceSubrange((24 + S.pageSize / 2)..., with: [UInt8](repeating: 0, count: S.pageSize / 2))
        #expect(WriteAheadLog.damage(in: S.header() + torn.flatMap { $0 }) == nil)
        // A flipped bit in the header's salt: SQLite ignores the whole log; the frames' own salts show the damage.
        var salt = log
        salt[17] ^= 0x01
        #expect(WriteAheadLog.damage(in: salt)?.frame == 0)
        // A damaged page size: read with the database's own.
        var size = log
        size[10] ^= 0x04
        #expect(WriteAheadLog.damage(in: size, databasePageSize: S.pageSize)?.frame == 0)
    }

    /// The index a crash leaves: both header copies with `mxFrame` `recorded` and the log's salts, then `nBackfill`.
    static func index(recorded: UInt32, backfilled: UInt32, salts: [UInt8]) -> [UInt8] {
        func le(_ value: UInt32) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)] }
        var header = le(3_007_000) + le(0) + le(1) + [1, 0] + [0, 2] + le(recorded) + le(0) + le(0) + le(0)
        header += salts + le(0) + le(0)
        return header + header + le(backfilled)
    }

    @Test("the index rule on logs made frame by frame: a log SQLite reads short of the recorded commit, or not at all")
    func indexRule() {
        let log = Synthetic.header() + Synthetic.frames([false, false, true], from: Synthetic.headerChecksum).flatMap { $0 }
        let salts = Array(log[16..<24])
        // The whole commit is readable: nothing to refuse; a recorded frame past it is a cut.
        #expect(WriteAheadLog.truncation(log: log, index: Self.index(recorded: 3, backfilled: 0, salts: salts)) == nil)
        let short = WriteAheadLog.truncation(log: log, index: Self.index(recorded: 5, backfilled: 0, salts: salts))
        #expect(short?.readable == 3)
        #expect(short?.description.contains("holds only 3 whole frames: the log was cut short") == true, "\(String(describing: short))")
        // A frame of the last recorded commit damaged in place (a helper flipped a byte of frame 3 of 3): the file
        // holds every frame, so "cut short" was untrue; its next frame does not verify.
        var damaged = Synthetic.header() + Synthetic.frames([true, false, true], from: Synthetic.headerChecksum).flatMap { $0 }
        damaged[32 + 2 * (24 + Synthetic.pageSize) + 24 + 10] ^= 0xFF
        let flipped = WriteAheadLog.truncation(
            log: damaged, index: Self.index(recorded: 3, backfilled: 0, salts: Array(damaged[16..<24])))
        #expect(flipped?.readable == 1 && flipped?.frames == 3, "\(String(describing: flipped))")
        #expect(flipped?.description.contains("but frame 3 does not verify: damaged in place") == true)
        // Cut at a frame boundary inside a transaction: every whole frame verifies, none after frame 1 commits. A
        // helper's log cut to 24 of 66 frames was said to be "damaged in place" when every frame was intact.
        let open = Synthetic.header() + Synthetic.frames([true, false, false], from: Synthetic.headerChecksum).flatMap { $0 }
        let within = WriteAheadLog.truncation(
            log: open, index: Self.index(recorded: 4, backfilled: 0, salts: Array(open[16..<24])))
        #expect(within?.readable == 1 && within?.verified == 3 && within?.frames == 3, "\(String(describing: within))")
        #expect(within?.description.contains("none after frame 1 ends a transaction: the log was cut short") == true)
        // Another generation of the log (other salts, a header that verifies) is not judged by the index: the index
        // is never synced, and after a power loss it may be older than the log, whose commits are all there (SQLite
        // rebuilds the index from it). Refusing it failed a genuine crash's state.
        let other: [UInt8] = [9, 9, 9, 9, 9, 9, 9, 9]
        #expect(WriteAheadLog.truncation(log: log, index: Self.index(recorded: 5, backfilled: 2, salts: other)) == nil)
        #expect(WriteAheadLog.truncation(log: log, index: Self.index(recorded: 5, backfilled: 5, salts: other)) == nil)
        // The whole log overwritten (zeros, or garbage) at its full size: no header SQLite accepts, no frame of the
        // index's salts. It was taken for another generation, and the registry rolled back silently.
        let zeros = [UInt8](repeating: 0, count: log.count)
        var garbage = SplitMix64Bytes(seed: 3)
        let random = (0..<log.count).map { _ in garbage.next() }
        for overwritten in [zeros, random] {
            let cut = WriteAheadLog.truncation(
                log: overwritten, index: Self.index(recorded: 3, backfilled: 1, salts: salts),
                databasePageSize: Synthetic.pageSize)
            #expect(cut?.foreign == true && cut?.recorded == 3, "\(String(describing: cut))")
            #expect(cut?.description.contains("move recpool.sqlite-wal and recpool.sqlite-shm aside") == true)
        }
        // No log, or a header zeroed with the first block (its salts with it): refused while frames were not backfilled,
        // the frames' own salts telling the generation.
        let missing = WriteAheadLog.truncation(log: nil, index: Self.index(recorded: 3, backfilled: 0, salts: salts))
        #expect(missing?.readable == 0 && missing?.description.contains("recpool.sqlite-wal is missing") == true)
        #expect(WriteAheadLog.truncation(log: nil, index: Self.index(recorded: 3, backfilled: 3, salts: salts)) == nil)
        var zeroed = log
        for k in 0..<32 { zeroed[k] = 0 }
        #expect(
            WriteAheadLog.truncation(
                log: zeroed, index: Self.index(recorded: 3, backfilled: 0, salts: salts),
                databasePageSize: Synthetic.pageSize)?.readable == 0)
    }

    @Test("SQLite's checksum: the sums of two words, seeded, in either byte order")
    func checksum() {
        let bytes: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 2]
        // s0 = 0 + 1 + 0 = 1; s1 = 0 + 2 + 1 = 3.
        #expect(WriteAheadLog.checksum(bytes, 0..<8, seed: (0, 0), bigEndian: true) == (1, 3))
        // Little-endian words: 0x01000000 and 0x02000000.
        #expect(WriteAheadLog.checksum(bytes, 0..<8, seed: (0, 0), bigEndian: false) == (0x0100_0000, 0x0300_0000))
        #expect(WriteAheadLog.checksum(bytes, 0..<8, seed: (5, 7), bigEndian: true) == (13, 22))
    }
}

/// A reproducible stream of bytes for overwriting a test log (SplitMix64, Steele et al. 2014).
struct SplitMix64Bytes {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt8 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}
