import Testing

@testable import RecConfig

/// `--print-config` promises output that can be saved as a configuration file: a value with a newline or another
/// control character was written raw, and the saved file did not parse.
@Suite("Printed configuration literals")
struct ConfigLiteralTests {
    @Test(
        "a string with quotes, backslashes and control characters is written so that it reads back the same",
        arguments: ["tcp://127.0.0.1:17010\n--insecure", "a\"b\\c", "cr\r\nlf", "esc\u{1B}del\u{7F}bel\u{7}", "tab\there", "plain"])
    func roundTrip(value: String) throws {
        let text = "[client]\nbroker = \(ConfigReport.literal(value))\n"
        let file = try ConfigFile.parse(text, path: "saved.toml")
        #expect(file.tables["client"]?["broker"] == .string(value), "\(text)")
    }
}
