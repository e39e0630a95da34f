/// A minimal protocol-buffers encoder: just the wire types ONNX export needs
/// (varint = 0, length-delimited = 2). Fields are written in the order called.
package struct ProtobufWriter {
    /// The encoded bytes so far.
    package private(set) var bytes: [UInt8] = []

    /// An empty message.
    package init() {}

    /// A base-128 varint.
    package mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A field key.
    package mutating func tag(_ field: Int, wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// An integer field (int64/int32/enum; negative values as 10-byte two's complement).
    package mutating func int(_ field: Int, _ value: Int64) {
        tag(field, wireType: 0)
        varint(UInt64(bitPattern: value))
    }

    /// A bytes or string field.
    package mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, wireType: 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A string field, UTF-8.
    package mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    /// An embedded message built by `build`.
    package mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }
}

extension ProtobufWriter {
    /// A 32-bit float field (wire type 5, little-endian).
    package mutating func float(_ field: Int, _ value: Float) {
        tag(field, wireType: 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
