/// The one reading of a number in a CSV field, for every reader of files of rows (``NumericCSV``, RecData's
/// `CSVTable`, catalogues): decimal text, as pandas and spreadsheets write it, with surrounding spaces or tabs.
///
/// Swift's own `Double(_:)` also reads hexadecimal floats (`0x10` is 16, `0x1p-3` is 0.125), which no CSV writer
/// means as a number: a field such as `0x1A` (an id, a hash) would be read as 26 without a word. Such text is not a
/// number here. NaN and infinities are still returned (as Swift reads `nan`, `inf`, `1e400`) so that the caller
/// can refuse them as not finite, naming the field.
public enum CSVNumber {
    /// The value of a decimal number field, or nil when the text is not one (hexadecimal included).
    public static func double(_ text: String) -> Double? {
        let trimmed = text.trimmingSpaces
        guard !trimmed.utf8.contains(where: { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }) else {
            return nil
        }
        return Double(trimmed)
    }

    /// The value of a whole-number field (an id, a count, a 0/1 flag), read from its text: optional spaces, an
    /// optional sign, at most 15 digits, and optionally a point followed only by zeros (`3`, `+3`, `-0`, `3.0`,
    /// `3.`). Nil for anything else: `0.99999999999999999`, `1e-400` or `3.5` were read as a `Double` first and then
    /// rounded to 1, 0 or refused, so a damaged id or click could pass as another.
    public static func wholeNumber(_ text: String) -> Int? {
        var digits = Substring(text.trimmingSpaces)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        if let point = digits.firstIndex(of: ".") {
            guard digits[digits.index(after: point)...].allSatisfy({ $0 == "0" }) else { return nil }
            digits = digits[..<point]
        }
        guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int(digits)
        else { return nil }
        return negative ? -value : value
    }

    /// The value of a decimal number field read straight as a 32-bit float (infinite when beyond a `Float`'s range),
    /// or nil when the text is not one (hexadecimal included).
    public static func float(_ text: String) -> Float? {
        let trimmed = text.trimmingSpaces
        guard !trimmed.utf8.contains(where: { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }) else {
            return nil
        }
        return Float(trimmed)
    }
}
