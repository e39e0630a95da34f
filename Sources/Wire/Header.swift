/// The fixed 56-byte first frame of every RecPool message. All integers are little-endian.
///
/// ```
/// offset size field
///  0     3    magic "RPL"
///  3     1    protocol version (1)
///  4     1    command (high bit set on replies)
///  5     1    reserved, 0
///  6     2    flags (bit 0: model_version is an exact pin)
///  8     8    request id
/// 16     8    deadline, ms since the Unix epoch (0 = none)
/// 24     8    model version (request: wanted, 0 = any; reply: the version that answered)
/// 32     2    status (replies)
/// 34     2    attempt (broker to worker: dispatch attempt, from 1)
/// 36     4    broker queue time, µs (replies)
/// 40     4    worker queue time, µs (replies)
/// 44     4    compute time, µs (replies)
/// 48     4    retry after, ms (BUSY replies)
/// 52     4    reserved, 0
/// ```
public struct Header: Sendable, Hashable {
    /// The length of the header frame.
    public static let size = 56
    /// The first three bytes of every message: ASCII "RPL".
    public static let magic: [UInt8] = [0x52, 0x50, 0x4C]
    /// The protocol version this code speaks.
    public static let currentVersion: UInt8 = 1
    /// The bit set on the command byte of a reply.
    public static let replyBit: UInt8 = 0x80

    /// Header flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// `model_version` must match exactly; without it a non-zero version is a minimum.
        public static let exactVersion = Flags(rawValue: 1 << 0)
        /// On `HEARTBEAT`, worker to broker: "I am draining; dispatch nothing more to me". Broker to
        /// worker: "nothing more will be dispatched to you" (the answer to a draining worker, or an
        /// order to drain from `recpool drain`). Since a connection delivers in order, a worker that
        /// has read it holds every request it will ever get.
        public static let drain = Flags(rawValue: 1 << 1)
    }

    /// The command.
    public var command: Command
    /// Whether this message is a reply to `command`.
    public var isReply: Bool
    /// Flags.
    public var flags: Flags
    /// The request id, unique per client (or, between broker and worker, per dispatch).
    public var requestId: UInt64
    /// The deadline in ms since the Unix epoch; 0 means none.
    public var deadlineMs: UInt64
    /// The model version wanted (requests) or used (replies).
    public var modelVersion: UInt64
    /// The reply status.
    public var status: Status
    /// The dispatch attempt, counted from 1 (broker to worker).
    public var attempt: UInt16
    /// Time the request spent queued in the broker, µs.
    public var brokerQueueMicros: UInt32
    /// Time the request spent queued in the worker, µs.
    public var workerQueueMicros: UInt32
    /// Time spent computing the answer, µs.
    public var computeMicros: UInt32
    /// For BUSY: how long the client should wait before retrying, ms.
    public var retryAfterMs: UInt32

    /// Creates a header; every field but the command defaults to zero.
    public init(
        command: Command, isReply: Bool = false, flags: Flags = [], requestId: UInt64 = 0, deadlineMs: UInt64 = 0,
        modelVersion: UInt64 = 0, status: Status = .ok, attempt: UInt16 = 0, brokerQueueMicros: UInt32 = 0,
        workerQueueMicros: UInt32 = 0, computeMicros: UInt32 = 0, retryAfterMs: UInt32 = 0
    ) {
        self.command = command
        self.isReply = isReply
        self.flags = flags
        self.requestId = requestId
        self.deadlineMs = deadlineMs
        self.modelVersion = modelVersion
        self.status = status
        self.attempt = attempt
        self.brokerQueueMicros = brokerQueueMicros
        self.workerQueueMicros = workerQueueMicros
        self.computeMicros = computeMicros
        self.retryAfterMs = retryAfterMs
    }

    /// The header of the reply to this request, carrying its id and echoing its `attempt`, so that
    /// every reply, error replies included, names the dispatch it answers.
    public func reply(status: Status = .ok, modelVersion: UInt64 = 0) -> Header {
        Header(
            command: command, isReply: true, requestId: requestId, modelVersion: modelVersion, status: status,
            attempt: attempt)
    }

    /// A worker's EXPIRED text for a request it did not compute because its deadline had passed at `epochMillis`: how
    /// long ago by this worker's clock, and, past a second, that the hosts' clocks may disagree (the deadline is the
    /// client's absolute time; docs/OPERATIONS.md, "Clocks").
    public func expiredBeforeCompute(atEpochMillis epochMillis: UInt64) -> String {
        let late = epochMillis.subtractingReportingOverflow(deadlineMs).partialValue
        return "the deadline passed before compute (\(late) ms earlier by this worker's clock"
            + (late >= 1_000 ? "; if every request is answered so, check that the hosts' clocks are synchronised)" : ")")
    }

    /// Whether a request with this deadline has expired at `epochMillis` (a deadline of 0 never does).
    public func isExpired(atEpochMillis epochMillis: UInt64) -> Bool {
        deadlineMs != 0 && epochMillis >= deadlineMs
    }

    /// The flags a request of `command` may carry: DRAIN on HEARTBEAT, EXACT_VERSION on anything else.
    public static func definedRequestFlags(for command: Command) -> Flags {
        command == .heartbeat ? .drain : .exactVersion
    }

    /// Why this header may not start a request, or `nil` when it may: an undefined flag bit, a
    /// non-zero status, or an exact version pin without a version (docs/PROTOCOL.md, "Header").
    /// The reserved fields are checked by ``init(decoding:)`` already.
    public var requestProblem: WireError? {
        let undefined = flags.rawValue & ~Header.definedRequestFlags(for: command).rawValue
        if undefined != 0 { return .undefinedFlags(bits: undefined, command: command.name) }
        if status != .ok { return .statusInRequest(status.rawValue) }
        if flags.contains(.exactVersion) && modelVersion == 0 { return .exactPinWithoutVersion }
        return nil
    }

    /// Encodes the header frame.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Header.size)
        writer.append(Header.magic)
        writer.append(Header.currentVersion)
        writer.append(command.rawValue | (isReply ? Header.replyBit : 0))
        writer.append(UInt8(0))
        writer.append(flags.rawValue)
        writer.append(requestId)
        writer.append(deadlineMs)
        writer.append(modelVersion)
        writer.append(status.rawValue)
        writer.append(attempt)
        writer.append(brokerQueueMicros)
        writer.append(workerQueueMicros)
        writer.append(computeMicros)
        writer.append(retryAfterMs)
        writer.append(UInt32(0))
        return writer.bytes
    }

    /// Decodes a header frame.
    /// - Throws: ``WireError`` naming what is wrong: length, magic, version, command or status.
    public init(decoding frame: [UInt8]) throws(WireError) {
        // Compared byte by byte: `Array(frame[0..<3])` allocated on every decode (three per request in the broker).
        guard Header.startsWithMagic(frame) else { throw .badMagic }
        // The magic alone, with no version byte: the frame is too short, not another protocol.
        guard frame.count >= 4 else { throw .badHeaderLength(frame.count) }
        guard frame[3] == Header.currentVersion else { throw .unsupportedVersion(frame[3]) }
        guard frame.count == Header.size else { throw .badHeaderLength(frame.count) }
        var reader = ByteReader(frame, offset: 4)
        let commandByte: UInt8 = reader.read()
        guard let command = Command(rawValue: commandByte & ~Header.replyBit) else {
            throw .unknownCommand(commandByte)
        }
        self.command = command
        isReply = commandByte & Header.replyBit != 0
        let reserved: UInt8 = reader.read()
        guard reserved == 0 else { throw .reservedNotZero(offset: 5) }
        flags = Flags(rawValue: reader.read())
        requestId = reader.read()
        deadlineMs = reader.read()
        modelVersion = reader.read()
        let statusCode: UInt16 = reader.read()
        guard let status = Status(rawValue: statusCode) else { throw .unknownStatus(statusCode) }
        self.status = status
        attempt = reader.read()
        brokerQueueMicros = reader.read()
        workerQueueMicros = reader.read()
        computeMicros = reader.read()
        retryAfterMs = reader.read()
        let tail: UInt32 = reader.read()
        guard tail == 0 else { throw .reservedNotZero(offset: 52) }
    }

    /// Reads the attempt of a frame whose header is otherwise invalid, so that an error reply can
    /// still echo it. Returns `nil` when the frame is too short or lacks the magic.
    public static func salvageAttempt(_ frame: [UInt8]) -> UInt16? {
        guard frame.count >= 36, startsWithMagic(frame) else { return nil }
        var reader = ByteReader(frame, offset: 34)
        return reader.read(UInt16.self)
    }

    /// Whether `frame` starts with ``magic``, read in place (no copy of its first bytes).
    static func startsWithMagic(_ frame: [UInt8]) -> Bool {
        frame.count >= 3 && frame[0] == magic[0] && frame[1] == magic[1] && frame[2] == magic[2]
    }

    /// The status (bytes 32–33) of a reply header frame, read in place without decoding the rest: `nil` when the frame
    /// is not 56 bytes, lacks the magic or the reply bit, or names no status. For a sender that built the frame
    /// itself (the broker counting the replies it sends) and needs only that field.
    public static func replyStatus(_ frame: [UInt8]) -> Status? {
        guard frame.count == size, frame[0] == magic[0], frame[1] == magic[1], frame[2] == magic[2],
            frame[4] & replyBit != 0
        else { return nil }
        return Status(rawValue: UInt16(frame[32]) | UInt16(frame[33]) << 8)
    }

    /// Reads the command (byte 4, the reply bit ignored) of a frame whose header is otherwise
    /// invalid, so that an error reply can still name the request's command. Returns `nil` when the
    /// frame is too short or the byte names no command; the magic is not required, since a reply to
    /// a client that sent a broken header is still better addressed to its command.
    public static func salvageCommand(_ frame: [UInt8]) -> Command? {
        guard frame.count > 4 else { return nil }
        return Command(rawValue: frame[4] & ~replyBit)
    }

    /// Reads the request id of a frame whose header is otherwise invalid, so that an error reply can
    /// still name the request. Returns `nil` when the frame is too short or lacks the magic.
    public static func salvageRequestId(_ frame: [UInt8]) -> UInt64? {
        guard frame.count >= 16, startsWithMagic(frame) else { return nil }
        var reader = ByteReader(frame, offset: 8)
        return reader.read(UInt64.self)
    }
}
