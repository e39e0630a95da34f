/// Appends little-endian integers and floats to a byte array.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
}

/// Reads little-endian integers from a byte array, with bounds checked by the caller's length test.
struct ByteReader {
    let bytes: [UInt8]
    var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        precondition(remaining >= MemoryLayout<T>.size, "ByteReader read past the end; check lengths first")
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { target in
            bytes.withUnsafeBytes { source in
                target.copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + MemoryLayout<T>.size)]))
            }
        }
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }
}
