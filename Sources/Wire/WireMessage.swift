/// Limits a peer enforces on every inbound message, before it looks at the payload.
///
/// `ZMQ_MAXMSGSIZE` alone is not enough: libzmq checks it per frame, so a message of many frames
/// could still be huge. These limits apply to the whole multipart message.
public struct WireLimits: Sendable, Hashable, Codable {
    /// The most frames a message may have, header included.
    public var maxFrames: Int
    /// The most bytes all frames together may have.
    public var maxMessageBytes: Int
    /// The most rows one scoring request may carry.
    public var maxRows: Int
    /// The most columns (features) a row may have.
    public var maxColumns: Int

    /// Creates limits.
    public init(maxFrames: Int = 8, maxMessageBytes: Int = 16 << 20, maxRows: Int = 8192, maxColumns: Int = 4096) {
        self.maxFrames = maxFrames
        self.maxMessageBytes = maxMessageBytes
        self.maxRows = maxRows
        self.maxColumns = maxColumns
    }

    /// The defaults documented in docs/PROTOCOL.md.
    public static let standard = WireLimits()

    /// What a worker accepts from its broker: the standard limits, but messages of up to 1 GiB. The broker ships a
    /// training round's dataset and every catalogue version whole, and it is the worker's one (authenticated) peer;
    /// with the client's 16 MiB a larger dataset or catalogue made libzmq drop the connection on every send, so the
    /// worker reconnected forever (docs/PROTOCOL.md, "Limits").
    public static let workerInbound = WireLimits(maxMessageBytes: 1 << 30)

    /// The most bytes of content the broker ships to a worker in one message (an uploaded dataset, a catalogue
    /// version's canonical bytes): ``workerInbound`` less 1 MiB for the header and the other frames. An upload or a
    /// catalogue over it is refused BAD_REQUEST naming the size.
    public static let maximumShippedBytes = workerInbound.maxMessageBytes - (1 << 20)
}

/// A decoded RecPool message: the header and the payload frames after it.
public struct WireMessage: Sendable, Hashable {
    /// The header frame, decoded.
    public var header: Header
    /// The frames after the header; their meaning depends on the command.
    public var payload: [[UInt8]]

    /// Creates a message.
    public init(header: Header, payload: [[UInt8]] = []) {
        self.header = header
        self.payload = payload
    }

    /// The frames to send, header first.
    public func frames() -> [[UInt8]] { [header.encoded()] + payload }

    /// Decodes frames (without any routing identity) after checking the whole-message limits: no frames, too many
    /// frames, too many bytes, then the header, in that order.
    ///
    /// The array of frames every socket shell hands over takes this overload, compiled in this module for that type:
    /// the generic one below, called from another module, ran unspecialised on the broker's hot path (witness-table
    /// calls and runtime generic metadata per message; issue 19's profile).
    /// - Throws: ``WireError`` naming the problem.
    public init(decoding frames: [[UInt8]], limits: WireLimits = .standard) throws(WireError) {
        guard let first = frames.first else { throw .missingFrames(expected: 1, got: 0) }
        guard frames.count <= limits.maxFrames else {
            throw .tooManyFrames(count: frames.count, limit: limits.maxFrames)
        }
        var total = 0
        for frame in frames { total += frame.count }
        guard total <= limits.maxMessageBytes else {
            throw .messageTooLarge(bytes: total, limit: limits.maxMessageBytes)
        }
        header = try Header(decoding: first)
        payload = frames.count == 1 ? [] : Array(frames[1...])
    }

    /// Decodes any collection of frames (without any routing identity) as ``init(decoding:limits:)`` does an array.
    /// - Throws: ``WireError`` naming the problem.
    public init<C: Collection>(decoding frames: C, limits: WireLimits = .standard) throws(WireError)
    where C.Element == [UInt8] {
        try self.init(decoding: Array(frames), limits: limits)
    }

    /// The payload frame at `index`, or an error naming how many frames the command needs.
    public func frame(_ index: Int) throws(WireError) -> [UInt8] {
        guard index < payload.count else { throw .missingFrames(expected: index + 2, got: payload.count + 1) }
        return payload[index]
    }

    /// An error reply to `request`: the status and a UTF-8 message frame.
    public static func errorReply(to request: Header, status: Status, message: String, retryAfterMs: UInt32 = 0)
        -> WireMessage
    {
        var header = request.reply(status: status)
        header.retryAfterMs = retryAfterMs
        // Bounded and escaped: an error quoting what a client sent neither grows with it nor acts on a terminal.
        return WireMessage(header: header, payload: [Array(WireText.boundedErrorText(message).utf8)])
    }

    /// The text of an error reply's message frame, if any.
    public var errorText: String? {
        guard header.status != .ok, let first = payload.first else { return nil }
        return String(decoding: first, as: UTF8.self)
    }
}
