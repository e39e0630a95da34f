import Testing

@testable import RecWire

/// An error reply quoting what a client sent was echoed as it came: a 900,000-byte job id made a 900,007-byte
/// NOT_FOUND, and an op holding NUL and an ANSI escape put them into the reply. Worker ids holding a right-to-left
/// override or a line separator were registered and shown in `status` and the metrics labels.
@Suite("Error texts are bounded and escaped; labels hold no layout controls")
struct ErrorTextBoundTests {
    @Test("an error reply's text escapes control characters and is cut to 8,192 bytes, saying how many were left out")
    func boundedReply() {
        let header = Header(command: .control, requestId: 3)
        let echoed = WireMessage.errorReply(to: header, status: .badRequest, message: "unknown CONTROL op \"jobs\u{0}\u{1B}[31m\"")
        #expect(echoed.errorText == "unknown CONTROL op \"jobs\\u{0}\\u{1B}[31m\"")
        let long = "no job " + String(repeating: "a", count: 900_000)
        let cut = WireMessage.errorReply(to: header, status: .notFound, message: long)
        let text = cut.errorText ?? ""
        #expect(cut.payload[0].count <= WireText.maximumErrorTextBytes)
        #expect(text.hasPrefix("no job aaaa") && text.hasSuffix("more bytes left out)"), "\(text.suffix(60))")
        // A text of 3-byte characters is cut between two of them, keeping as many as the budget holds.
        let wide = WireText.boundedErrorText(String(repeating: "€", count: 5_000))
        let kept = wide.prefix { $0 == "€" }.count
        #expect(kept == (WireText.maximumErrorTextBytes - 64) / 3, "\(kept)")
        #expect(wide.hasSuffix("(\(15_000 - kept * 3) more bytes left out)"), "\(wide.suffix(40))")
        // Short texts, line feeds and tabs pass as they are.
        #expect(WireText.boundedErrorText("line one\n\tline two") == "line one\n\tline two")
    }

    @Test("a worker id or host holding a bidirectional override or a line separator is refused naming the code point",
          arguments: ["\u{202E}1w", "w\u{2028}1", "w\u{2066}x\u{2069}", "w\u{200F}"])
    func layoutControls(id: String) {
        let hello = WorkerHello(workerId: id, services: ["SCORE"], slots: 1, inputWidth: 2, modelVersion: 0, host: "h", pid: 1)
        #expect(hello.problem?.contains("bidirectional or line-layout control") == true, "\(hello.problem ?? "nil")")
        let host = WorkerHello(workerId: "w1", services: ["SCORE"], slots: 1, inputWidth: 2, modelVersion: 0, host: id, pid: 1)
        #expect(host.problem?.hasPrefix("host holds U+") == true, "\(host.problem ?? "nil")")
        // Other scripts and joiners stay allowed: a label in Hebrew or with an emoji sequence is text.
        #expect(WorkerHello(workerId: "שרת-1", services: ["SCORE"], slots: 1, inputWidth: 2, modelVersion: 0, host: "h", pid: 1).problem == nil)
    }
}
