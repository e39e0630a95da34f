internal import CSV
import Foundation
internal import RecFiles

/// The one CSV reader of RecPool: a file's records as strings, each with the line it starts on.
///
/// Parsing is RFC 4180 as implemented by yaslab/CSV.swift: fields separated by commas, optionally wrapped in double
/// quotes (`""` for a quote inside, and a quoted field may hold commas and line breaks); records end with `\n`,
/// `\r\n` or `\r`. On top of that this type:
/// - drops a UTF-8 byte-order mark at the start of the file (spreadsheet exports write one);
/// - refuses bytes that are not UTF-8, naming the line;
/// - skips blank lines (empty, or only spaces and tabs), which still count for line numbers;
/// - refuses double quotes that do not pair up (an unclosed quoted field would swallow the rest of the file);
/// - refuses a NUL character (the parser ends a field at one, silently dropping the rest);
/// - remembers the 1-based line each record starts on, so every later error can name file, line and column.
///
/// Interpreting the fields is left to ``NumericCSV`` (feature rows) and `RecData`'s `CSVTable` (named columns).
public struct CSVFile: Sendable, Equatable {
    /// The path the records were read from, as given (only used to name the file in errors).
    public var path: String
    /// The non-blank records in file order; the header, if the file has one, is `records[0]`.
    public var records: [[String]]
    /// The 1-based line on which each record starts.
    public var lines: [Int]

    /// `text` as one CSV field the reader gives back unchanged (RFC 4180): wrapped in double quotes, with each quote
    /// doubled, when it holds a comma, a quote or a line break; as it is otherwise.
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Whether `text` is one JSON array or object (checked with Foundation's `JSONSerialization`, and only when its
    /// first non-blank character is `[` or `{`, so a CSV costs one look at its first bytes).
    public static func holdsJSON(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first(where: { !$0.properties.isWhitespace }), first == "[" || first == "{"
        else { return false }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return false }
        return parsed is [Any] || parsed is [String: Any]
    }

    /// Reads and parses a file.
    /// - Throws: ``CSVError/unreadable(path:operation:errno:)`` (a missing file is `open` with `ENOENT`), or
    ///   ``CSVError/notUTF8(path:line:)``.
    public static func read(path: String) throws(CSVError) -> CSVFile {
        try parse(readBytes(path: path), path: path)
    }

    /// Parses CSV bytes; `path` only names the source in errors.
    /// - Throws: ``CSVError/notUTF8(path:line:)``.
    public static func parse(_ bytes: [UInt8], path: String) throws(CSVError) -> CSVFile {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes[3...] : bytes[...]
        // UTF-16 (a spreadsheet's "Unicode text", PowerShell's default) starts with its byte-order mark and holds a NUL
        // in every other byte: named as not UTF-8, never as a NUL on line 1.
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) { throw .notUTF8(path: path, line: 1) }
        // Before the text is made: a file of NULs (a sparse file) is named without a second copy of it in memory.
        if let nul = body.firstIndex(of: 0) {
            let (line, column) = position(of: nul, in: body)
            throw .nulCharacter(path: path, line: line, column: column)
        }
        guard let text = String(validating: body, as: UTF8.self) else {
            let invalid = firstInvalidUTF8(in: body) ?? body.endIndex
            throw .notUTF8(path: path, line: position(of: invalid, in: body).line)
        }
        return try parse(text, path: path)
    }

    /// Parses CSV text (a leading byte-order mark is dropped); `path` only names the source in errors.
    /// - Throws: ``CSVError/unbalancedQuote(path:line:)`` when the double quotes do not pair up (RFC 4180 quotes
    ///   always come in pairs), since the open field would swallow every later row; ``CSVError/jsonNotCSV(path:)``
    ///   when the whole text is one JSON array or object.
    public static func parse(_ text: String, path: String) throws(CSVError) -> CSVFile {
        let body = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
        // A JSON document is never read as a header line (which named columns `[[0.1` and `2]]` and ended in "no data
        // rows"); before the quote count, since a JSON string may hold an escaped quote. A CSV whose first field merely
        // starts with `[` or `{` (a header `[id],name`) is not JSON and is read as CSV.
        if holdsJSON(body) { throw .jsonNotCSV(path: path) }
        if let nul = body.utf8.firstIndex(of: 0) {
            let (line, column) = position(of: nul, in: body.utf8)
            throw .nulCharacter(path: path, line: line, column: column)
        }
        var records: [[String]] = []
        var lines: [Int] = []
        var line = 1
        // `CSVReader(string:)` only throws when told to read a header row, which it is not.
        guard let reader = try? CSVReader(string: body, hasHeaderRow: false, trimFields: false) else {
            return CSVFile(path: path, records: [], lines: [])
        }
        while let record = reader.next() {
            let start = line
            line += 1 + record.reduce(0) { $0 + lineBreaks(in: $1) }
            if record.count == 1 && record[0].utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            records.append(record)
            lines.append(start)
        }
        // Every quote is checked, not only their count: a closing quote with text after it (`"io"s`) pairs up, yet
        // the reader then kept the field open and swallowed the rest of the file into it, rows and all.
        if body.utf8.contains(0x22) {
            if let line = unbalancedQuoteLine(body) { throw .unbalancedQuote(path: path, line: line) }
            if body.utf8.count(where: { $0 == 0x22 }) % 2 != 0 {
                throw .unbalancedQuote(path: path, line: lines.last ?? 1)
            }
        }
        return CSVFile(path: path, records: records, lines: lines)
    }

    /// The line to blame for quotes RFC 4180 does not allow, reading the text as it does: the first double quote
    /// inside a field that did not start with one (a stray quote, `io"s`), a closing quote followed by anything but a
    /// comma or the end of the line (`"io"s`), or else the line where a quoted field opened and never closed. Nil when
    /// none is found.
    static func unbalancedQuoteLine(_ text: String) -> Int? {
        var line = 1
        var quoted = false
        var quotedFrom = 1
        var atFieldStart = true
        var bytes = text.utf8.makeIterator()
        var pending: UInt8? = nil
        while let byte = pending ?? bytes.next() {
            pending = nil
            if quoted {
                if byte == 0x22 {
                    // `""` inside a quoted field is one quote; a lone `"` closes the field.
                    let next = bytes.next()
                    if next == 0x22 { continue }
                    // The field ends here: only a comma, a line end or the end of the text may follow.
                    if let next, next != 0x2C, next != 0x0A, next != 0x0D { return line }
                    quoted = false
                    atFieldStart = false
                    pending = next
                    continue
                }
                if byte == 0x0A {
                    line += 1
                } else if byte == 0x0D {
                    // A lone `\r` ends a line as `\n` does; `\r\n` counts once, at its `\n`.
                    let next = bytes.next()
                    if next != 0x0A { line += 1 }
                    pending = next
                }
                continue
            }
            switch byte {
            case 0x22:
                if !atFieldStart { return line }
                quoted = true
                quotedFrom = line
            case 0x2C:
                atFieldStart = true
                continue
            case 0x0A:
                line += 1
                atFieldStart = true
                continue
            case 0x0D:
                let next = bytes.next()
                if next != 0x0A {
                    line += 1
                    atFieldStart = true
                }
                pending = next
                continue
            default:
                break
            }
            atFieldStart = false
        }
        return quoted ? quotedFrom : nil
    }

    /// Line breaks inside a (quoted) field, counting `\r\n` once.
    private static func lineBreaks(in field: String) -> Int {
        guard field.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return 0 }
        return field.reduce(0) { $0 + ($1.isNewline ? 1 : 0) }
    }
}

extension CSVFile {
    /// The bytes of a file, for a caller that looks at them before parsing (JSON or CSV).
    /// - Throws: ``CSVError/unreadable(path:operation:errno:)``.
    public static func readBytes(path: String) throws(CSVError) -> [UInt8] {
        do {
            return try AtomicFile.read(path)
        } catch {
            throw .unreadable(path: path, operation: error.operation, errno: error.errno.rawValue)
        }
    }
}
