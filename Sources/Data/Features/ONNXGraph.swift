import RecModel

/// A small builder for an ONNX `GraphProto`: nodes, constant initializers and typed inputs, written with RecModel's
/// protobuf encoder (field numbers from onnx.proto, listed in docs/MODELS.md).
struct ONNXGraph {
    /// ONNX `TensorProto.DataType` codes used here.
    enum ElementType: Int64 {
        case float = 1, int64 = 7, string = 8, bool = 9, double = 11
    }

    /// One attribute of a node.
    enum Attribute {
        case int(String, Int64)
        case ints(String, [Int64])
        case strings(String, [String])
    }

    private(set) var writer = ProtobufWriter()
    private var counter = 0

    /// A fresh tensor name.
    mutating func name(_ hint: String) -> String {
        counter += 1
        return "\(hint)_\(counter)"
    }

    /// Adds a node and returns its (single) output name.
    @discardableResult
    mutating func node(
        _ op: String, _ inputs: [String], output: String? = nil, domain: String? = nil, _ attributes: [Attribute] = []
    ) -> String {
        let out = output ?? name(op.lowercased())
        writer.message(1) { n in
            for input in inputs { n.string(1, input) }
            n.string(2, out)
            n.string(3, out)
            n.string(4, op)
            for attribute in attributes {
                n.message(5) { a in
                    switch attribute {
                    case .int(let key, let value):
                        a.string(1, key)
                        a.int(3, value)
                        a.int(20, 2)
                    case .ints(let key, let values):
                        a.string(1, key)
                        for v in values { a.int(8, v) }
                        a.int(20, 7)
                    case .strings(let key, let values):
                        a.string(1, key)
                        for v in values { a.string(9, v) }
                        a.int(20, 8)
                    }
                }
            }
            if let domain { n.string(7, domain) }
        }
        return out
    }

    /// A float32 constant of shape `dims`.
    mutating func constant(_ hint: String, dims: [Int], floats: [Float]) -> String {
        let n = name(hint)
        writer.message(5) { t in ONNXExport.tensor(&t, name: n, dims: dims, values: floats) }
        return n
    }

    /// A float64 constant of shape `dims` (`[]` is a scalar).
    mutating func constant(_ hint: String, dims: [Int], doubles: [Double]) -> String {
        constant(hint, dims: dims, type: .double, littleEndian: doubles.map(\.bitPattern))
    }

    /// An int64 constant of shape `dims` (`[]` is a scalar).
    mutating func constant(_ hint: String, dims: [Int], ints: [Int64]) -> String {
        constant(hint, dims: dims, type: .int64, littleEndian: ints.map { UInt64(bitPattern: $0) })
    }

    /// A constant of 8-byte elements of `type` (their bits in `values`), written little-endian in `raw_data`.
    private mutating func constant(_ hint: String, dims: [Int], type: ElementType, littleEndian values: [UInt64]) -> String {
        let n = name(hint)
        writer.message(5) { t in
            for d in dims { t.int(1, Int64(d)) }
            t.int(2, type.rawValue)
            t.string(8, n)
            var raw: [UInt8] = []
            raw.reserveCapacity(values.count * 8)
            for v in values { withUnsafeBytes(of: v.littleEndian) { raw.append(contentsOf: $0) } }
            t.bytes(9, raw)
        }
        return n
    }

    /// A graph input with a symbolic `batch` first dimension and the given other dimensions (nil: symbolic).
    mutating func input(_ name: String, _ type: ElementType, _ dims: [Int?]) {
        writer.message(11) { v in
            v.string(1, name)
            v.message(2) { t in
                t.message(1) { tensor in
                    tensor.int(1, type.rawValue)
                    tensor.message(2) { shape in
                        shape.message(1) { dim in dim.string(2, "batch") }
                        for (k, d) in dims.enumerated() {
                            shape.message(1) { dim in
                                if let d { dim.int(1, Int64(d)) } else { dim.string(2, "\(name)_\(k + 1)") }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes the MLP's layers reading `input` and writing `output`.
    mutating func mlp(_ network: MLP, input: String, output: String) {
        ONNXExport.writeLayers(network, input: input, output: output, into: &writer)
    }

    /// The float32 graph output `[batch, width]`.
    mutating func output(_ name: String, width: Int) {
        writer.message(12) { v in ONNXExport.valueInfo(&v, name: name, width: width) }
    }

    /// The graph's name.
    mutating func named(_ name: String) { writer.string(2, name) }
}
