import Foundation
import Testing

@testable import RecStore
import RecTestKit

/// A damaged frame in the middle of `recpool.sqlite-wal` is refused at open: SQLite stops reading the log at the first
/// frame whose checksum fails, so the registry would silently roll back to the commit before it.
@Suite("A damaged write-ahead log is refused, never read as a shorter history")
struct WriteAheadLogDamageTests {
    /// A state directory as a crash leaves it: `models` versions registered one commit each, and the database and its
    /// write-ahead log copied while the store is still open (nothing checkpointed). Returns the copy's folder.
    static func crashedState(_ temporary: TemporaryDirectory, models: Int) throws -> String {
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
        for name in ["recpool.sqlite", "recpool.sqlite-wal"] {
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
            return path == log && problems.joined().contains(says) && problems.joined().contains("roll the registry back")
        }
        // Refused without opening: the log is still there for a backup or a look.
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
