import Crypto
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
}
