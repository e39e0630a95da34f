import Foundation
import Testing

@testable import RecModel

@Suite("Checkpoints")
struct CheckpointTests {
    static let mlp = Checkpoint(
        version: 7, model: .mlp(MLP(inputWidth: 6, hiddenSizes: [5, 3], seed: 1)),
        featureSpec: Array(#"{"columns":["a","b"]}"#.utf8), metadata: ["trained_by": "test", "epochs": "10", "ü": "✓"])
    static let dqn = Checkpoint(
        version: 2,
        model: .dqn(DQNModel(network: QNetwork(stateWidth: 4, form: .itemInput(itemWidth: 3), hiddenSizes: [8], seed: 2), gamma: 0.9)))
    static let dqnActions = Checkpoint(
        model: .dqn(DQNModel(network: QNetwork(stateWidth: 4, form: .actionOutputs(actionCount: 5), hiddenSizes: [8], seed: 3), gamma: 0)))

    @Test("encode then decode is bit-exact", arguments: [mlp, dqn, dqnActions])
    func roundTrip(checkpoint: Checkpoint) throws {
        let bytes = checkpoint.encoded()
        let decoded = try Checkpoint(decoding: bytes)
        #expect(decoded == checkpoint)
        #expect(decoded.model.network.flatParameters.map(\.bitPattern) == checkpoint.model.network.flatParameters.map(\.bitPattern))
        #expect(decoded.encoded() == bytes)
    }

    @Test("unusual finite float bit patterns survive (negative zero, subnormals, the largest Float)")
    func exoticFloats() throws {
        var m = MLP(inputWidth: 2, hiddenSizes: [2], seed: 1)
        var flat = m.flatParameters
        flat[0] = -0.0
        flat[1] = .leastNonzeroMagnitude
        flat[2] = .greatestFiniteMagnitude
        m.flatParameters = flat
        let decoded = try Checkpoint(decoding: Checkpoint(model: .mlp(m)).encoded())
        #expect(decoded.model.network.flatParameters.map(\.bitPattern) == flat.map(\.bitPattern))
    }

    @Test(
        "a weight that is not finite is refused on decode, naming it: every reader would score NaN",
        arguments: [Float.nan, Float(bitPattern: 0x7FC0_1234), .infinity, -.infinity])
    func nonFiniteWeights(_ value: Float) throws {
        var m = MLP(inputWidth: 2, hiddenSizes: [2], seed: 1)
        var flat = m.flatParameters
        flat[4] = value
        m.flatParameters = flat
        do {
            _ = try Checkpoint(decoding: Checkpoint(model: .mlp(m)).encoded())
            Issue.record("decoded a checkpoint holding \(value)")
        } catch {
            #expect(error.description.contains("at index 4 (every weight must be finite)"), "\(error)")
        }
    }

    @Test("a weight that is not finite is refused on write, leaving no file: nothing is written that cannot be read")
    func nonFiniteWeightsAreNotWritten() throws {
        var m = MLP(inputWidth: 2, hiddenSizes: [2], seed: 1)
        var flat = m.flatParameters
        flat[4] = .nan
        m.flatParameters = flat
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.rpm").path
        #expect {
            try Checkpoint(model: .mlp(m)).write(toFile: path)
        } throws: { error in
            guard case .invalidField(let field, let value) = error as? CheckpointError else { return false }
            return field == "weights" && value.contains("at index 4")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("writing to a file and reading it back gives the same checkpoint and leaves no temp file")
    func fileRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.rpm").path
        try Self.mlp.write(toFile: path)
        try Self.dqn.write(toFile: path)  // overwrite through rename
        #expect(try Checkpoint.read(fromFile: path) == Self.dqn)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.rpm"])
    }

    @Test("a file that does not decode is named with its reason, the error's own case kept inside")
    func undecodableFileIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("half.rpm").path
        let bytes = Self.mlp.encoded()
        FileManager.default.createFile(atPath: path, contents: Data(bytes.prefix(bytes.count / 2)))
        #expect(throws: CheckpointError.inFile(path: path, .truncated(expected: bytes.count, actual: bytes.count / 2))) {
            try Checkpoint.read(fromFile: path)
        }
        #expect(
            CheckpointError.inFile(path: path, .checksumMismatch).description
                == "\(path): checkpoint corrupted: SHA-256 checksum mismatch")
    }

    @Test("a missing file is an I/O error naming the path and ENOENT")
    func missingFile() {
        #expect(throws: CheckpointError.io(path: "/nonexistent/x.rpm", operation: "open", errno: ENOENT)) {
            try Checkpoint.read(fromFile: "/nonexistent/x.rpm")
        }
    }

    @Test("every truncation is a typed error, never a crash or a partial model")
    func everyTruncation() {
        let bytes = Self.mlp.encoded()
        for n in 0..<bytes.count {
            do {
                _ = try Checkpoint(decoding: Array(bytes[0..<n]))
                Issue.record("a \(n)-byte prefix decoded")
            } catch {
                if n >= 8 { #expect(error == .truncated(expected: bytes.count, actual: n) || n < 20) }
            }
        }
    }

    @Test("flipping any single bit is detected")
    func everyBitFlip() {
        let bytes = Self.dqn.encoded()
        for i in bytes.indices {
            var corrupt = bytes
            corrupt[i] ^= 1 << UInt8(i % 8)
            #expect(throws: CheckpointError.self, "bit flip at byte \(i)") { try Checkpoint(decoding: corrupt) }
        }
        var body = bytes
        body[40] ^= 0xFF
        #expect(throws: CheckpointError.checksumMismatch) { try Checkpoint(decoding: body) }
    }

    @Test("wrong magic, a future version and trailing bytes are named")
    func headerProblems() {
        var bytes = Self.mlp.encoded()
        var wrongMagic = bytes
        wrongMagic[0] = UInt8(ascii: "X")
        #expect(throws: CheckpointError.badMagic) { try Checkpoint(decoding: wrongMagic) }
        var future = bytes
        future[8] = 2
        #expect(throws: CheckpointError.unsupportedVersion(found: 2, supported: 1)) { try Checkpoint(decoding: future) }
        bytes.append(0)
        #expect(throws: CheckpointError.trailingBytes(count: 1)) { try Checkpoint(decoding: bytes) }
    }

    /// A file of a checkpoint's header and then 64 GiB (sparse: no disk is used) was read whole before its
    /// header was checked: a 3 GB file aborted the process on allocation. Its 20 header bytes refuse it.
    @Test("a file far longer than its header says is refused from the header, naming the file, never read whole")
    func oversizedFileRefusedFromItsHeader() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-huge-\(UUID().uuidString).ckpt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Self.mlp.encoded()
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 1 << 36)
        try handle.close()
        #expect(throws: CheckpointError.inFile(path: path, .trailingBytes(count: (1 << 36) - bytes.count))) {
            try Checkpoint.read(fromFile: path)
        }
        // The header says the body is longer than the file: truncated, named from the header too.
        let short = path + ".short"
        defer { try? FileManager.default.removeItem(atPath: short) }
        FileManager.default.createFile(atPath: short, contents: Data(bytes.prefix(30)))
        #expect(throws: CheckpointError.inFile(path: short, .truncated(expected: bytes.count, actual: 30))) {
            try Checkpoint.read(fromFile: short)
        }
    }

    @Test("a body that is well checksummed but inconsistent is rejected with the field named")
    func inconsistentBody() {
        // Re-checksum a body whose activation code is invalid.
        var w = ByteWriter()
        w.u64(1); w.u8(1); w.u32(2); w.u32(1); w.u32(1); w.u8(9)
        w.u64(0); w.u32(0); w.u64(3); w.f32s([1, 2, 3])
        let bytes = Self.frame(w.bytes)
        #expect(throws: CheckpointError.invalidField(field: "layer 0 activation", value: "9")) { try Checkpoint(decoding: bytes) }
        var w2 = ByteWriter()
        w2.u64(1); w2.u8(1); w2.u32(2); w2.u32(1); w2.u32(1); w2.u8(2)
        w2.u64(0); w2.u32(0); w2.u64(4); w2.f32s([1, 2, 3, 4])
        #expect(throws: CheckpointError.weightCountMismatch(expected: 3, found: 4)) { try Checkpoint(decoding: Self.frame(w2.bytes)) }
    }

    /// A γ of 1 (a job's `--gamma 0.999999999` rounded to it) was read as a valid DQN: the range is [0, 1).
    @Test("a DQN whose γ is 1 or more is refused on read, naming the field", arguments: [Float(1), 1.5])
    func gammaOfOneIsRefused(gamma: Float) {
        var w = ByteWriter()
        // version, kind DQN, form 1, state width 2, 1 action, γ; then input 2, 1 layer of 1 unit, identity.
        w.u64(1); w.u8(2); w.u8(1); w.u32(2); w.u32(1); w.f32s([gamma]); w.u32(2); w.u32(1); w.u32(1); w.u8(0)
        w.u64(0); w.u32(0); w.u64(3); w.f32s([1, 2, 3])
        #expect(throws: CheckpointError.invalidField(field: "DQN gamma", value: "\(gamma)")) {
            try Checkpoint(decoding: Self.frame(w.bytes))
        }
    }

    @Test("metadata with a key twice (the second value silently won) or out of order is refused, naming the key")
    func metadataKeys() {
        func body(_ entries: [(String, String)]) -> [UInt8] {
            var w = ByteWriter()
            w.u64(1); w.u8(1); w.u32(2); w.u32(1); w.u32(1); w.u8(2)
            w.u64(0); w.u32(UInt32(entries.count))
            for (key, value) in entries {
                w.u32(UInt32(key.utf8.count)); w.raw(Array(key.utf8))
                w.u32(UInt32(value.utf8.count)); w.raw(Array(value.utf8))
            }
            w.u64(3); w.f32s([1, 2, 3])
            return Self.frame(w.bytes)
        }
        let sorted = try? Checkpoint(decoding: body([("batch", "32"), ("epochs", "3")]))
        #expect(sorted?.metadata == ["batch": "32", "epochs": "3"])
        #expect(throws: CheckpointError.invalidField(
            field: "metadata key 1", value: "'batch' after 'batch' (the keys are written once each, sorted)")) {
            try Checkpoint(decoding: body([("batch", "32"), ("batch", "64")]))
        }
        #expect(throws: CheckpointError.invalidField(
            field: "metadata key 1", value: "'batch' after 'epochs' (the keys are written once each, sorted)")) {
            try Checkpoint(decoding: body([("epochs", "3"), ("batch", "32")]))
        }
    }

    @Test("errors describe themselves in words")
    func descriptions() {
        #expect(CheckpointError.checksumMismatch.description.contains("corrupted"))
        #expect(CheckpointError.io(path: "/p", operation: "open", errno: ENOENT).description.contains("No such file"))
    }

    static func frame(_ body: [UInt8]) -> [UInt8] { Checkpoint.frame(body: body) }
}
