/// Checks of the text fields that name something (an impression, a job, a worker, an item). Such a name is bound to
/// SQLite, which reads a bound string up to its first NUL (so `X\0other` was matched to impression `X`), and printed in
/// log lines and tables (where a newline forges a line): a name with a control character is refused where it arrives.
public enum WireText {
    /// Whether `text` holds a control character (Unicode general category Cc: NUL, tab, newline, carriage return,
    /// escape, DEL, C1 controls).
    public static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// Why `value`, the wire field `field`, cannot name something, or nil: it is empty or only white space, longer than
    /// `maxBytes` UTF-8 bytes, or holds a control character (named by its code point).
    public static func nameProblem(_ value: String, field: String, maxBytes: Int = .max) -> String? {
        if value.isEmpty { return "\(field) is empty" }
        if value.allSatisfy(\.isWhitespace) { return "\(field) is only white space" }
        if value.utf8.count > maxBytes { return "\(field) must have 1 to \(maxBytes) bytes, got \(value.utf8.count)" }
        if let scalar = value.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            return "\(field) holds the control character U+\(hex(scalar.value)), which no name may hold"
        }
        return nil
    }

    /// A code point as four or more uppercase hex digits (`U+000A`).
    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension WireText {
    /// `text` with every C0 control character but the line feed and the tab, DEL and every C1 control character
    /// written as `\u{XX}` (Swift's escape), so that it prints as text and never acts on a terminal.
    public static func escapingControls(_ text: String) -> String {
        escaping(text) { scalar in
            let value = scalar.value
            return (value < 0x20 && value != 0x0A && value != 0x09) || (0x7F...0x9F).contains(value)
        }
    }

    /// `text` with every scalar `isEscaped` picks written as `\u{XX}` (Swift's escape); `text` itself when none is.
    public static func escaping(_ text: String, where isEscaped: (Unicode.Scalar) -> Bool) -> String {
        guard text.unicodeScalars.contains(where: isEscaped) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isEscaped(scalar) {
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}

extension WireText {
    /// Whether `scalar` changes how the text around it is laid out rather than being text: the bidirectional controls
    /// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators (U+2028, U+2029)
    /// (Unicode Standard Annex #9, "Explicit Directional Formatting Characters"). In a label a right-to-left override
    /// shows `w1` as another id, and a separator starts a new line in `status`.
    public static func isLayoutControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: true
        default: false
        }
    }

    /// Why `value`, a label shown in `status`, logs and metrics (`worker_id`, `host`), cannot be one: the
    /// ``nameProblem(_:field:maxBytes:)`` of any name, or a layout control (``isLayoutControl(_:)``) named by its code
    /// point; nil when it can.
    public static func labelProblem(_ value: String, field: String, maxBytes: Int) -> String? {
        if let problem = nameProblem(value, field: field, maxBytes: maxBytes) { return problem }
        if let scalar = value.unicodeScalars.first(where: isLayoutControl) {
            return "\(field) holds U+\(hex(scalar.value)), a bidirectional or line-layout control, which no label may hold "
                + "(it changes how the labels around it are shown)"
        }
        return nil
    }

    /// The most UTF-8 bytes of an error reply's text (``boundedErrorText(_:)``).
    public static let maximumErrorTextBytes = 8_192

    /// `text` as an error reply carries it: control characters escaped (``escapingControls(_:)``), and cut at a
    /// character boundary to ``maximumErrorTextBytes`` bytes, saying how many bytes were left out. An error that quotes
    /// what a client sent (an unknown op, a job id) then neither acts on a terminal nor grows with the request: a
    /// 900,000-byte job id was echoed in full.
    public static func boundedErrorText(_ text: String) -> String {
        let escaped = escapingControls(text)
        let total = escaped.utf8.count
        guard total > maximumErrorTextBytes else { return escaped }
        var kept = ""
        var bytes = 0
        let budget = maximumErrorTextBytes - 64
        for character in escaped {
            let size = character.utf8.count
            if bytes + size > budget { break }
            kept.append(character)
            bytes += size
        }
        return kept + "… (\(total - bytes) more bytes left out)"
    }
}
