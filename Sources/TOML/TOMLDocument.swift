import Foundation
import TOMLKit

/// The one place RecPool parses TOML text: TOMLKit (toml++ 3.x) behind a check of the two inputs toml++ asserts on
/// instead of reporting. Its parser assumes, without checking, that a table header's `[` or `[[` is followed by a key
/// (`[[[`, `[ +`, `[#`) and that a value inside an array does not start with `}` (`a = [}`); in a build with
/// assertions that aborts the process (`Assertion … failed`, SIGABRT), and without them the assumption is undefined
/// behaviour. Both are syntax errors in TOML 1.0 (<https://toml.io/en/v1.0.0>, "Table", "Array"), so they are refused
/// here with the same kind of error a parse error gets, before toml++ sees the text.
public enum TOMLDocument {
    /// Parses `text` into its root table.
    /// - Throws: ``TOMLSyntaxError`` with the 1-based line and column of the problem.
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        if let problem = unsafeSyntax(text) ?? shapeError(text) { throw problem }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let line = Int(error.source.begin.line)
            throw TOMLSyntaxError(
                line: error.source.begin.line, column: error.source.begin.column,
                reason: redefinitionReason(error.description, text: text, line: line) ?? error.description)
        } catch {
            throw TOMLSyntaxError(line: 0, column: 0, reason: "\(error)")
        }
    }

    /// toml++'s "cannot redefine existing …" with the key as the document writes it, or nil for any other error.
    /// toml++ echoes a quoted key garbled (`'a'` then `"a"` is reported as `'"a"a" '`); the key is read back from the
    /// line the error names (the text before `=`, or the table header between its brackets).
    static func redefinitionReason(_ reason: String, text: String, line: Int) -> String? {
        guard let range = reason.range(of: "cannot redefine existing") else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard line >= 1, line <= lines.count else { return nil }
        let source = lines[line - 1].trimmingCharacters(in: .whitespaces)
        let key: String
        if source.hasPrefix("[") {
            key = source.trimmingCharacters(in: CharacterSet(charactersIn: "[] \t"))
        } else if let equals = source.firstIndex(of: "=") {
            key = source[..<equals].trimmingCharacters(in: .whitespaces)
        } else {
            return nil
        }
        guard !key.isEmpty else { return nil }
        return reason[..<range.lowerBound] + "`\(key)` is defined twice (a TOML key or table may be defined once)"
    }

    /// The first place in `text` where toml++ would assert instead of reporting an error, or nil. A lexer over the
    /// UTF-8 bytes that knows strings (basic, literal and their multi-line forms, with `\` escapes in the basic ones),
    /// comments, and the stack of open `[`/`{` of values; a `[` first on a line outside every value is a table header.
    static func unsafeSyntax(_ text: String) -> TOMLSyntaxError? {
        let bytes = Array(text.utf8)
        var i = 0
        var open: [UInt8] = []  // the values' open brackets, innermost last
        var atLineStart = true
        var previous: UInt8 = 0x0A  // the last byte outside white space, strings and comments
        // The line and column of byte `i`, counted when an error is reported (not tracked through every skip).
        func error(_ reason: String) -> TOMLSyntaxError {
            let lineStart = bytes[..<i].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            return TOMLSyntaxError(line: 1 + bytes[..<i].count(where: { $0 == 0x0A }), column: i - lineStart + 1, reason: reason)
        }
        func byte(_ k: Int) -> UInt8? { k < bytes.count ? bytes[k] : nil }
        // TOMLKit hands toml++ a C string, which ends at a NUL: the rest of the document was silently not read.
        if let nul = bytes.firstIndex(of: 0) {
            i = nul
            return error("a NUL character (U+0000), which TOML does not allow anywhere")
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x0A {
                i += 1
                atLineStart = true
                // An array's values may continue on the next line; elsewhere a line starts a key.
                if open.isEmpty { previous = 0x0A }
                continue
            }
            if c == 0x20 || c == 0x09 || c == 0x0D {
                i += 1
                continue
            }
            if atLineStart && open.isEmpty && c == UInt8(ascii: "[") {
                // A table header: `[` or `[[`, white space, then a key (or `]`, which toml++ reports itself).
                i += 1
                if byte(i) == UInt8(ascii: "[") { i += 1 }
                while let b = byte(i), b == 0x20 || b == 0x09 { i += 1 }
                if let b = byte(i), !(isBareKey(b) || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") || b == UInt8(ascii: "]")) {
                    return error("a table header must start with a key, found \(describe(b))")
                }
                // The rest of the header: single-line keys, no values.
                while let b = byte(i), b != 0x0A {
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                        i = skipSingleLineString(bytes, from: i)
                    } else if b == UInt8(ascii: "#") {
                        while let b = byte(i), b != 0x0A { i += 1 }
                    } else {
                        i += 1
                    }
                }
                continue
            }
            atLineStart = false
            // A value starts after `=`, or after `[` or `,` inside an array (after `{` or `,` in an inline table comes a
            // key).
            let valueStarts =
                previous == UInt8(ascii: "=")
                || (open.last == UInt8(ascii: "[") && (previous == UInt8(ascii: "[") || previous == UInt8(ascii: ",")))
            if c != UInt8(ascii: "#") { previous = c }
            switch c {
            case UInt8(ascii: "#"):
                while let b = byte(i), b != 0x0A { i += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                if byte(i + 1) == c && byte(i + 2) == c {
                    // A multi-line string: up to the closing triple (a fourth and fifth quote belong to the content).
                    var k = i + 3
                    while k < bytes.count {
                        if c == UInt8(ascii: "\"") && bytes[k] == UInt8(ascii: "\\") {
                            k += 2
                            continue
                        }
                        if bytes[k] == c && byte(k + 1) == c && byte(k + 2) == c {
                            k += 3
                            while byte(k) == c { k += 1 }
                            break
                        }
                        k += 1
                    }
                    i = k
                } else {
                    i = skipSingleLineString(bytes, from: i)
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(c)
                i += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                let opener = c == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")
                if let last = open.last, last != opener {
                    return error("\(describe(c)) closes \(last == UInt8(ascii: "[") ? "an array" : "an inline table") it does not match")
                }
                if !open.isEmpty { open.removeLast() }
                i += 1
            default:
                guard valueStarts else {
                    i += 1
                    continue
                }
                // A number toml++ reads as 0 though its digits are not all zero (`1e-400`): the option or cell took 0.
                var k = i
                while let b = byte(k), !" \t\r\n,]}#".utf8.contains(b) { k += 1 }
                let token = String(decoding: bytes[i..<k].filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
                if underflows(token) {
                    return error(
                        "the number \(token) is nearer 0 than a 64-bit float holds (its smallest magnitude is about "
                            + "4.9e-324), so it would be read as 0")
                }
                if k > i { previous = bytes[k - 1] }
                i = max(k, i + 1)
            }
        }
        return nil
    }

    /// Whether `token` is a decimal float whose digits are not all zero but which a `Double` reads as 0 (`1e-400`):
    /// the one test a config file's value and a number option's (RecConfig) share.
    public static func underflows(_ token: String) -> Bool {
        guard !token.lowercased().contains("x"), let value = Double(token), value == 0 else { return false }
        let mantissa = token.prefix { $0 != "e" && $0 != "E" }
        return mantissa.contains { $0.isASCII && $0.isNumber && $0 != "0" }
    }

    /// The index after the single-line string that starts at `start` (its opening quote); a basic string's `\`
    /// escapes the next byte. An unterminated string ends at the line's end (toml++ reports it).
    private static func skipSingleLineString(_ bytes: [UInt8], from start: Int) -> Int {
        let quote = bytes[start]
        var k = start + 1
        while k < bytes.count, bytes[k] != 0x0A {
            if quote == UInt8(ascii: "\"") && bytes[k] == UInt8(ascii: "\\") {
                k += 2
                continue
            }
            if bytes[k] == quote { return k + 1 }
            k += 1
        }
        return k
    }

    /// TOML 1.0's bare key characters: `A-Za-z0-9_-`.
    private static func isBareKey(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x2D
    }

    private static func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F
            ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(b < 0x10 ? "0" : "")\(String(b, radix: 16, uppercase: true))"
    }
}

/// A TOML document that does not parse: where, and why (toml++'s description, or the check in front of it).
public struct TOMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 1-based line of the problem (0 when unknown).
    public var line: Int
    /// The 1-based column (in UTF-8 bytes for the check in front of toml++).
    public var column: Int
    /// What is wrong.
    public var reason: String

    /// Creates an error.
    public init(line: Int, column: Int, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// `line L, column C: reason`.
    public var description: String { "line \(line), column \(column): \(reason)" }
}
