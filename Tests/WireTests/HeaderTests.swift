import Testing

@testable import RecWire

@Suite("Wire header")
struct HeaderTests {
    @Test("every command round-trips, as request and as reply", arguments: Command.allCases, [false, true])
    func roundTrip(command: Command, isReply: Bool) throws {
        let header = Header(
            command: command, isReply: isReply, flags: .exactVersion, requestId: 0x0102_0304_0506_0708,
            deadlineMs: 1_800_000_000_123, modelVersion: 42, status: .busy, attempt: 2, brokerQueueMicros: 11,
            workerQueueMicros: 22, computeMicros: 33, retryAfterMs: 44)
        let bytes = header.encoded()
        #expect(bytes.count == Header.size)
        #expect(try Header(decoding: bytes) == header)
    }

    @Test("integers are little-endian at their documented offsets")
    func layout() {
        let bytes = Header(command: .score, requestId: 1, deadlineMs: 2, modelVersion: 3).encoded()
        #expect(Array(bytes[0..<4]) == [0x52, 0x50, 0x4C, 0x01])
        #expect(bytes[4] == 0x01)
        #expect(bytes[8] == 1 && bytes[16] == 2 && bytes[24] == 3)
        #expect(Header(command: .score, isReply: true).encoded()[4] == 0x81)
    }

    @Test("a truncated header is rejected with its length")
    func truncated() {
        let bytes = Array(Header(command: .score).encoded().prefix(20))
        #expect(throws: WireError.badHeaderLength(20)) { try Header(decoding: bytes) }
    }

    @Test("an oversized header is rejected")
    func oversized() {
        let bytes = Header(command: .score).encoded() + [0]
        #expect(throws: WireError.badHeaderLength(Header.size + 1)) { try Header(decoding: bytes) }
    }

    @Test("wrong magic, wrong version, unknown command and unknown status are named")
    func badFields() {
        var bytes = Header(command: .score).encoded()
        bytes[0] = 0x58
        #expect(throws: WireError.badMagic) { try Header(decoding: bytes) }
        // The magic alone is a frame too short, not another protocol; fewer bytes than the magic are not RecPool's.
        #expect(throws: WireError.badHeaderLength(3)) { try Header(decoding: Array("RPL".utf8)) }
        #expect(throws: WireError.badMagic) { try Header(decoding: Array("RP".utf8)) }
        bytes = Header(command: .score).encoded()
        bytes[3] = 2
        #expect(throws: WireError.unsupportedVersion(2)) { try Header(decoding: bytes) }
        #expect(WireError.unsupportedVersion(2).status == .unsupportedVersion)
        bytes = Header(command: .score).encoded()
        bytes[4] = 0x7F
        #expect(throws: WireError.unknownCommand(0x7F)) { try Header(decoding: bytes) }
        bytes = Header(command: .score).encoded()
        bytes[32] = 0xFF
        #expect(throws: WireError.unknownStatus(0xFF)) { try Header(decoding: bytes) }
        bytes = Header(command: .score).encoded()
        bytes[5] = 1
        #expect(throws: WireError.reservedNotZero(offset: 5)) { try Header(decoding: bytes) }
    }

    @Test("the request id survives in a header that is otherwise broken")
    func salvage() {
        var bytes = Header(command: .score, requestId: 77).encoded()
        bytes[4] = 0x7F
        #expect(Header.salvageRequestId(bytes) == 77)
        #expect(Header.salvageRequestId([1, 2, 3]) == nil)
    }

    @Test("the command survives in a header that is otherwise broken, with the reply bit ignored")
    func salvageCommand() {
        var bytes = Header(command: .recommend, requestId: 5).encoded()
        bytes[5] = 9  // reserved byte: the header no longer decodes
        #expect(Header.salvageCommand(bytes) == .recommend)
        #expect(Header.salvageCommand(Header(command: .score, isReply: true).encoded()) == .score)
        bytes[4] = 0x7F
        #expect(Header.salvageCommand(bytes) == nil)
        #expect(Header.salvageCommand([0x52, 0x50, 0x4C, 1]) == nil)
    }

    @Test("a reply's status read in place is the decoded header's, and nil for a request or a frame that is not a header")
    func replyStatusInPlace() {
        for status in Status.allCases {
            let frame = Header(command: .score, requestId: 9).reply(status: status, modelVersion: 3).encoded()
            #expect(Header.replyStatus(frame) == status)
            #expect((try? Header(decoding: frame))?.status == status)
        }
        #expect(Header.replyStatus(Header(command: .score, requestId: 9).encoded()) == nil)
        var unknown = Header(command: .score).reply(status: .ok, modelVersion: 0).encoded()
        unknown[32] = 0xFF
        #expect(Header.replyStatus(unknown) == nil)
        #expect(Header.replyStatus(Array(unknown.prefix(40))) == nil)
        var noMagic = Header(command: .score).reply(status: .busy, modelVersion: 0).encoded()
        noMagic[0] = 0
        #expect(Header.replyStatus(noMagic) == nil)
    }

    /// A worker whose clock ran 10 s ahead answered every request EXPIRED with no hint of the clocks.
    @Test("a worker's EXPIRED says how late by its clock, and past a second names the hosts' clocks")
    func expiredText() {
        let header = Header(command: .score, requestId: 1, deadlineMs: 10_000)
        #expect(header.expiredBeforeCompute(atEpochMillis: 10_040) == "the deadline passed before compute (40 ms earlier by this worker's clock)")
        #expect(header.expiredBeforeCompute(atEpochMillis: 20_000).contains("10000 ms earlier by this worker's clock; if every request is answered so, check that the hosts' clocks are synchronised"))
    }
}
