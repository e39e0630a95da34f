import RecTransport
import Testing

/// Error messages quote what a peer or a file sent; printed raw, an escape sequence in them acted on the terminal
/// (`recommend --user-features $'x\e[2J=v'` cleared the screen through the broker's BAD_REQUEST text).
@Suite("Error output escapes control characters")
struct CommandOutputTests {
    @Test("C0 controls but line feed and tab, DEL and C1 controls are written as \\u{XX}; other text is unchanged")
    func escapes() {
        #expect(CommandOutput.escapingControls("unknown user feature 'x\u{1B}[2J\u{1B}[31m'")
            == "unknown user feature 'x\\u{1B}[2J\\u{1B}[31m'")
        #expect(CommandOutput.escapingControls("a\rb\u{0}c\u{7F}d\u{9B}e") == "a\\u{D}b\\u{0}c\\u{7F}d\\u{9B}e")
        let plain = "line one\n\tline two: café, 東京, 🙂 and \\u{1B} typed as text"
        #expect(CommandOutput.escapingControls(plain) == plain)
    }
}
