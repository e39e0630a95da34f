import Testing

@testable import RecWire

@Suite("Tensor frames")
struct TensorTests {
    @Test("shapes round-trip bit for bit", arguments: [(1, 1), (1, 106), (32, 106), (3, 7)])
    func roundTrip(shape: (Int, Int)) throws {
        let (rows, cols) = shape
        let values = (0..<(rows * cols)).map { Float($0) * 0.25 - 3 }
        let tensor = Tensor(rows: rows, cols: cols, values: values)
        let frame = tensor.encoded()
        #expect(frame.count == 8 + rows * cols * 4)
        #expect(try Tensor(decoding: frame) == tensor)
    }

    @Test("floats travel as little-endian IEEE 754")
    func layout() {
        let frame = Tensor(rows: 1, cols: 1, values: [1.0]).encoded()
        #expect(frame == [1, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x00, 0x80, 0x3F])
    }

    @Test("a shape whose byte count overflows is a size mismatch, not a trap", arguments: [
        (UInt32(1) << 31, UInt32(1) << 30), (UInt32.max, UInt32.max), (UInt32.max, UInt32(1) << 30),
    ])
    func overflowingShape(rows: UInt32, cols: UInt32) {
        var frame: [UInt8] = []
        withUnsafeBytes(of: rows.littleEndian) { frame.append(contentsOf: $0) }
        withUnsafeBytes(of: cols.littleEndian) { frame.append(contentsOf: $0) }
        frame += [0, 0, 128, 63]
        #expect(throws: WireError.tensorSizeMismatch(rows: Int(rows), cols: Int(cols), bytes: 12)) {
            try Tensor(decoding: frame)
        }
    }

    @Test("truncated, empty, oversized and mis-sized frames are named")
    func invalid() {
        #expect(throws: WireError.tensorTooShort(bytes: 3)) { try Tensor(decoding: [1, 0, 0]) }
        var frame = Tensor(rows: 2, cols: 2, values: [1, 2, 3, 4]).encoded()
        frame.removeLast()
        #expect(throws: WireError.tensorSizeMismatch(rows: 2, cols: 2, bytes: 23)) { try Tensor(decoding: frame) }
        #expect(throws: WireError.emptyTensor(rows: 0, cols: 5)) { try Tensor(decoding: [0, 0, 0, 0, 5, 0, 0, 0]) }
        let big = Tensor(rows: 10, cols: 1, values: Array(repeating: 0, count: 10)).encoded()
        #expect(throws: WireError.tooManyRows(rows: 10, limit: 4)) { try Tensor(decoding: big, maxRows: 4) }
        // rows × cols overflows: must not allocate or crash.
        #expect(throws: WireError.self) { try Tensor(decoding: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) }
    }

    @Test("NaN and infinity are rejected with their position")
    func nonFinite() {
        let frame = Tensor(rows: 2, cols: 3, values: [0, 1, 2, 3, .nan, 5]).encoded()
        #expect(throws: WireError.nonFiniteValue(row: 1, column: 1)) { try Tensor(decoding: frame) }
        let inf = Tensor(rows: 1, cols: 2, values: [.infinity, 0]).encoded()
        #expect(throws: WireError.nonFiniteValue(row: 0, column: 0)) { try Tensor(decoding: inf) }
        #expect((try? Tensor(decoding: inf, requireFinite: false))?.rows == 1)
    }

    @Test("ragged rows are refused when building a tensor")
    func ragged() {
        #expect(throws: WireError.self) { try Tensor(rows: [[1, 2], [3]]) }
    }
}

@Suite("Tensor validation without copying")
struct TensorValidationTests {
    @Test("validate agrees with decoding on good and bad frames")
    func agrees() throws {
        let good = Tensor(rows: 3, cols: 2, values: [1, 2, 3, 4, 5, 6]).encoded()
        #expect(try Tensor.validate(good) == (3, 2))
        let nan = Tensor(rows: 2, cols: 2, values: [0, 1, 2, .nan]).encoded()
        #expect(throws: WireError.nonFiniteValue(row: 1, column: 1)) { try Tensor.validate(nan) }
        #expect(throws: WireError.tooManyRows(rows: 3, limit: 2)) { try Tensor.validate(good, maxRows: 2) }
        #expect(throws: WireError.tensorTooShort(bytes: 2)) { try Tensor.validate([0, 1]) }
    }

    @Test("columns are read from an encoded frame's bytes 4–7 without decoding it", arguments: [1, 3, 106, 70_000])
    func columnsOfEncoded(cols: Int) {
        let frame = Tensor(rows: 2, cols: cols, values: [Float](repeating: 1, count: 2 * cols)).encoded()
        #expect(Tensor.columns(ofEncoded: frame) == cols)
        #expect(Tensor.columns(ofEncoded: Array(frame.prefix(8))) == cols)
        #expect(Tensor.columns(ofEncoded: Array(frame.prefix(7))) == nil)
    }
}
