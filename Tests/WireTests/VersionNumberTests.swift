import RecWire
import Testing

/// Versions are numbered from 1, and one reader takes them on every option and argument.
@Suite("Version numbers as typed")
struct VersionNumberTests {
    @Test("canonical decimal numbers from 1 are versions", arguments: [("1", UInt64(1)), ("42", 42), ("18446744073709551615", .max)])
    func accepted(text: String, value: UInt64) throws {
        #expect(try VersionNumber.parse(text) == value)
        #expect(try VersionNumber.parseOrLatest(text) == String(value))
    }

    /// `--online-catalogue 0`, `-0`, `+1` and `01` passed and the broker started with online learning off, while `-1`,
    /// " 1" and `1.0` were refused: every one is refused the same way, naming the text as typed.
    @Test("0 and every non-canonical spelling are refused, naming the text", arguments: [
        "0", "-0", "+1", "01", "-1", " 1", "1 ", "1.0", "", "1e3", "0x1", "latest",
    ])
    func refused(text: String) {
        let error = #expect(throws: VersionNumberError.self) { try VersionNumber.parse(text) }
        #expect(error?.description.hasPrefix("\"\(text)\" is not a version: versions are numbered from 1") == true)
        if text != "latest" {
            let withLatest = #expect(throws: VersionNumberError.self) { try VersionNumber.parseOrLatest(text) }
            #expect(withLatest?.description.hasSuffix(", or latest") == true)
        }
    }

    /// `promote 99999999999999999999` said "in plain digits" of a number in plain digits: its problem is its size.
    @Test("plain digits past 2^64 - 1 are refused as too large", arguments: ["18446744073709551616", "99999999999999999999"])
    func tooLarge(text: String) {
        for parse in [{ _ = try VersionNumber.parse($0) }, { _ = try VersionNumber.parseOrLatest($0) }] as [(String) throws -> Void] {
            let error = #expect(throws: VersionNumberError.self) { try parse(text) }
            #expect(error?.description == "\"\(text)\" is not a version: version numbers are at most 18446744073709551615")
        }
    }

    @Test("latest is taken where latest is allowed")
    func latest() throws {
        #expect(try VersionNumber.parseOrLatest("latest") == "latest")
    }
}
