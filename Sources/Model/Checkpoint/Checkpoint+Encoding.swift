import Crypto

// The binary layout (all integers little-endian; see docs/MODELS.md):
//
//   magic "RECPOOLM" (8) | format version u32 | body length u64 | body | SHA-256 of all before (32)
//
// body: model version u64 | kind u8 (1 MLP, 2 DQN) | architecture | feature spec (u64 length,
//       bytes) | metadata (u32 count, then u32-length key and value, sorted by key) |
//       weight count u64 | float32 weights in MLP.flatParameters order
// MLP architecture: input width u32 | layer count u32 | per layer: output width u32, activation u8
// DQN architecture: form u8 (1 action outputs, 2 item input) | state width u32 |
//       action count or item width u32 | γ f32 | MLP architecture

extension Checkpoint {
    static let headerSize = 20
    static let checksumSize = 32
    /// Widths and depths beyond these are rejected as corrupt rather than allocated.
    static let maxWidth = 1 << 20
    static let maxLayers = 64

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        body.u64(version)
        switch model {
        case .mlp(let m):
            body.u8(1)
            Self.writeArchitecture(m, to: &body)
        case .dqn(let d):
            body.u8(2)
            switch d.network.form {
            case .actionOutputs(let n):
                body.u8(1)
                body.u32(UInt32(d.network.stateWidth))
                body.u32(UInt32(n))
            case .itemInput(let w):
                body.u8(2)
                body.u32(UInt32(d.network.stateWidth))
                body.u32(UInt32(w))
            }
            body.f32(d.gamma)
            Self.writeArchitecture(d.network.network, to: &body)
        }
        body.u64(UInt64(featureSpec.count))
        body.raw(featureSpec)
        body.u32(UInt32(metadata.count))
        for key in metadata.keys.sorted() {
            let k = Array(key.utf8), v = Array(metadata[key]!.utf8)
            body.u32(UInt32(k.count))
            body.raw(k)
            body.u32(UInt32(v.count))
            body.raw(v)
        }
        let weights = model.network.flatParameters
        body.u64(UInt64(weights.count))
        body.f32s(weights)

        return Self.frame(body: body.bytes)
    }

    /// Header, body and checksum around an encoded body.
    static func frame(body: [UInt8], formatVersion: UInt32 = formatVersion) -> [UInt8] {
        var out = ByteWriter()
        out.raw(magic)
        out.u32(formatVersion)
        out.u64(UInt64(body.count))
        out.raw(body)
        out.raw(Array(SHA256.hash(data: out.bytes)))
        return out.bytes
    }

    static func writeArchitecture(_ m: MLP, to w: inout ByteWriter) {
        w.u32(UInt32(m.inputWidth))
        w.u32(UInt32(m.layers.count))
        for l in m.layers {
            w.u32(UInt32(l.outputWidth))
            w.u8(l.activation.rawValue)
        }
    }

    /// Decodes a checkpoint, verifying magic, version, length and SHA-256 before reading the body, and the recorded
    /// ``inputColumnsKey`` against the model's width.
    /// - Throws: ``CheckpointError`` naming the first problem found; no partial model is returned.
    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        let bodyLength = try Self.checkHeader(bytes.prefix(Self.headerSize), totalBytes: bytes.count)
        let bodyEnd = Self.headerSize + bodyLength
        let digest = Array(SHA256.hash(data: bytes[0..<bodyEnd]))
        guard digest == Array(bytes[bodyEnd...]) else { throw .checksumMismatch }
        self = try Self.decodeBody(ByteReader(bytes[Self.headerSize..<bodyEnd]))
        // A recorded column list that does not fit the model is refused by every reader alike: the registry imported
        // such a file (and a worker served it) that `predict` then refused, naming no file.
        _ = try inputColumns()
    }

    /// Checks a checkpoint's header, its first ``headerSize`` bytes (or all of a shorter file), against the size of
    /// the whole: the magic, the format version, and a body length that makes exactly `totalBytes` with the header
    /// and the checksum. A file's header is checked before the file is read (``decodeFile(_:)``), so a 3 GB file of
    /// zeros after the magic is refused from its 20 bytes instead of read whole (it aborted the process).
    /// - Returns: the body's length in bytes.
    /// - Throws: ``CheckpointError/truncated(expected:actual:)``, ``CheckpointError/badMagic``,
    ///   ``CheckpointError/unsupportedVersion(found:supported:)``, ``CheckpointError/invalidField(field:value:)`` for
    ///   a body length no file can have, ``CheckpointError/trailingBytes(count:)``.
    static func checkHeader(_ header: ArraySlice<UInt8>, totalBytes: Int) throws(CheckpointError) -> Int {
        let minimum = headerSize + checksumSize
        let start = header.startIndex
        guard header.count >= 8 else { throw .truncated(expected: minimum, actual: totalBytes) }
        guard Array(header[start..<(start + 8)]) == magic else { throw .badMagic }
        guard header.count >= headerSize else { throw .truncated(expected: minimum, actual: totalBytes) }
        var reader = ByteReader(header[(start + 8)..<(start + headerSize)])
        let format = try reader.u32("format version")
        guard format == formatVersion else { throw .unsupportedVersion(found: format, supported: formatVersion) }
        let bodyLength = try reader.u64("body length")
        guard bodyLength <= UInt64(Int.max - minimum) else { throw .invalidField(field: "body length", value: "\(bodyLength)") }
        let total = minimum + Int(bodyLength)
        guard totalBytes >= total else { throw .truncated(expected: total, actual: totalBytes) }
        guard totalBytes == total else { throw .trailingBytes(count: totalBytes - total) }
        return Int(bodyLength)
    }

    static func decodeBody(_ body: ByteReader) throws(CheckpointError) -> Checkpoint {
        var r = body
        let version = try r.u64("model version")
        let kind = try r.u8("model kind")
        var dqnHeader: (form: QNetworkForm, stateWidth: Int, gamma: Float)? = nil
        switch kind {
        case 1: break
        case 2:
            let formCode = try r.u8("DQN form")
            let stateWidth = try width(r.u32("DQN state width"), "DQN state width")
            let n = try width(r.u32("DQN action count or item width"), "DQN action count or item width")
            let gamma = try r.f32("DQN gamma")
            guard gamma.isFinite, gamma >= 0, gamma < 1 else { throw .invalidField(field: "DQN gamma", value: "\(gamma)") }
            switch formCode {
            case 1: dqnHeader = (.actionOutputs(actionCount: n), stateWidth, gamma)
            case 2: dqnHeader = (.itemInput(itemWidth: n), stateWidth, gamma)
            default: throw .invalidField(field: "DQN form", value: "\(formCode)")
            }
        default:
            throw .invalidField(field: "model kind", value: "\(kind)")
        }
        let inputWidth = try width(r.u32("input width"), "input width")
        let layerCount = Int(try r.u32("layer count"))
        guard layerCount >= 1, layerCount <= maxLayers else { throw .invalidField(field: "layer count", value: "\(layerCount)") }
        var shapes: [(width: Int, activation: Activation)] = []
        for i in 0..<layerCount {
            let w = try width(r.u32("layer \(i) width"), "layer \(i) width")
            let code = try r.u8("layer \(i) activation")
            guard let a = Activation(rawValue: code) else { throw .invalidField(field: "layer \(i) activation", value: "\(code)") }
            shapes.append((w, a))
        }
        var expected = 0
        var previous = inputWidth
        for s in shapes {
            expected += previous * s.width + s.width
            previous = s.width
        }
        let specLength = try r.u64("feature spec length")
        guard specLength <= UInt64(r.remaining) else { throw .bodyTooShort(field: "feature spec") }
        let spec = Array(try r.take(Int(specLength), "feature spec"))
        let metadataCount = Int(try r.u32("metadata count"))
        guard metadataCount <= r.remaining / 8 else { throw .bodyTooShort(field: "metadata") }
        var metadata: [String: String] = [:]
        var previousKey: String? = nil
        for i in 0..<metadataCount {
            let k = try r.string("metadata key \(i)")
            // Written sorted, each key once: a key again (whose value would silently replace the first) or out of
            // order is a damaged or hand-made file.
            if let previousKey, !(previousKey < k) {
                throw .invalidField(
                    field: "metadata key \(i)",
                    value: "'\(k)' after '\(previousKey)' (the keys are written once each, sorted)")
            }
            previousKey = k
            metadata[k] = try r.string("metadata value \(i)")
        }
        let count = try r.u64("weight count")
        guard count == UInt64(expected) else { throw .weightCountMismatch(expected: expected, found: Int(clamping: count)) }
        let weights = try r.f32s(expected, "weights")
        // A NaN or infinite weight makes every score NaN: such a file is refused here, for every reader (serving,
        // eval, predict, import), instead of being found later as a silent NaN or a metric that never ends.
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw .invalidField(field: "weights", value: "\(weights[bad]) at index \(bad) (every weight must be finite)")
        }
        guard r.remaining == 0 else { throw .invalidField(field: "body", value: "\(r.remaining) bytes after the weights") }

        var layers: [Dense] = []
        var o = 0
        previous = inputWidth
        for s in shapes {
            let nw = previous * s.width
            layers.append(Dense(
                weight: Matrix(rows: s.width, cols: previous, values: Array(weights[o..<(o + nw)])),
                bias: Array(weights[(o + nw)..<(o + nw + s.width)]), activation: s.activation))
            o += nw + s.width
            previous = s.width
        }
        let mlp = MLP(layers: layers)
        let model: CheckpointModel
        if let h = dqnHeader {
            let fits: Bool
            switch h.form {
            case .actionOutputs(let n): fits = mlp.inputWidth == h.stateWidth && mlp.outputWidth == n
            case .itemInput(let w): fits = mlp.inputWidth == h.stateWidth + w && mlp.outputWidth == 1
            }
            guard fits else { throw .invalidField(field: "DQN architecture", value: "network widths do not fit the form") }
            model = .dqn(DQNModel(network: QNetwork(network: mlp, form: h.form, stateWidth: h.stateWidth), gamma: h.gamma))
        } else {
            model = .mlp(mlp)
        }
        return Checkpoint(version: version, model: model, featureSpec: spec, metadata: metadata)
    }

    static func width(_ v: UInt32, _ field: String) throws(CheckpointError) -> Int {
        guard v >= 1, v <= UInt32(maxWidth) else { throw .invalidField(field: field, value: "\(v)") }
        return Int(v)
    }
}
