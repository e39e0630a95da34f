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
    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension WireText {
    /// `text` with every C0 control character but the line feed and the tab, DEL and every C1 control character
    /// written as `\u{XX}` (Swift's escape), so that it prints as text and never acts on a terminal.
    public static func escapingControls(_ text: String) -> String {
        func isControl(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            return (value < 0x20 && value != 0x0A && value != 0x09) || (0x7F...0x9F).contains(value)
        }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
