import Crypto
import Foundation
import RecModel
import RecWire
import Testing

@testable import Worker

@Suite("WEIGHTS verification")
struct WeightsTests {
    static func checkpointBytes() -> [UInt8] {
        Checkpoint(version: 3, model: .mlp(MLP(inputWidth: 4, seed: 1))).encoded()
    }

    static func sha(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    /// Each WEIGHTS copy was built in turn: the broker sends WEIGHTS again every two heartbeats while a worker still
    /// reports the old version, so a rollout at 20,000 items built its version four times, and a rollback right after
    /// it waited 31 s behind builds of the replaced version.
    @Test("a WEIGHTS sent again while its build is under way is not queued again; a replaced build is skipped")
    func buildsOnceAndSkipsReplaced() {
        typealias Key = BackgroundWork.WeightsKey
        let (a, b) = (Key(version: 10, sha256: "aa"), Key(version: 9, sha256: "bb"))
        var builds = BackgroundWork.WeightsBuilds()
        #expect(builds.builds(a))  // before any WEIGHTS, anything
        let admitted = [builds.admit(a), builds.admit(a), builds.admit(a)]
        #expect(admitted == [true, false, false])
        // A rollback to 9 while 10 is queued: 9 is queued, 10 is skipped when the compute thread reaches it.
        let rollback = builds.admit(b)
        #expect(rollback)
        #expect(!builds.builds(a) && builds.builds(b))
        builds.finished(a)
        builds.finished(b)
        // Done (built, refused on a bad checksum, or skipped): the next copy is built again.
        let again = builds.admit(b)
        #expect(again)
        // The broker asks for the version served now (a rollback to it): the queued build is skipped.
        builds.wanted = Key(version: 8, sha256: "cc")
        #expect(!builds.builds(b))
        // Skipping finishes the build in the same step: a re-promotion of 9 after it is queued again, not dropped.
        let skipped = builds.starts(b)
        let repromoted = builds.admit(b)
        let rebuilt = builds.starts(b)
        #expect(!skipped && repromoted && rebuilt)
    }

    @Test("a WEIGHTS message with a matching checksum yields a replica of the announced version")
    func accepts() throws {
        let bytes = Self.checkpointBytes()
        let replica = try BackgroundWork.replica(from: WeightsNotice(version: 9, sha256: Self.sha(bytes)), bytes: bytes)
        #expect(replica.version == 9 && replica.inputWidth == 4)
    }

    @Test("a corrupted WEIGHTS message is rejected by its checksum")
    func rejectsCorruption() {
        var bytes = Self.checkpointBytes()
        let announced = Self.sha(bytes)
        bytes[bytes.count / 2] ^= 0x40
        #expect(throws: WeightsError.checksumMismatch(expected: announced, got: Self.sha(bytes))) {
            try BackgroundWork.replica(from: WeightsNotice(version: 9, sha256: announced), bytes: bytes)
        }
    }

    @Test("bytes that hash right but are no checkpoint are rejected, not half-loaded")
    func rejectsGarbage() {
        let bytes: [UInt8] = Array("RECPOOLM not really".utf8)
        #expect(throws: WeightsError.self) {
            try BackgroundWork.replica(from: WeightsNotice(version: 9, sha256: Self.sha(bytes)), bytes: bytes)
        }
    }

    /// The registry refuses to import or promote such a model; a worker took it from `--model` (and from WEIGHTS) and
    /// then refused every SCORE it was sent TOO_LARGE.
    @Test("a model wider than a SCORE row with no feature specification is refused from a file and from WEIGHTS")
    func refusesUnreachableWidth() throws {
        let wide = Checkpoint(model: .mlp(MLP(inputWidth: 4_097, hiddenSizes: [1], seed: 1))).encoded()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wide-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("wide.ckpt").path
        try Data(wide).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ModelReplica.load(checkpointPath: path)
            Issue.record("a 4097-wide model was loaded")
        } catch let error as ReplicaError {
            #expect(
                "\(error)" == "\(path) cannot be served: its model takes rows of 4097 features, and a SCORE row holds at "
                    + "most 4096 (docs/PROTOCOL.md, \"Limits\"): no request could reach it")
        }
        do {
            _ = try BackgroundWork.replica(from: WeightsNotice(version: 9, sha256: Self.sha(wide)), bytes: wide)
            Issue.record("WEIGHTS of a 4097-wide model were installed")
        } catch {
            #expect("\(error)".hasPrefix("unusable checkpoint: WEIGHTS v9 cannot be served: its model takes rows of 4097"))
        }
        // At the limit it is served.
        let widest = Checkpoint(model: .mlp(MLP(inputWidth: 4_096, hiddenSizes: [1], seed: 1))).encoded()
        let replica = try BackgroundWork.replica(from: WeightsNotice(version: 9, sha256: Self.sha(widest)), bytes: widest)
        #expect(replica.inputWidth == 4_096)
    }
}
