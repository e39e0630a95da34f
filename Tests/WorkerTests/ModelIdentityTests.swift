import Foundation
import RecModel
import RecWire
import Testing

@testable import Worker

@Suite("Model identity on the worker")
struct ModelIdentityTests {
    @Test("a checkpoint file is served as version 0 under its SHA-256, never under the number stored in it")
    func fileModelIsUnregistered() throws {
        let bytes = Checkpoint(version: 1, model: .mlp(MLP(inputWidth: 5, seed: 3))).encoded()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("m-\(UUID()).ckpt").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let replica = try ModelReplica.load(checkpointPath: path)
        #expect(replica.version == 0)
        #expect(replica.checkpointSHA256 == WeightsTests.sha(bytes))
        #expect(replica.inputWidth == 5)
    }

    /// A file whose feature specification is damaged was served as a model without a recommender, so every
    /// RECOMMEND said "has no feature specification": it is refused at load naming the damage, as WEIGHTS is.
    @Test("a checkpoint file whose feature specification does not decode is refused naming it, as from WEIGHTS")
    func damagedFeatureSpecIsRefused() throws {
        let bytes = Checkpoint(version: 1, model: .mlp(MLP(inputWidth: 5, seed: 3)), featureSpec: [7, 7, 7]).encoded()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("m-\(UUID()).ckpt").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try ModelReplica.load(checkpointPath: path)
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("its feature specification does not decode")
        }
        #expect {
            try BackgroundWork.replica(from: WeightsNotice(version: 4, sha256: WeightsTests.sha(bytes)), bytes: bytes)
        } throws: { error in
            "\(error)".contains("its feature specification does not decode")
        }
    }

    @Test("a replica from WEIGHTS carries the registry's version and the announced hash")
    func weightsReplicaIsRegistered() throws {
        let bytes = WeightsTests.checkpointBytes()
        let sha = WeightsTests.sha(bytes)
        let replica = try BackgroundWork.replica(from: WeightsNotice(version: 4, sha256: sha), bytes: bytes)
        #expect(replica.version == 4 && replica.checkpointSHA256 == sha)
    }

    @Test("the seeded model has version 0 and no hash")
    func seeded() {
        let replica = ModelReplica.seeded(inputWidth: 3, seed: 1)
        #expect(replica.version == 0 && replica.checkpointSHA256 == nil)
    }

    @Test("the heartbeat load frame carries the served width (12 bytes) and still reads the 8-byte form")
    func loadFrame() throws {
        let load = WorkerLoad(slots: 8, queued: 1, inputWidth: 154)
        #expect(load.encoded().count == 12)
        #expect(try WorkerLoad(decoding: load.encoded()) == load)
        #expect(try WorkerLoad(decoding: WorkerLoad(slots: 8, queued: 1).encoded()).inputWidth == nil)
        #expect(throws: WireError.self) { try WorkerLoad(decoding: [1, 2, 3]) }
        let sha = [UInt8](0..<32)
        let full = WorkerLoad(slots: 8, queued: 1, inputWidth: 154, modelSHA256: sha)
        #expect(full.encoded().count == 44)
        #expect(try WorkerLoad(decoding: full.encoded()).modelSHA256 == sha)
        #expect(try WorkerLoad(decoding: full.encoded()).modelSHA256Hex == sha.map { String(format: "%02x", $0) }.joined())
        #expect(WorkerSession.rawDigest(String(repeating: "ab", count: 32)) == [UInt8](repeating: 0xAB, count: 32))
        #expect(WorkerSession.rawDigest("xyz") == nil)
    }
}
