import RecTransport
import RecWire

/// A SCORE request received by the worker, with when it arrived and its tensor decoded once.
struct ReceivedRequest: Sendable {
    /// The request as it arrived.
    var message: WireMessage
    /// When it arrived, monotonic µs.
    var receivedAtMicros: UInt64
    /// The request's rows, or why its first frame is not a tensor within the limits (a missing
    /// frame, a bad shape, a non-finite value). Decoded on arrival and scored from this value.
    var tensor: Result<Tensor, WireError>

    /// Receives `message`, decoding its tensor within `limits`.
    init(message: WireMessage, receivedAtMicros: UInt64, limits: WireLimits = .standard) {
        self.message = message
        self.receivedAtMicros = receivedAtMicros
        tensor = Result { () throws(WireError) -> Tensor in
            try Tensor(decoding: try message.frame(0), maxRows: limits.maxRows, maxCols: limits.maxColumns)
        }
    }

    /// The rows this request adds to a micro-batch (1 when its tensor does not decode: it is not scored).
    var rows: Int { (try? tensor.get().rows) ?? 1 }
}

/// Micro-batching: validates each queued SCORE request, scores all valid rows with one forward
/// pass, and builds one reply per request. Pure apart from reading the clock for timings.
enum ScoringBatch {
    /// The replies to a batch, and how many rows one forward pass scored (0 when no request was valid).
    struct Outcome {
        var replies: [WireMessage]
        var rowsScored: Int
    }

    /// Answers `requests` with `replica`. Every request gets exactly one reply, in order.
    static func answer(_ requests: [ReceivedRequest], replica: ModelReplica, nowEpochMillis: UInt64) -> Outcome {
        var replies = [WireMessage?](repeating: nil, count: requests.count)
        var accepted: [(index: Int, rows: Int)] = []
        var values: [Float] = []
        for (index, request) in requests.enumerated() {
            let header = request.message.header
            if let problem = header.requestProblem {
                replies[index] = .errorReply(to: header, status: problem.status, message: problem.description)
                continue
            }
            if header.isExpired(atEpochMillis: nowEpochMillis) {
                replies[index] = .errorReply(
                    to: header, status: .expired, message: "the deadline passed before compute")
                continue
            }
            if let problem = versionProblem(header, replica: replica) {
                replies[index] = .errorReply(to: header, status: .conflict, message: problem)
                continue
            }
            switch request.tensor {
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
                values.append(contentsOf: tensor.values)
            case .failure(let error):
                replies[index] = .errorReply(to: header, status: error.status, message: error.description)
            }
        }
        var totalRows = 0
        if !accepted.isEmpty {
            totalRows = accepted.reduce(0) { $0 + $1.rows }
            let start = Clocks.monotonicMicros()
            let scores = replica.score(values, rows: totalRows)
            let compute = UInt32(clamping: Clocks.monotonicMicros() - start)
            var offset = 0
            for (index, rows) in accepted {
                let request = requests[index]
                var header = request.message.header.reply(status: .ok, modelVersion: replica.version)
                header.attempt = request.message.header.attempt
                header.workerQueueMicros = UInt32(clamping: start &- request.receivedAtMicros)
                header.computeMicros = compute
                let slice = Array(scores[offset..<(offset + rows)])
                offset += rows
                if let row = slice.firstIndex(where: { !$0.isFinite }) {
                    // A finite row can still overflow inside the network (3e38 at width 4): no NaN leaves the worker.
                    var reply = WireMessage.errorReply(
                        to: request.message.header, status: .badRequest,
                        message: Self.nonFiniteMessage(row: row, score: slice[row], version: replica.version))
                    reply.header.attempt = request.message.header.attempt
                    reply.header.computeMicros = compute
                    replies[index] = reply
                    continue
                }
                replies[index] = WireMessage(
                    header: header, payload: [Tensor(rows: rows, cols: 1, values: slice).encoded()])
            }
        }
        let answered = replies.map { reply in
            var reply = reply!
            if reply.header.modelVersion == 0 { reply.header.modelVersion = replica.version }
            return reply
        }
        return Outcome(replies: answered, rowsScored: totalRows)
    }

    /// The `BAD_REQUEST` message for a row (0-based, as in the tensor) whose score is not finite.
    static func nonFiniteMessage(row: Int, score: Float, version: UInt64) -> String {
        "row \(row) (0-based): model version \(version) computes a score of \(score) (the values overflow inside the model); "
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
