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

    @Test("a text option whose value looks like a number or a boolean is printed quoted, and the saved file loads back")
    func textOptionsPrintQuoted() throws {
        let catalog = OptionCatalog(entries: [
            .init(key: "id", isFlag: false, isRepeating: false, defaultValue: nil, shortNames: [], isText: true),
            .init(key: "allow", isFlag: false, isRepeating: true, defaultValue: nil, shortNames: [], isText: true),
            .init(key: "slots", isFlag: false, isRepeating: false, defaultValue: nil, shortNames: [], isText: false),
        ])
        let typed = try ConfigResolver.resolve(
            catalog: catalog, table: "worker", arguments: ["--id", "7", "--allow", "true", "--slots", "4"],
            environment: [:], file: nil)
        let report = ConfigReport.render(typed, table: "worker", catalog: catalog)
        #expect(report.contains("id = \"7\"") && report.contains("allow = [\"true\"]") && report.contains("slots = 4"), "\(report)")
        let saved = try ConfigFile.parse(report, path: "w.toml")
        let reloaded = try ConfigResolver.resolve(catalog: catalog, table: "worker", arguments: [], environment: [:], file: saved)
        #expect(reloaded.arguments.contains("--id=7") && reloaded.arguments.contains("--allow=true"), "\(reloaded.arguments)")
    }

    @Test(
        "a number that is not text prints as a TOML number (epsilon = 0.02, not \"0.02\"), in TOML's spelling; other forms stay strings",
        arguments: [
            ("0.02", "0.02"), ("-1.5e3", "-1.5e3"), ("1e-3", "1e-3"), ("4096", "4096"),
            // Numbers a flag reads but TOML spells otherwise: printed as quoted strings, they did not load back
            // ("expected a number (without quotes)"), and 0100 printed bare was refused for its leading zero.
            (".5", "0.5"), ("1.", "1.0"), ("010.5", "10.5"), ("0100", "100"), ("+5", "5"), ("0x1p-2", "0.25"),
            ("inf", "\"inf\""), ("softmax", "\"softmax\""), ("10s", "\"10s\""),
        ])
    func numbersPrintBare(text: String, literal: String) throws {
        #expect(ConfigReport.literal(text) == literal)
        // Either way the line parses as TOML.
        _ = try ConfigFile.parse("[broker]\nkey = \(literal)\n", path: "saved.toml")
    }

    /// `recpool-worker --print-config --seed 18446744073709551615` printed a bare integer TOMLKit (64-bit signed) could
    /// not read back, and a float option's huge whole number was printed as an integer literal: such numbers are
    /// printed as strings, and a number option takes a string only for them.
    @Test(
        "a whole number beyond TOML's integers prints as a string that a number option takes back",
        arguments: ["18446744073709551615", "9223372036854775808", "-9223372036854775809", "100000000000000000000000"])
    func wideWholeNumbers(text: String) throws {
        #expect(ConfigReport.literal(text) == "\"\(text)\"")
        let catalog = OptionCatalog(entries: [
            .init(key: "seed", isFlag: false, isRepeating: false, defaultValue: nil, shortNames: [], isNumber: true)
        ])
        let saved = try ConfigFile.parse("[worker]\nseed = \(ConfigReport.literal(text))\n", path: "w.toml")
        let reloaded = try ConfigResolver.resolve(catalog: catalog, table: "worker", arguments: [], environment: [:], file: saved)
        #expect(reloaded.arguments == ["--seed=\(text)"])
        // Within TOML's integers a string is still a value of the wrong type.
        let narrow = try ConfigFile.parse("[worker]\nseed = \"4096\"\n", path: "w.toml")
        #expect(throws: ConfigError.self) {
            try ConfigResolver.resolve(catalog: catalog, table: "worker", arguments: [], environment: [:], file: narrow)
        }
        #expect(ConfigReport.literal("9223372036854775807") == "9223372036854775807")
    }
}
