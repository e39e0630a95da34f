/// A strict check of JSON text against RFC 8259's grammar, in one pass over the bytes with no allocation but the
/// stack of open containers.
///
/// Foundation's `JSONDecoder` reads lazily: a value under a key the decoded type does not read is skipped without being
/// checked, so `{"click": 1, "note": 01}`, a trailing comma (`[1,]`), an escape that is not JSON's (`"\x"`) or a raw
/// control character inside a string were accepted as documents, and a worker's slate that was not JSON was forwarded
/// to its client as an OK reply. Every document a peer sends is checked here first (``WireJSON/decode(_:from:keyLimit:)``).
public enum JSONGrammar {
    /// Where the text stops being JSON, and why.
    public struct Violation: Error, Equatable, Sendable, CustomStringConvertible {
        /// The offset of the byte the text stops being JSON at (the text's length when it ends too early).
        public var offset: Int
        /// What is wrong there, in words.
        public var reason: String

        /// `not valid JSON: the number 01 has a leading zero (RFC 8259 §6) at byte 12`.
        public var description: String { "not valid JSON: \(reason) at byte \(offset)" }
    }

    private enum Expect { case value, valueOrClose, key, keyOrClose, colon, commaOrClose }

    /// The first place `bytes` stops being one JSON text (RFC 8259 §2: a value with white space around it), or nil when
    /// it is one. Checks structure (no trailing comma, no missing one, every container closed, nothing after the
    /// value), literals (`true`, `false`, `null`), numbers (§6: no leading zero, no `+`, digits after `.` and after an
    /// exponent) and strings (§7: every control character escaped, escapes only `\" \\ \/ \b \f \n \r \t \uXXXX`).
    /// UTF-8 validity is checked apart (``WireJSON/decode(_:from:keyLimit:)``).
    public static func violation(in bytes: [UInt8]) -> Violation? {
        var objects: [Bool] = []  // per open container: whether it is an object
        var expect = Expect.value
        var i = 0
        var lastComma = 0  // where the last comma outside strings stands: a trailing comma is named there
        while true {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
            guard i < bytes.count else {
                if objects.isEmpty && expect == .commaOrClose { return nil }
                return Violation(offset: i, reason: i == 0 ? "the text is empty" : "the text ends before the document does")
            }
            let c = bytes[i]
            switch expect {
            case .value, .valueOrClose:
                if expect == .valueOrClose && c == UInt8(ascii: "]") {
                    objects.removeLast()
                    i += 1
                    expect = .commaOrClose
                    continue
                }
                switch c {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    // Foundation's parser refuses a text nested past 512 levels with its own words ("too many nested
                    // arrays"): refused here first, saying the limit. No document of the protocol nests beyond a few.
                    guard objects.count < Self.maximumDepth else {
                        return Violation(
                            offset: i,
                            reason: "arrays and objects nested deeper than \(Self.maximumDepth) levels (the most a document "
                                + "may nest; RFC 8259 §9 lets a parser set it)")
                    }
                    let isObject = c == UInt8(ascii: "{")
                    objects.append(isObject)
                    i += 1
                    expect = isObject ? .keyOrClose : .valueOrClose
                case UInt8(ascii: "\""):
                    if let violation = string(bytes, at: &i) { return violation }
                    expect = .commaOrClose
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    let start = i
                    while i < bytes.count, isNumberByte(bytes[i]) { i += 1 }
                    if let reason = numberProblem(bytes[start..<i]) {
                        return Violation(offset: start, reason: "the number \(text(bytes[start..<i])) \(reason) (RFC 8259 §6)")
                    }
                    expect = .commaOrClose
                case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                    let literal = c == UInt8(ascii: "t") ? Self.trueBytes : c == UInt8(ascii: "f") ? Self.falseBytes : Self.nullBytes
                    guard bytes.count - i >= literal.count, bytes[i..<(i + literal.count)].elementsEqual(literal) else {
                        return Violation(offset: i, reason: "an unknown word where a value belongs (only true, false and null are)")
                    }
                    i += literal.count
                    expect = .commaOrClose
                default:
                    if c == UInt8(ascii: "]") && expect == .value && objects.last == false {
                        return Violation(offset: lastComma, reason: "a comma before a closing bracket (a trailing comma)")
                    }
                    return Violation(offset: i, reason: "'\(shown(c))' where a value belongs")
                }
            case .key, .keyOrClose:
                if expect == .keyOrClose && c == UInt8(ascii: "}") {
                    objects.removeLast()
                    i += 1
                    expect = .commaOrClose
                    continue
                }
                guard c == UInt8(ascii: "\"") else {
                    if c == UInt8(ascii: "}") && expect == .key {
                        return Violation(offset: lastComma, reason: "a comma before a closing bracket (a trailing comma)")
                    }
                    return Violation(offset: i, reason: "'\(shown(c))' where an object's key (a string) belongs")
                }
                if let violation = string(bytes, at: &i) { return violation }
                expect = .colon
            case .colon:
                guard c == UInt8(ascii: ":") else { return Violation(offset: i, reason: "'\(shown(c))' where ':' belongs after a key") }
                i += 1
                expect = .value
            case .commaOrClose:
                guard let isObject = objects.last else {
                    return Violation(offset: i, reason: "'\(shown(c))' after the document's end")
                }
                if c == UInt8(ascii: ",") {
                    lastComma = i
                    i += 1
                    expect = isObject ? .key : .value
                } else if c == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    objects.removeLast()
                    i += 1
                    expect = .commaOrClose
                } else {
                    return Violation(
                        offset: i, reason: "'\(shown(c))' where ',' or '\(isObject ? "}" : "]")' belongs")
                }
            }
        }
    }

    /// Reads the string starting at `i` (its opening quote), leaving `i` after its closing quote.
    private static func string(_ bytes: [UInt8], at i: inout Int) -> Violation? {
        let start = i
        i += 1
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return nil
            }
            if c < 0x20 {
                return Violation(
                    offset: i,
                    reason: "a control character (U+\(hex(c, width: 4))) inside a string; write it escaped (RFC 8259 §7)")
            }
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { break }
                let escaped = bytes[i + 1]
                if escaped == UInt8(ascii: "u") {
                    guard let unit = codeUnit(bytes, at: i) else {
                        return Violation(offset: i, reason: "\\u not followed by four hexadecimal digits (RFC 8259 §7)")
                    }
                    // A UTF-16 surrogate escaped alone names no character: Foundation refused it as "unexpected end of
                    // file during string parse". A high one must be followed at once by an escaped low one.
                    if (0xDC00...0xDFFF).contains(unit) {
                        return Violation(
                            offset: i,
                            reason: "the escape \(text(bytes[i..<(i + 6)])) is the second half of a UTF-16 surrogate pair "
                                + "without its first: it names no character (RFC 8259 §8.2)")
                    }
                    if (0xD800...0xDBFF).contains(unit) {
                        guard i + 12 <= bytes.count, bytes[i + 6] == UInt8(ascii: "\\"), bytes[i + 7] == UInt8(ascii: "u"),
                            let low = codeUnit(bytes, at: i + 6), (0xDC00...0xDFFF).contains(low)
                        else {
                            return Violation(
                                offset: i,
                                reason: "the escape \(text(bytes[i..<(i + 6)])) is the first half of a UTF-16 surrogate "
                                    + "pair without its second: it names no character (RFC 8259 §8.2)")
                        }
                        i += 12
                        continue
                    }
                    i += 6
                    continue
                }
                guard isEscape(escaped) else {
                    return Violation(
                        offset: i,
                        reason: "the escape \\\(shown(escaped)) inside a string; JSON's are \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                            + "and \\uXXXX (RFC 8259 §7)")
                }
                i += 2
                continue
            }
            i += 1
        }
        return Violation(offset: start, reason: "a string that is not closed")
    }

    /// The most levels of arrays and objects a document may nest (Foundation's own parser stops at 512).
    public static let maximumDepth = 256

    /// The UTF-16 code unit of the `\\uXXXX` escape starting at `i` (its backslash), or nil when four hexadecimal
    /// digits do not follow.
    private static func codeUnit(_ bytes: [UInt8], at i: Int) -> UInt16? {
        guard i + 6 <= bytes.count, bytes[(i + 2)..<(i + 6)].allSatisfy(isHexDigit) else { return nil }
        var unit: UInt16 = 0
        for c in bytes[(i + 2)..<(i + 6)] {
            let digit = c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : (c | 0x20) - UInt8(ascii: "a") + 10
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    /// Why a token of number bytes is not a number as RFC 8259 §6 writes one, or nil.
    static func numberProblem(_ token: ArraySlice<UInt8>) -> String? {
        var i = token.startIndex
        func digits() -> Int {
            let start = i
            while i < token.endIndex, token[i] >= UInt8(ascii: "0"), token[i] <= UInt8(ascii: "9") { i += 1 }
            return i - start
        }
        if i < token.endIndex, token[i] == UInt8(ascii: "-") { i += 1 }
        guard i < token.endIndex else { return "has no digits" }
        if token[i] == UInt8(ascii: "0") {
            i += 1
            if i < token.endIndex, token[i] >= UInt8(ascii: "0"), token[i] <= UInt8(ascii: "9") { return "has a leading zero" }
        } else if digits() == 0 {
            return "does not start with a digit"
        }
        if i < token.endIndex, token[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return "has no digit after its decimal point" }
        }
        if i < token.endIndex, token[i] == UInt8(ascii: "e") || token[i] == UInt8(ascii: "E") {
            i += 1
            if i < token.endIndex, token[i] == UInt8(ascii: "+") || token[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return "has no digit in its exponent" }
        }
        return i == token.endIndex ? nil : "does not end where a number does"
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let nullBytes = Array("null".utf8)

    /// Whether `c` can continue a number token: a digit, `.`, `e`, `E`, `+` or `-` (compared, never hashed: this runs
    /// per byte of every document the broker reads).
    @inline(__always)
    private static func isNumberByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
            || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
    }

    /// The bytes after a backslash that make one of JSON's escapes (`u` apart).
    @inline(__always)
    private static func isEscape(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == UInt8(ascii: "/") || c == UInt8(ascii: "b")
            || c == UInt8(ascii: "f") || c == UInt8(ascii: "n") || c == UInt8(ascii: "r") || c == UInt8(ascii: "t")
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(c)
    }

    /// A token as text, cut at 40 bytes: an error names it, never echoes megabytes.
    private static func text(_ token: ArraySlice<UInt8>) -> String {
        token.count <= 40 ? String(decoding: token, as: UTF8.self) : String(decoding: token.prefix(40), as: UTF8.self) + "…"
    }

    /// A byte as an error shows it: printable ASCII as itself, anything else as its code.
    private static func shown(_ c: UInt8) -> String {
        (0x21...0x7E).contains(c) ? String(Character(Unicode.Scalar(c))) : "byte 0x\(hex(c, width: 2))"
    }

    private static func hex(_ c: UInt8, width: Int) -> String {
        let digits = String(c, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
