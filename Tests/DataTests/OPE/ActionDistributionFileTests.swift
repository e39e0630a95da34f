import Foundation
import Testing

@testable import RecData

@Suite("Candidate policies from .npy files")
struct ActionDistributionFileTests {
    static let data = try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")

    @Test("a .npy round-trips bit for bit, float32 and 1-D arrays read, and other files are typed errors")
    func numpy() throws {
        let array = NumpyArray(shape: [2, 3, 1], values: [0.1, -0.0, .pi, 1e-300, 5, 6])
        let bytes = try array.encoded(path: "a.npy")
        // numpy.lib.format: the data (6 float64 = 48 bytes) starts on a 64-byte boundary, after a newline.
        #expect((bytes.count - 48) % 64 == 0 && bytes[bytes.count - 49] == 0x0A)
        #expect(try NumpyArray.decode(bytes, name: "a.npy") == array)
        // numpy.save of np.array([1.5, -2], dtype='<f4'): shape (2,).
        var f4: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        f4 += [UInt8(header.utf8.count), 0] + Array(header.utf8)
        for v: Float in [1.5, -2] { withUnsafeBytes(of: v.bitPattern.littleEndian) { f4 += $0 } }
        #expect(try NumpyArray.decode(f4, name: "f.npy") == NumpyArray(shape: [2], values: [1.5, -2]))
        #expect(throws: NumpyArrayError.notNumpy("x.npy")) { try NumpyArray.decode(Array("hello".utf8), name: "x.npy") }
        // A missing file and a folder name their cause, as every other file a command reads does ("cannot read the
        // file" named neither).
        let missing = "/nonexistent-\(UInt64.random(in: 0...UInt64.max)).npy"
        #expect { try NumpyArray.read(path: missing) } throws: { error in
            "\(error)" == "\(missing): cannot read (open): No such file or directory (errno 2)"
        }
        #expect { try NumpyArray.read(path: "/") } throws: { error in "\(error)".contains("Is a directory") }
        let truncated = Array(bytes.dropLast(8))
        #expect(throws: NumpyArrayError.sizeMismatch("t.npy", shape: [2, 3, 1], bytes: 40)) {
            try NumpyArray.decode(truncated, name: "t.npy")
        }
        // A shape whose element count overflows (2³² × 2³², or 2⁶¹ eight-byte values) is a size mismatch, not a trap.
        for shape in ["(4294967296, 4294967296)", "(2305843009213693952,)"] {
            var huge: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
            var text = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }"
            while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
            text += "\n"
            huge += [UInt8(text.utf8.count), 0] + Array(text.utf8) + [UInt8](repeating: 0, count: 16)
            #expect(throws: NumpyArrayError.self) { try NumpyArray.decode(huge, name: "h.npy") }
        }
        let fortran = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "False", with: "True ").utf8)
        #expect(throws: NumpyArrayError.self) { try NumpyArray.decode(fortran, name: "f.npy") }
        // A shape entry that is not a whole number is named, never dropped (then read as shape [3], a size mismatch).
        var named: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        var text = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, x), }"
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        named += [UInt8(text.utf8.count), 0] + Array(text.utf8) + [UInt8](repeating: 0, count: 24)
        #expect(throws: NumpyArrayError.unsupported("s.npy", "header: shape: 'x' is not a whole number")) {
            try NumpyArray.decode(named, name: "s.npy")
        }
    }

    @Test("action_dist[i, :, position_i] is read; bad shapes, values and sums are refused with their place")
    func actionDist() throws {
        let (n, k, p) = (Self.data.rows, Self.data.nActions, Self.data.nPositions)
        var values = [Double](repeating: 0, count: n * k * p)
        // Slot s puts all mass on item s: the candidate at each row's logged slot picks item position_i.
        for row in 0..<n { for s in 0..<p { values[(row * k + s) * p + s] = 1 } }
        let policy = try ActionDistribution(actionDist: NumpyArray(shape: [n, k, p], values: values), for: Self.data)
        for row in 0..<n { #expect(policy[row, Self.data.position[row]] == 1) }
        #expect(throws: ActionDistributionError.shape([n, k], rows: n, nActions: k)) {
            try ActionDistribution(actionDist: NumpyArray(shape: [n, k], values: Array(values.prefix(n * k))), for: Self.data)
        }
        var negative = values
        negative[(7 * k + 3) * p + 1] = -0.5
        #expect(throws: ActionDistributionError.probability(row: 7, action: 3, position: 1, value: -0.5)) {
            try ActionDistribution(actionDist: NumpyArray(shape: [n, k, p], values: negative), for: Self.data)
        }
        var short = values
        short[(9 * k + 0) * p + 0] = 0.5
        #expect(throws: ActionDistributionError.sum(row: 9, position: 0, sum: 0.5)) {
            try ActionDistribution(actionDist: NumpyArray(shape: [n, k, p], values: short), for: Self.data)
        }
    }

    @Test("probabilities within 1e-12 outside [0, 1] are read as exactly 0 and 1; farther ones are refused")
    func toleratedValuesAreClamped() throws {
        let (n, k, p) = (Self.data.rows, Self.data.nActions, Self.data.nPositions)
        var values = [Double](repeating: 0, count: n * k * p)
        for row in 0..<n { for s in 0..<p { values[(row * k + s) * p + s] = 1 } }
        // Row 5 at its logged slot: item 0 gets 1 + 5e-13, item 1 gets -5e-13 (a writer's rounding; the sum is 1).
        let (row, slot) = (5, Self.data.position[5])
        for a in 0..<k { values[(row * k + a) * p + slot] = 0 }
        values[(row * k + 0) * p + slot] = 1 + 5e-13
        values[(row * k + 1) * p + slot] = -5e-13
        let policy = try ActionDistribution(actionDist: NumpyArray(shape: [n, k, p], values: values), for: Self.data)
        #expect(policy[row, 0] == 1 && policy[row, 1] == 0)
        #expect(policy.probabilities.allSatisfy { $0 >= 0 && $0 <= 1 })
        var far = values
        far[(row * k + 1) * p + slot] = -2e-12
        #expect(throws: ActionDistributionError.probability(row: row, action: 1, position: slot, value: -2e-12)) {
            try ActionDistribution(actionDist: NumpyArray(shape: [n, k, p], values: far), for: Self.data)
        }
    }
}
