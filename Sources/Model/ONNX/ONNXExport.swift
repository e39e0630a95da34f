/// Why a model cannot be exported to ONNX.
public enum ONNXExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Only sigmoid and identity outputs over ReLU hidden layers map onto the exported graph.
    case unsupportedActivation(layer: Int, activation: Activation)
    /// The feature transform writes `spec` columns but the network reads `model` inputs.
    case widthMismatch(spec: Int, model: Int)
    /// The raw-context graph would produce `graph` columns where the feature spec's transform writes `spec` (a field
    /// of the spec has no ONNX form here; `column` is the spec's column at index `graph`, or its last one when the
    /// graph writes more), so the export is refused rather than written broken.
    case transformIncomplete(column: String, graph: Int, spec: Int)
    /// A field of the feature spec disagrees with another (e.g. fewer scalings than names), named in the message.
    case inconsistentSpec(String)
    /// The model would take `bytes` (at least), past `limit`: a protobuf message (an ONNX `ModelProto`) holds at most
    /// 2 GiB, and onnxruntime cannot load a larger one. `largest` names the biggest table and its bytes.
    case tooLarge(bytes: Int, limit: Int, largest: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .unsupportedActivation(let l, let a): "cannot export layer \(l) with activation \(a.name) to ONNX"
        case .widthMismatch(let spec, let model):
            "the feature spec writes \(spec) columns but the network reads \(model) inputs"
        case .transformIncomplete(let column, let graph, let spec):
            "cannot export the feature transform to ONNX: column \"\(column)\" has no graph form (the graph would "
                + "write \(graph) of the spec's \(spec) columns)"
        case .inconsistentSpec(let problem): "cannot export the feature transform to ONNX: \(problem)"
        case .tooLarge(let bytes, let limit, let largest):
            "the ONNX model would take at least \(bytes) bytes, past the \(limit) bytes a protobuf message may hold "
                + "(onnxruntime could not load it); the largest part is \(largest)"
        }
    }
}

/// Writes an ``MLP`` as an ONNX model (IR version 8, opset 13), hand-encoded as protobuf.
///
/// The graph is `Gemm(transB = 1) → Relu → … → Gemm → Sigmoid` (no final node for an identity
/// output), input `input` of shape `[batch, inputWidth]` with a symbolic batch dimension, output
/// `output` of shape `[batch, outputWidth]`. Weights go in `raw_data` as float32 little-endian,
/// stored `out × in` as `Gemm` with `transB = 1` expects. Field numbers are in docs/MODELS.md.
public enum ONNXExport {
    /// ONNX `TensorProto.DataType.FLOAT`.
    static let float: Int64 = 1

    /// The serialised `ModelProto`.
    /// - Throws: ``ONNXExportError`` if a layer's activation has no ONNX node here.
    public static func encode(_ mlp: MLP, producer: String = "recpool") throws(ONNXExportError) -> [UInt8] {
        try checkExportable(mlp)
        var model = ProtobufWriter()
        model.int(1, 8)  // ir_version
        model.string(2, producer)  // producer_name
        model.message(7) { graph in writeGraph(mlp, into: &graph) }
        model.message(8) { opset in  // opset_import
            opset.string(1, "")
            opset.int(2, 13)
        }
        return model.bytes
    }

    static func writeGraph(_ mlp: MLP, into g: inout ProtobufWriter) {
        writeLayers(mlp, input: "input", output: "output", into: &g)
        g.string(2, "recpool_mlp")
        g.message(11) { v in valueInfo(&v, name: "input", width: mlp.inputWidth) }
        g.message(12) { v in valueInfo(&v, name: "output", width: mlp.outputWidth) }
    }

    /// The checks ``encode(_:producer:)`` makes before writing a graph.
    /// - Throws: ``ONNXExportError``.
    package static func checkExportable(_ mlp: MLP) throws(ONNXExportError) {
        for (i, l) in mlp.layers.enumerated() where i < mlp.layers.count - 1 && l.activation != .relu && l.activation != .identity {
            throw .unsupportedActivation(layer: i, activation: l.activation)
        }
    }

    /// Writes the MLP's nodes and weight initializers into a graph, reading tensor `input` and writing `output`.
    package static func writeLayers(_ mlp: MLP, input: String, output: String, into g: inout ProtobufWriter) {
        var current = input
        for (i, layer) in mlp.layers.enumerated() {
            let w = "layer\(i).weight", b = "layer\(i).bias", z = "layer\(i).gemm"
            g.message(1) { node in
                node.string(1, current); node.string(1, w); node.string(1, b)
                node.string(2, z)
                node.string(3, "gemm\(i)")
                node.string(4, "Gemm")
                node.message(5) { attr in
                    attr.string(1, "transB")
                    attr.int(3, 1)
                    attr.int(20, 2)  // AttributeType.INT
                }
            }
            current = z
            let last = i == mlp.layers.count - 1
            let op: String? = switch layer.activation {
            case .relu: "Relu"
            case .sigmoid: "Sigmoid"
            case .identity: nil
            }
            if let op {
                let y = last ? output : "layer\(i).\(op.lowercased())"
                g.message(1) { node in
                    node.string(1, current)
                    node.string(2, y)
                    node.string(3, "\(op.lowercased())\(i)")
                    node.string(4, op)
                }
                current = y
            } else if last {
                g.message(1) { node in
                    node.string(1, current)
                    node.string(2, output)
                    node.string(3, "identity\(i)")
                    node.string(4, "Identity")
                }
            }
        }
        for (i, layer) in mlp.layers.enumerated() {
            g.message(5) { t in tensor(&t, name: "layer\(i).weight", dims: [layer.outputWidth, layer.inputWidth], values: layer.weight.values) }
            g.message(5) { t in tensor(&t, name: "layer\(i).bias", dims: [layer.outputWidth], values: layer.bias) }
        }
    }

    /// A float32 initializer tensor.
    package static func tensor(_ t: inout ProtobufWriter, name: String, dims: [Int], values: [Float]) {
        for d in dims { t.int(1, Int64(d)) }
        t.int(2, float)
        t.string(8, name)
        var raw = [UInt8]()
        raw.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        t.bytes(9, raw)
    }

    /// A graph input or output `[batch, width]` of float32.
    package static func valueInfo(_ v: inout ProtobufWriter, name: String, width: Int) {
        v.string(1, name)
        v.message(2) { type in
            type.message(1) { tensorType in
                tensorType.int(1, float)
                tensorType.message(2) { shape in
                    shape.message(1) { dim in dim.string(2, "batch") }
                    shape.message(1) { dim in dim.int(1, Int64(width)) }
                }
            }
        }
    }
}
