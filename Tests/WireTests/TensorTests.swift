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

    /// The bit patterns that are not finite: quiet and signalling NaN of either sign, the largest NaN
    /// payload, and both infinities.
    static let nonFinitePatterns: [UInt32] = [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x7F80_0000, 0xFF80_0000]

    /// An encoded tensor of `count` finite values that include the extremes a bit test could mistake
    /// for non-finite (the largest finite magnitude, subnormals, −0), with `bad` written at `index`.
    static func frame(count: Int, bad: UInt32? = nil, at index: Int = 0, offset: Int = 0) -> [UInt8] {
        let extremes: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0, 1e-40, -3.5]
        var values = (0..<count).map { extremes[$0 % extremes.count] }
        if let bad { values[index] = Float(bitPattern: bad) }
        return [UInt8](repeating: 0xAB, count: offset) + Tensor(rows: 1, cols: count, values: values).encoded()
    }

    @Test("the non-finite scan finds the first NaN or infinity at block edges, in frames at any alignment",
          arguments: [0, 1, 1023, 1024, 1025, 2047, 2999])
    func firstNonFiniteAtEdges(index: Int) throws {
        for pattern in Self.nonFinitePatterns {
            for offset in 0..<4 {
                let bytes = Self.frame(count: 3000, bad: pattern, at: index, offset: offset)
                let found = bytes.withUnsafeBytes { Tensor.firstNonFinite(inEncoded: UnsafeRawBufferPointer(rebasing: $0[offset...]), count: 3000) }
                #expect(found == index, "pattern \(String(pattern, radix: 16)) at \(index), offset \(offset)")
            }
            let frame = Self.frame(count: 3000, bad: pattern, at: index)
            #expect(throws: WireError.nonFiniteValue(row: 0, column: index)) { try Tensor.validate(frame) }
            #expect(throws: WireError.nonFiniteValue(row: 0, column: index)) { try Tensor(decoding: frame) }
        }
    }

    @Test("finite extremes pass the scan; of several bad values the first is named", arguments: [1, 7, 1024, 5000])
    func firstNonFiniteFinite(count: Int) throws {
        let frame = Self.frame(count: count)
        #expect(frame.withUnsafeBytes { Tensor.firstNonFinite(inEncoded: $0, count: count) } == nil)
        #expect(try Tensor.validate(frame) == (1, count))
        var two = Self.frame(count: count, bad: 0x7F80_0000, at: count - 1)
        let earlier = count / 2
        withUnsafeBytes(of: UInt32(0xFFC0_0000).littleEndian) { two.replaceSubrange((8 + 4 * earlier)..<(12 + 4 * earlier), with: $0) }
        #expect(two.withUnsafeBytes { Tensor.firstNonFinite(inEncoded: $0, count: count) } == earlier)
    }

    @Test("the unit-interval scan agrees with a test of each value, at block edges and on random bit patterns")
    func firstOutsideUnitInterval() {
        func scan(_ values: [Float]) -> Int? {
            Tensor(rows: 1, cols: values.count, values: values).encoded().withUnsafeBytes {
                Tensor.firstOutsideUnitInterval(inEncoded: $0, count: values.count)
            }
        }
        let inside: [Float] = [0, -0.0, 1, .leastNonzeroMagnitude, 0.5, 1 - .ulpOfOne / 2]
        #expect(scan(inside) == nil)
        for bad: Float in [1.0000001, -.leastNonzeroMagnitude, -1, 2, .infinity, -.infinity, .nan, 1e30] {
            for index in [0, 1023, 1024, 2999] {
                var values = (0..<3000).map { inside[$0 % inside.count] }
                values[index] = bad
                #expect(scan(values) == index, "\(bad) at \(index)")
            }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let count = Int.random(in: 1...2500, using: &generator)
            let values = (0..<count).map { _ -> Float in
                Int.random(in: 0..<3000, using: &generator) == 0
                    ? Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
                    : Float.random(in: 0...1, using: &generator)
            }
            let expected = values.firstIndex { !($0 >= 0 && $0 <= 1) }
            #expect(scan(values) == expected)
        }
    }

    @Test("the scan agrees with a test of each value on random bit patterns")
    func firstNonFiniteAgreesWithReference() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let count = Int.random(in: 1...2500, using: &generator)
            // Mostly finite; now and then an exponent of all ones.
            let bits = (0..<count).map { _ -> UInt32 in
                let raw = UInt32.random(in: 0...UInt32.max, using: &generator)
                return Int.random(in: 0..<4000, using: &generator) == 0 ? raw | 0x7F80_0000 : raw & 0xBFFF_FFFF
            }
            let frame = Tensor(rows: 1, cols: count, values: bits.map(Float.init(bitPattern:))).encoded()
            let expected = bits.firstIndex { !Float(bitPattern: $0).isFinite }
            #expect(frame.withUnsafeBytes { Tensor.firstNonFinite(inEncoded: $0, count: count) } == expected)
        }
    }

    @Test("columns are read from an encoded frame's bytes 4–7 without decoding it", arguments: [1, 3, 106, 70_000])
    func columnsOfEncoded(cols: Int) {
        let frame = Tensor(rows: 2, cols: cols, values: [Float](repeating: 1, count: 2 * cols)).encoded()
        #expect(Tensor.columns(ofEncoded: frame) == cols)
        #expect(Tensor.columns(ofEncoded: Array(frame.prefix(8))) == cols)
        #expect(Tensor.columns(ofEncoded: Array(frame.prefix(7))) == nil)
    }
}
