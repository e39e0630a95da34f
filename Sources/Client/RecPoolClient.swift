import RecTransport
import RecWire

/// An async client of a RecPool broker.
///
/// Calls never touch the socket: they queue frames and await a continuation keyed by request id,
/// while one dedicated I/O thread owns the DEALER socket (``ClientIOLoop``). Every call has a
/// timeout, which is sent to the broker as the request's deadline, so the broker drops work nobody
/// waits for. Safe to share between tasks.
public final class RecPoolClient: Sendable {
    /// Options for a client.
    public struct Options: Sendable {
        /// The default timeout of a call, in ms.
        public var timeoutMs: UInt64 = 5000
        /// Extra grace after the deadline before the client gives up locally, in ms, so that the
        /// broker's own EXPIRED reply (with its reason) normally arrives first: the broker answers a request a worker
        /// holds 1 s after its deadline (`BrokerConfiguration.inflightGraceMs`), so 1,250 ms. At 250 ms a request a
        /// partitioned worker held was reported as a local timeout (exit 3, "unreachable") though the broker answered.
        public var localGraceMs: UInt64 = 1_250
        /// Extra socket options, such as CURVE keys.
        public var socketOptions: [SocketOption] = []
        /// The ZeroMQ context to use instead of the client's own: a broker's, to reach its `inproc://`
        /// frontend from the same process.
        public var context: ZMQContext? = nil

        /// Creates default options.
        public init() {}
    }

    /// The broker endpoint.
    public let endpoint: String
    let options: Options
    private let context: ZMQContext
    private let shared = ClientShared()

    /// Connects to a broker's frontend, such as `tcp://127.0.0.1:5555`.
    /// - Throws: ``ClientError/badEndpoint(_:_:)`` when the endpoint is malformed.
    public init(endpoint: String, options: Options = Options()) async throws(ClientError) {
        self.endpoint = endpoint
        self.options = options
        self.context = options.context ?? ZMQContext()
        let context = self.context
        let shared = self.shared
        let socketOptions = options.socketOptions
        let started: Result<Void, ClientError> = await withCheckedContinuation { continuation in
            DedicatedThread.start(name: "recpool-client") {
                ClientIOLoop.run(
                    context: context, endpoint: endpoint, socketOptions: socketOptions, shared: shared
                ) { result in continuation.resume(returning: result) }
            }
        }
        try started.get()
    }

    deinit { close() }

    /// Stops the I/O thread; calls still waiting fail with ``ClientError/closed``.
    public func close() {
        shared.state.withLock { $0.closed = true }
        shared.wakeup.signal()
    }

    /// A fresh request id, unique for this client.
    public func nextRequestId() -> UInt64 {
        shared.state.withLock { s in
            defer { s.nextRequestId += 1 }
            return s.nextRequestId
        }
    }

    /// Sends a request and awaits its reply, whatever its status.
    ///
    /// This is the low-level call the typed ones build on; the load tester uses it directly. If the
    /// header's request id is 0, a fresh one is assigned; if its deadline is 0, the timeout sets it.
    /// - Returns: the reply, which may carry an error status.
    /// - Throws: ``ClientError`` for a timeout, cancellation or a closed client.
    public func roundTrip(_ request: WireMessage, timeoutMs: UInt64? = nil) async throws(ClientError) -> WireMessage {
        var request = request
        let timeout = timeoutMs ?? options.timeoutMs
        if request.header.requestId == 0 { request.header.requestId = nextRequestId() }
        if request.header.deadlineMs == 0 { request.header.deadlineMs = Clocks.epochMillis().addingSaturating(timeout) }
        let id = request.header.requestId
        let frames = request.frames()
        let giveUpAt = Clocks.monotonicMicros().addingSaturating(
            timeout.addingSaturating(options.localGraceMs).multipliedSaturating(by: 1000))
        let shared = self.shared
        let wakeup = shared.wakeup
        let result: Result<WireMessage, ClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let accepted = shared.state.withLock { s -> Bool in
                    guard !s.closed else { return false }
                    s.waiters[id] = ClientState.Waiter(
                        continuation: continuation, giveUpAtMicros: giveUpAt, timeoutMs: timeout)
                    s.expiries.insert(ClientState.Expiry(atMicros: giveUpAt, id: id))
                    s.outgoing.append(frames)
                    return true
                }
                if accepted { wakeup.signal() } else { continuation.resume(returning: .failure(.closed)) }
            }
        } onCancel: {
            let waiter = shared.state.withLock { s -> ClientState.Waiter? in
                let waiter = s.take(id)
                if waiter != nil {
                    let cancel = WireMessage(
                        header: Header(command: .cancel, requestId: s.nextRequestId, deadlineMs: 0),
                        payload: [CancelPayload.encode(id)])
                    s.nextRequestId += 1
                    s.outgoing.append(cancel.frames())
                }
                return waiter
            }
            if let waiter {
                wakeup.signal()
                waiter.continuation.resume(returning: .failure(.cancelled))
            }
        }
        return try result.get()
    }

    /// Like ``roundTrip(_:timeoutMs:)``, but an error status becomes ``ClientError/server(status:message:retryAfterMs:)``.
    public func call(_ request: WireMessage, timeoutMs: UInt64? = nil) async throws(ClientError) -> WireMessage {
        let reply = try await roundTrip(request, timeoutMs: timeoutMs)
        // A reply to another command (a RECOMMEND reply to a SCORE) is a broken reply, whatever it holds.
        guard reply.header.command == request.header.command else {
            throw .protocolViolation(
                .unexpectedCommand("a \(reply.header.command.name) reply to a \(request.header.command.name) request"))
        }
        guard reply.header.status == .ok else {
            // An error reply carries exactly one payload frame, its message (docs/PROTOCOL.md, "Status codes").
            guard reply.payload.count == 1 else {
                throw .protocolViolation(
                    .errorReplyFrames(status: reply.header.status.name, payloadFrames: reply.payload.count))
            }
            throw .server(
                status: reply.header.status, message: reply.errorText ?? "", retryAfterMs: reply.header.retryAfterMs)
        }
        return reply
    }

    /// Scores feature rows with the served MLP.
    /// - Parameters:
    ///   - rows: one feature row per input, all of the model's input width.
    ///   - version: which model version may answer.
    ///   - timeoutMs: the call's timeout, sent as the deadline; defaults to the client's option.
    /// - Returns: one probability per row, in order, and the version that produced them.
    public func score(_ rows: Tensor, version: VersionRequirement = .any, timeoutMs: UInt64? = nil)
        async throws(ClientError) -> Scores
    {
        var header = Header(command: .score)
        version.apply(to: &header)
        let reply = try await call(WireMessage(header: header, payload: [rows.encoded()]), timeoutMs: timeoutMs)
        guard let frame = reply.payload.first else { throw .protocolViolation(.missingFrames(expected: 2, got: 1)) }
        guard reply.payload.count == 1 else {
            throw .protocolViolation(.tooManyFrames(count: reply.payload.count + 1, limit: 2))
        }
        let tensor: Tensor
        do {
            tensor = try Tensor(decoding: frame, requireFinite: false)
        } catch {
            throw .protocolViolation(error)
        }
        guard tensor.rows == rows.rows, tensor.cols == 1 else {
            throw .protocolViolation(.scoreShape(rows: tensor.rows, cols: tensor.cols, expectedRows: rows.rows))
        }
        // A score outside [0, 1] is no probability, NaN and ±∞ included (as the Python client refuses them).
        if let row = tensor.values.firstIndex(where: { !(0...1).contains($0) }) {
            throw .protocolViolation(.scoreOutOfRange(row: row, value: tensor.values[row]))
        }
        return Scores(
            modelVersion: reply.header.modelVersion, values: tensor.values, timings: ReplyTimings(reply.header))
    }

    /// Scores rows given as arrays.
    /// - Throws: ``ClientError/invalidRequest(_:)`` for an empty or ragged batch.
    public func score(rows: [[Float]], version: VersionRequirement = .any, timeoutMs: UInt64? = nil)
        async throws(ClientError) -> Scores
    {
        let tensor: Tensor
        do {
            tensor = try Tensor(rows: rows)
        } catch {
            throw .invalidRequest(error.description)
        }
        return try await score(tensor, version: version, timeoutMs: timeoutMs)
    }

    /// Sends a RECOMMEND document and returns the reply document's bytes (JSON) and model version.
    public func recommend(document: [UInt8], version: VersionRequirement = .any, timeoutMs: UInt64? = nil)
        async throws(ClientError) -> (document: [UInt8], modelVersion: UInt64)
    {
        var header = Header(command: .recommend)
        version.apply(to: &header)
        let reply = try await call(WireMessage(header: header, payload: [document]), timeoutMs: timeoutMs)
        guard let frame = reply.payload.first else { throw .protocolViolation(.missingFrames(expected: 2, got: 1)) }
        guard reply.payload.count == 1 else {
            throw .protocolViolation(.tooManyFrames(count: reply.payload.count + 1, limit: 2))
        }
        return (frame, reply.header.modelVersion)
    }

    /// Asks the broker for its status.
    public func status(timeoutMs: UInt64? = nil) async throws(ClientError) -> StatusDocument {
        let reply = try await call(WireMessage(header: Header(command: .status)), timeoutMs: timeoutMs)
        guard let frame = reply.payload.first else { throw .protocolViolation(.missingFrames(expected: 2, got: 1)) }
        guard reply.payload.count == 1 else {
            throw .protocolViolation(.tooManyFrames(count: reply.payload.count + 1, limit: 2))
        }
        do {
            return try WireJSON.decode(StatusDocument.self, from: frame)
        } catch {
            throw .protocolViolation(error)
        }
    }
}

extension RecPoolClient {
    /// Sends a CONTROL request and decodes its JSON reply.
    /// - Parameters:
    ///   - request: the operation and its arguments.
    ///   - bytes: an extra frame (an upload chunk's bytes).
    /// - Throws: ``ClientError``; a broker refusal is ``ClientError/server(status:message:retryAfterMs:)``.
    public func control<T: Decodable>(
        _ request: ControlRequest, bytes: [UInt8]? = nil, as type: T.Type, timeoutMs: UInt64? = nil
    ) async throws(ClientError) -> T {
        var payload = [WireJSON.encode(request)]
        if let bytes { payload.append(bytes) }
        let reply = try await call(WireMessage(header: Header(command: .control), payload: payload), timeoutMs: timeoutMs)
        guard let frame = reply.payload.first else { throw .protocolViolation(.missingFrames(expected: 2, got: 1)) }
        guard reply.payload.count == 1 else {
            throw .protocolViolation(.tooManyFrames(count: reply.payload.count + 1, limit: 2))
        }
        do {
            return try WireJSON.decode(type, from: frame)
        } catch {
            throw .protocolViolation(error)
        }
    }
}

extension RecPoolClient {
    /// Downloads a registered model version's checkpoint.
    /// - Returns: the version's description and the checkpoint bytes.
    public func fetchModel(version: UInt64, timeoutMs: UInt64? = nil) async throws(ClientError) -> (ModelView, [UInt8]) {
        let request = WireMessage(header: Header(command: .control), payload: [WireJSON.encode(ControlRequest(.fetch, version: version))])
        let reply = try await call(request, timeoutMs: timeoutMs)
        guard reply.payload.count >= 2 else { throw .protocolViolation(.missingFrames(expected: 3, got: reply.payload.count + 1)) }
        do {
            return (try WireJSON.decode(ModelView.self, from: reply.payload[0]), reply.payload[1])
        } catch {
            throw .protocolViolation(error)
        }
    }
}
