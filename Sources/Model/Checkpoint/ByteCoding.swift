/// Appends little-endian values to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func raw(_ v: [UInt8]) { bytes.append(contentsOf: v) }

    /// Float32 little-endian, in bulk.
    mutating func f32s(_ v: [Float]) {
        bytes.reserveCapacity(bytes.count + 4 * v.count)
        for x in v { u32(x.bitPattern) }
    }
}

/// Reads little-endian values from a byte slice, throwing ``CheckpointError/bodyTooShort(field:)``
/// instead of reading past the end.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - position }

    mutating func take(_ n: Int, _ field: String) throws(CheckpointError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .bodyTooShort(field: field) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    mutating func u8(_ field: String) throws(CheckpointError) -> UInt8 { try take(1, field).first! }

    mutating func u32(_ field: String) throws(CheckpointError) -> UInt32 {
        var v: UInt32 = 0
        for (i, b) in try take(4, field).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
        return v
    }

    mutating func u64(_ field: String) throws(CheckpointError) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(8, field).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    mutating func f32(_ field: String) throws(CheckpointError) -> Float { Float(bitPattern: try u32(field)) }

    mutating func f32s(_ n: Int, _ field: String) throws(CheckpointError) -> [Float] {
        guard n <= remaining / 4 else { throw .bodyTooShort(field: field) }
        let slice = try take(4 * n, field)
        var out = [Float](repeating: 0, count: n)
        var p = slice.startIndex
        for i in 0..<n {
            let u = UInt32(slice[p]) | UInt32(slice[p + 1]) << 8 | UInt32(slice[p + 2]) << 16 | UInt32(slice[p + 3]) << 24
            out[i] = Float(bitPattern: u)
            p += 4
        }
        return out
    }

    mutating func string(_ field: String) throws(CheckpointError) -> String {
        let n = Int(try u32(field))
        let raw = try take(n, field)
        guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidField(field: field, value: "invalid UTF-8") }
        return s
    }
}
