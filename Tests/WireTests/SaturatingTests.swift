import RecWire
import Testing

/// Arithmetic on untrusted numbers, and the header's request checks.
@Suite("Numbers from the wire")
struct SaturatingTests {
    @Test("sums and products stop at the bounds instead of trapping")
    func saturating() {
        #expect(UInt64.max.addingSaturating(1000) == .max)
        #expect((UInt64.max - 1).addingSaturating(1) == .max)
        #expect(UInt64(5).addingSaturating(6) == 11)
        #expect(UInt64(5).subtractingSaturating(6) == 0)
        #expect(Int.max.addingSaturating(1) == .max)
        #expect(Int.min.addingSaturating(-1) == .min)
        #expect(Int.min.subtractingSaturating(1) == .min)
        #expect(Int.max.subtractingSaturating(-1) == .max)
        #expect(UInt64.max.multipliedSaturating(by: 1000) == .max)
        #expect(Int.max.multipliedSaturating(by: -2) == .min)
        #expect(Int.min.multipliedSaturating(by: -1) == .max)
        #expect(Int(7).multipliedSaturating(by: 6) == 42)
        #expect(Double.nan.clampedToInt == 0)
        #expect(Double.infinity.clampedToInt == .max)
        #expect((-Double.infinity).clampedToInt == .min)
        #expect(1e300.clampedToInt == .max)
        #expect(42.9.clampedToInt == 42)
    }

    @Test("a reply echoes the request's attempt; salvage reads it from a broken header")
    func replyEchoesAttempt() {
        let request = Header(command: .score, requestId: 5, attempt: 3)
        #expect(request.reply(status: .expired).attempt == 3)
        #expect(WireMessage.errorReply(to: request, status: .badRequest, message: "x").header.attempt == 3)
        var broken = request.encoded()
        broken[3] = 9
        #expect(Header.salvageAttempt(broken) == 3)
        #expect(Header.salvageAttempt([1, 2]) == nil)
    }

    @Test("request checks: undefined flags, a status, an exact pin without a version")
    func requestProblems() {
        #expect(Header(command: .score, modelVersion: 0).requestProblem == nil)
        var header = Header(command: .score)
        header.flags = .drain
        #expect(header.requestProblem == .undefinedFlags(bits: 2, command: "SCORE"))
        header.flags = Header.Flags(rawValue: 0xFFFF)
        #expect(header.requestProblem == .undefinedFlags(bits: 0xFFFE, command: "SCORE"))
        header.flags = .exactVersion
        #expect(header.requestProblem == .exactPinWithoutVersion)
        header.modelVersion = .max
        #expect(header.requestProblem == nil)
        header.status = .workerLost
        #expect(header.requestProblem == .statusInRequest(12))
        var beat = Header(command: .heartbeat)
        beat.flags = .drain
        #expect(beat.requestProblem == nil)
        for error in [WireError.undefinedFlags(bits: 4, command: "SCORE"), .statusInRequest(1), .exactPinWithoutVersion] {
            #expect(error.status == .badRequest)
        }
    }
}
