import RecModel
import RecTransport
import RecWire

/// The shape of a SCORE request's tensor, validated on arrival.
struct TensorShape: Sendable, Hashable {
    /// Rows (one item each).
    var rows: Int
    /// Features per row.
    var cols: Int
}

/// A SCORE request's tensor frame as the worker holds it: inside libzmq as received (the session's
/// path), or as bytes (tests, and a frame the socket copied).
enum TensorFrame: Sendable {
    /// Bytes in Swift memory.
    case bytes([UInt8])
    /// A frame kept inside libzmq, uncopied.
    case held(ZMQFrame)

    /// Calls `body` with the frame's bytes, in place.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch self {
        case .bytes(let bytes): bytes.withUnsafeBytes(body)
        case .held(let frame): frame.withUnsafeBytes(body)
        }
    }
}

/// A SCORE request received by the worker, with when it arrived and its tensor validated once, in
/// place: the values stay in the received frame (inside libzmq) and are read from there.
struct ReceivedRequest: Sendable {
    /// The request as it arrived (its payload holds the tensor frame only when it came as bytes).
    var message: WireMessage
    /// When it arrived, monotonic µs.
    var receivedAtMicros: UInt64
    /// The tensor frame: the first held frame, else the first payload frame.
    var frame: TensorFrame?
    /// The request's tensor shape, or why its frame is not a tensor within the limits (a missing
    /// frame, a bad shape, a non-finite value). Checked on arrival without copying the values.
    var shape: Result<TensorShape, WireError>

    /// Receives `message`, whose tensor is `held.first` when the session kept it inside libzmq and
    /// otherwise its first payload frame, validating it within `limits`.
    init(message: WireMessage, held: [ZMQFrame] = [], receivedAtMicros: UInt64, limits: WireLimits = .standard) {
        self.message = message
        self.receivedAtMicros = receivedAtMicros
        let frame = held.first.map(TensorFrame.held) ?? message.payload.first.map(TensorFrame.bytes)
        self.frame = frame
        shape = Result { () throws(WireError) -> TensorShape in
            guard let frame else { throw .missingFrames(expected: 2, got: 1 + message.payload.count) }
            return try frame.withBytes { raw in Result { () throws(WireError) in try Self.validate(raw, limits) } }.get()
        }
    }

    /// The shape of an encoded tensor, after checking it and that every value is finite.
    private static func validate(_ raw: UnsafeRawBufferPointer, _ limits: WireLimits) throws(WireError) -> TensorShape {
        let (rows, cols) = try Tensor.shape(ofEncoded: raw, maxRows: limits.maxRows, maxCols: limits.maxColumns)
        if let bad = Tensor.firstNonFinite(inEncoded: raw, count: rows * cols) {
            throw .nonFiniteValue(row: bad / cols, column: bad % cols)
        }
        return TensorShape(rows: rows, cols: cols)
    }

    /// The rows this request adds to a micro-batch (1 when its tensor is invalid: it is not scored).
    var rows: Int { (try? shape.get().rows) ?? 1 }

    /// Calls `body` with the request's values, row-major, read in place from the tensor frame (the
    /// little-endian float32 values after its 8-byte shape). Copies them only when the frame's bytes
    /// are not aligned for `Float`, or on a big-endian machine.
    /// - Precondition: the tensor is valid (``shape`` is a success).
    func withValues<Result>(_ body: (UnsafeBufferPointer<Float>) -> Result) -> Result {
        guard let frame else { preconditionFailure("withValues on a request without a tensor frame") }
        return frame.withBytes { raw in
            let values = UnsafeRawBufferPointer(rebasing: raw[8...])
            #if _endian(little)
                if Int(bitPattern: values.baseAddress) % MemoryLayout<Float>.alignment == 0 {
                    return values.withMemoryRebound(to: Float.self, body)
                }
            #endif
            let copied = (try? Tensor(decoding: Array(raw), requireFinite: false).values) ?? []
            return copied.withUnsafeBufferPointer(body)
        }
    }
}

/// What scoring reuses from one batch to the next: the forward pass's buffers, the buffer a
/// micro-batch of several requests is assembled in, and the buffers the replies' score tensors are
/// encoded into. Owned by the worker's core, so a batch in steady state allocates no buffer for
/// its values.
struct ScoringWorkspace: Sendable {
    /// The forward pass's buffers.
    var forward = ForwardWorkspace()
    /// Rows of several requests, copied once each, back to back.
    var assembly: [Float] = []
    /// The buffers the replies' score tensors are encoded into.
    var replies = ReplyBuffers()

    /// Makes room for `count` assembled values, reallocating only when it has to.
    mutating func reserveAssembly(_ count: Int) {
        if assembly.count < count { assembly = [Float](repeating: 0, count: count) }
    }
}

/// One score-tensor buffer per reply of a batch, reused from batch to batch: the `i`-th accepted
/// request's reply is encoded into `buffers[i]`. A reply's payload shares its buffer (a reference,
/// not a copy) until the socket has sent it and the reply is dropped; the buffer is then written in
/// place for the next batch. A reply still held elsewhere (a test keeping an outcome) keeps its
/// bytes: writing a shared array copies it first (copy-on-write), so reuse can never change a reply
/// already made, only cost an allocation.
struct ReplyBuffers: Sendable {
    /// The buffers, one per reply slot.
    var buffers: [[UInt8]] = []
    /// How many times a buffer had to be allocated or grown (reuse held otherwise).
    var allocations = 0

    /// The reply tensor frame `rows × 1` of `scores` (docs/PROTOCOL.md: u32 LE rows, u32 LE cols,
    /// float32 LE values), encoded into buffer `slot` and returned as a reference to it.
    mutating func encodeScores(_ scores: UnsafeBufferPointer<Float>, slot: Int) -> [UInt8] {
        while buffers.count <= slot { buffers.append([]) }
        let size = 8 + scores.count * 4
        let before = buffers[slot].withUnsafeBytes { $0.baseAddress }
        if buffers[slot].count != size {
            buffers[slot].removeAll(keepingCapacity: true)
            buffers[slot].append(contentsOf: repeatElement(0, count: size))
        }
        buffers[slot].withUnsafeMutableBytes { raw in
            ScoringBatch.writeTensor(rows: scores.count, cols: 1, values: scores, into: raw)
        }
        // A new address: the buffer was too small, or still shared with an earlier reply, and was copied.
        if buffers[slot].withUnsafeBytes({ $0.baseAddress }) != before { allocations += 1 }
        return buffers[slot]
    }
}

/// Micro-batching: validates each queued SCORE request, scores all valid rows with one forward
/// pass, and builds one reply per request. Pure apart from reading the clock for timings.
enum ScoringBatch {
    /// The replies to a batch, how many rows its one forward pass computed (0 when no request was valid), and how many
    /// of them were answered with scores (a request whose rows score a non-finite value is answered BAD_REQUEST).
    struct Outcome {
        var replies: [WireMessage]
        var rowsComputed: Int
        var rowsScored: Int
        /// The forward pass's time in µs when one ran, whatever its replies' statuses (a batch whose only request
        /// scored a non-finite value and was answered BAD_REQUEST still ran one).
        var computeMicros: UInt32? = nil
    }

    /// Answers `requests` with `replica`. Every request gets exactly one reply, in order.
    static func answer(_ requests: [ReceivedRequest], replica: ModelReplica, nowEpochMillis: UInt64) -> Outcome {
        var workspace = ScoringWorkspace()
        return answer(requests, replica: replica, nowEpochMillis: nowEpochMillis, workspace: &workspace)
    }

    /// Answers `requests` with `replica`, reusing `workspace`'s buffers. Every request gets exactly
    /// one reply, in order. A single valid request is scored from its frame in place; several are
    /// assembled into one matrix (each row copied once) and scored with one forward pass.
    static func answer(
        _ requests: [ReceivedRequest], replica: ModelReplica, nowEpochMillis: UInt64,
        workspace: inout ScoringWorkspace
    ) -> Outcome {
        var replies = [WireMessage?](repeating: nil, count: requests.count)
        var accepted: [(index: Int, rows: Int)] = []
        for (index, request) in requests.enumerated() {
            let header = request.message.header
            if let problem = header.requestProblem {
                replies[index] = .errorReply(to: header, status: problem.status, message: problem.description)
                continue
            }
            if header.isExpired(atEpochMillis: nowEpochMillis) {
                replies[index] = .errorReply(
                    to: header, status: .expired, message: header.expiredBeforeCompute(atEpochMillis: nowEpochMillis))
                continue
            }
            if let problem = versionProblem(header, replica: replica) {
                replies[index] = .errorReply(to: header, status: .conflict, message: problem)
                continue
            }
            switch request.shape {
            case .success(let tensor):
                guard tensor.cols == replica.inputWidth else {
                    replies[index] = .errorReply(
                        to: header, status: .badRequest,
                        message:
                            "rows have \(tensor.cols) features; model version \(replica.version) expects \(replica.inputWidth)"
                    )
                    continue
                }
                accepted.append((index, tensor.rows))
            case .failure(let error):
                replies[index] = .errorReply(to: header, status: error.status, message: error.description)
            }
        }
        var totalRows = 0
        if !accepted.isEmpty {
            totalRows = accepted.reduce(0) { $0 + $1.rows }
            let start = Clocks.monotonicMicros()
            let version = replica.version
            let mlp = replica.mlp
            if accepted.count == 1 {
                // A request alone is scored from its frame, uncopied.
                requests[accepted[0].index].withValues { values in
                    mlp.forward(rows: totalRows, input: values, workspace: &workspace.forward) { scores in
                        fill(
                            &replies, accepted: accepted, requests: requests, scores: scores, start: start,
                            version: version, buffers: &workspace.replies)
                    }
                }
            } else {
                // Each row is copied once, into the reused assembly buffer.
                let width = replica.inputWidth
                workspace.reserveAssembly(totalRows * width)
                workspace.assembly.withUnsafeMutableBufferPointer { target in
                    var offset = 0
                    for (index, rows) in accepted {
                        requests[index].withValues { values in
                            let count = rows * width
                            _ = UnsafeMutableBufferPointer(rebasing: target[offset..<(offset + count)])
                                .update(fromContentsOf: UnsafeBufferPointer(rebasing: values[0..<count]))
                            offset += count
                        }
                    }
                }
                let assembled = workspace.assembly
                assembled.withUnsafeBufferPointer { input in
                    mlp.forward(rows: totalRows, input: input, workspace: &workspace.forward) { scores in
                        fill(
                            &replies, accepted: accepted, requests: requests, scores: scores, start: start,
                            version: version, buffers: &workspace.replies)
                    }
                }
            }
        }
        let answered = replies.map { reply in
            var reply = reply!
            if reply.header.modelVersion == 0 { reply.header.modelVersion = replica.version }
            return reply
        }
        let scored = accepted.reduce(0) { $0 + (answered[$1.index].header.status == .ok ? $1.rows : 0) }
        return Outcome(
            replies: answered, rowsComputed: totalRows, rowsScored: scored,
            computeMicros: accepted.first.map { answered[$0.index].header.computeMicros })
    }

    /// Answers each accepted request from its slice of `scores` (the batch's outputs, in the order
    /// of `accepted`); the compute time is the forward pass's, from `start` to now.
    private static func fill(
        _ replies: inout [WireMessage?], accepted: [(index: Int, rows: Int)], requests: [ReceivedRequest],
        scores: UnsafeBufferPointer<Float>, start: UInt64, version: UInt64, buffers: inout ReplyBuffers
    ) {
        let compute = UInt32(clamping: Clocks.monotonicMicros() - start)
        var offset = 0
        for (slot, (index, rows)) in accepted.enumerated() {
            replies[index] = reply(
                to: requests[index], scores: UnsafeBufferPointer(rebasing: scores[offset..<(offset + rows)]),
                startedAt: start, computeMicros: compute, version: version, slot: slot, buffers: &buffers)
            offset += rows
        }
    }

    /// Writes a `rows × cols` tensor frame (docs/PROTOCOL.md: u32 LE rows, u32 LE cols, float32 LE
    /// values) of `values` into the first `8 + 4·values.count` bytes of `raw`.
    static func writeTensor(rows: Int, cols: Int, values: UnsafeBufferPointer<Float>, into raw: UnsafeMutableRawBufferPointer) {
        precondition(values.count == rows * cols && raw.count >= 8 + values.count * 4, "tensor: \(values.count) values for \(rows)×\(cols) in \(raw.count) bytes")
        raw.storeBytes(of: UInt32(rows).littleEndian, toByteOffset: 0, as: UInt32.self)
        raw.storeBytes(of: UInt32(cols).littleEndian, toByteOffset: 4, as: UInt32.self)
        for (i, value) in values.enumerated() {
            raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 8 + i * 4, as: UInt32.self)
        }
    }

    /// The reply to one scored request: its scores as a `rows × 1` tensor, or BAD_REQUEST naming
    /// the first row whose score is not finite (a finite row can still overflow inside the network,
    /// 3e38 at width 4: no NaN leaves the worker).
    private static func reply(
        to request: ReceivedRequest, scores: UnsafeBufferPointer<Float>, startedAt start: UInt64,
        computeMicros compute: UInt32, version: UInt64, slot: Int, buffers: inout ReplyBuffers
    ) -> WireMessage {
        let requestHeader = request.message.header
        if let row = scores.firstIndex(where: { !$0.isFinite }) {
            var reply = WireMessage.errorReply(
                to: requestHeader, status: .badRequest,
                message: Self.nonFiniteMessage(row: row, score: scores[row], version: version))
            reply.header.attempt = requestHeader.attempt
            reply.header.computeMicros = compute
            return reply
        }
        var header = requestHeader.reply(status: .ok, modelVersion: version)
        header.attempt = requestHeader.attempt
        header.workerQueueMicros = UInt32(clamping: start &- request.receivedAtMicros)
        header.computeMicros = compute
        return WireMessage(header: header, payload: [buffers.encodeScores(scores, slot: slot)])
    }

    /// The `BAD_REQUEST` message for a row (0-based, as in the tensor) whose score is not finite.
    static func nonFiniteMessage(row: Int, score: Float, version: UInt64) -> String {
        // A NaN with its sign bit set prints as "-nan": every NaN is named "nan".
        "row \(row) (0-based): model version \(version) computes a score of \(score.isNaN ? "nan" : "\(score)") "
            + "(the values overflow inside the model); "
            + "no row of this request was scored"
    }

    /// Why `replica` may not answer a request pinned to a version, or `nil` when it may.
    static func versionProblem(_ header: Header, replica: ModelReplica) -> String? {
        versionProblem(header, served: replica.version)
    }

    /// Why the `served` version may not answer a request pinned to a version, or `nil` when it may.
    static func versionProblem(_ header: Header, served: UInt64) -> String? {
        let wanted = header.modelVersion
        guard wanted != 0 else { return nil }
        if header.flags.contains(.exactVersion) {
            return served == wanted ? nil : "request pins model version \(wanted); this worker serves \(served)"
        }
        return served >= wanted ? nil : "request needs model version ≥ \(wanted); this worker serves \(served)"
    }
}
