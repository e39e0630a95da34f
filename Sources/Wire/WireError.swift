/// Why a message could not be decoded. Each case maps to the ``Status`` of the error reply.
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message had no frames, or fewer than its command needs.
    case missingFrames(expected: Int, got: Int)
    /// The message has more frames than allowed.
    case tooManyFrames(count: Int, limit: Int)
    /// The message's frames add up to more bytes than allowed.
    case messageTooLarge(bytes: Int, limit: Int)
    /// The first frame does not start with "RPL".
    case badMagic
    /// The protocol version byte is not one this peer speaks.
    case unsupportedVersion(UInt8)
    /// The header frame is not exactly ``Header/size`` bytes.
    case badHeaderLength(Int)
    /// The command byte names no command.
    case unknownCommand(UInt8)
    /// The status field names no status.
    case unknownStatus(UInt16)
    /// A reserved byte is not zero.
    case reservedNotZero(offset: Int)
    /// A request sets flag bits its command does not define.
    case undefinedFlags(bits: UInt16, command: String)
    /// A request carries a status (only replies may).
    case statusInRequest(UInt16)
    /// A request pins `EXACT_VERSION` with `model_version` 0.
    case exactPinWithoutVersion
    /// A command arrived from a peer that may not send it (such as a reply from a client).
    case unexpectedCommand(String)
    /// A tensor frame is shorter than its 8-byte shape prefix.
    case tensorTooShort(bytes: Int)
    /// A tensor frame's length does not match rows × cols × 4 + 8.
    case tensorSizeMismatch(rows: Int, cols: Int, bytes: Int)
    /// A tensor has zero rows or zero columns.
    case emptyTensor(rows: Int, cols: Int)
    /// A tensor has more rows than allowed.
    case tooManyRows(rows: Int, limit: Int)
    /// A tensor has more columns than allowed.
    case tooManyColumns(cols: Int, limit: Int)
    /// A tensor value is NaN or infinite.
    case nonFiniteValue(row: Int, column: Int)
    /// A JSON payload did not decode.
    case badDocument(String)
    /// A binary parameter pack did not decode, or packs could not be combined.
    case badPack(String)
    /// A fixed-size payload has the wrong length.
    case badPayloadLength(expected: Int, got: Int)
    /// A SCORE reply's score tensor is not `rows × 1` for the request's rows.
    case scoreShape(rows: Int, cols: Int, expectedRows: Int)
    /// A client received a message that is not a reply (a broker's backend sends workers DISCONNECT and HEARTBEAT).
    case notAReply(command: String)
    /// A SCORE reply's score for `row` (0-based) is not in [0, 1] (NaN and ±∞ included): no probability.
    case scoreOutOfRange(row: Int, value: Float)
    /// An error reply does not carry exactly one payload frame, its message.
    case errorReplyFrames(status: String, payloadFrames: Int)

    /// The status an error reply should carry.
    public var status: Status {
        switch self {
        case .tooManyFrames, .messageTooLarge, .tooManyRows, .tooManyColumns: .tooLarge
        case .unsupportedVersion: .unsupportedVersion
        default: .badRequest
        }
    }

    public var description: String {
        switch self {
        case .missingFrames(let expected, let got): "expected at least \(expected) frames, got \(got)"
        case .tooManyFrames(let count, let limit): "\(count) frames exceed the limit of \(limit)"
        case .messageTooLarge(let bytes, let limit): "\(bytes) bytes exceed the message limit of \(limit)"
        case .badMagic: "the first frame does not start with the protocol magic \"RPL\""
        case .unsupportedVersion(let v): "protocol version \(v) is not supported (this peer speaks 1)"
        case .badHeaderLength(let n): "the header frame has \(n) bytes, expected \(Header.size)"
        case .unknownCommand(let c): "unknown command byte 0x\(String(c, radix: 16))"
        case .unknownStatus(let s): "unknown status \(s)"
        case .reservedNotZero(let offset): "reserved header field at offset \(offset) is not zero"
        case .undefinedFlags(let bits, let command):
            "flags: bits 0x\(String(bits, radix: 16)) are not defined for \(command) requests"
        case .statusInRequest(let status): "status: a request must carry status 0, not \(status)"
        case .exactPinWithoutVersion: "model_version: an exact pin needs a version (EXACT_VERSION with model_version 0)"
        case .unexpectedCommand(let what): "unexpected command: \(what)"
        case .tensorTooShort(let bytes): "tensor frame of \(bytes) bytes is shorter than its 8-byte shape"
        case .tensorSizeMismatch(let rows, let cols, let bytes):
            "tensor of \(rows)×\(cols) needs 8 + 4 × \(rows) × \(cols) bytes, frame has \(bytes)"
        case .emptyTensor(let rows, let cols): "tensor of \(rows)×\(cols) is empty"
        case .tooManyRows(let rows, let limit): "\(rows) rows exceed the limit of \(limit)"
        case .tooManyColumns(let cols, let limit): "\(cols) columns exceed the limit of \(limit)"
        case .nonFiniteValue(let row, let column): "value at row \(row), column \(column) is NaN or infinite"
        case .badDocument(let why): "malformed JSON document: \(why)"
        case .badPack(let why): "malformed parameter pack: \(why)"
        case .badPayloadLength(let expected, let got): "payload has \(got) bytes, expected \(expected)"
        case .scoreShape(let rows, let cols, let expectedRows):
            "a \(rows)×\(cols) score tensor for \(expectedRows) row\(expectedRows == 1 ? "" : "s") (expected \(expectedRows)×1)"
        case .notAReply(let command):
            "the peer sent a \(command) that is not a reply: is --broker the broker's worker (backend) endpoint instead of "
                + "its client (frontend) one?"
        case .scoreOutOfRange(let row, let value):
            "the score of row \(row) (0-based) is \(value), not a probability in [0, 1]"
        case .errorReplyFrames(let status, let frames):
            "a \(status) reply with \(frames) payload frames instead of one message"
        }
    }
}
