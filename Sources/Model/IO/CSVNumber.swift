/// The one reading of a number in a CSV field, for every reader of files of rows (``NumericCSV``, RecData's
/// `CSVTable`, catalogues): decimal text, as pandas and spreadsheets write it, with surrounding spaces or tabs.
///
/// Swift's own `Double(_:)` also reads hexadecimal floats (`0x10` is 16, `0x1p-3` is 0.125), which no CSV writer
/// means as a number: a field such as `0x1A` (an id, a hash) would be read as 26 without a word. Such text is not a
/// number here. NaN and infinities are still returned (as Swift reads `nan`, `inf`, `1e400`) so that the caller
/// can refuse them as not finite, naming the field.
public enum CSVNumber {
    /// The value of a decimal number field, or nil when the text is not one (hexadecimal included), or when it is a
    /// number other than 0 nearer 0 than the smallest 64-bit float (`1e-400`, which `Double` reads as 0: a request's
    /// JSON refuses it, and a log's cell or `--events 1:1e-400` was read as 0 without a word).
    public static func double(_ text: String) -> Double? {
        let trimmed = text.trimmingSpaces
        guard !trimmed.utf8.contains(where: { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }) else {
            return nil
        }
        guard let value = Double(trimmed), !(value == 0 && hasNonZeroDigit(trimmed)) else { return nil }
        return value
    }

    /// Whether `text` reads as a number other than 0 that `Double` rounds to 0 (`1e-400`): nearer 0 than the smallest
    /// 64-bit float.
    public static func underflows(_ text: String) -> Bool {
        let trimmed = text.trimmingSpaces
        return Double(trimmed) == 0 && hasNonZeroDigit(trimmed)
    }

    /// Whether the mantissa (the text before an exponent) holds a digit 1–9.
    private static func hasNonZeroDigit(_ text: String) -> Bool {
        text.utf8.prefix(while: { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") })
            .contains(where: { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") })
    }

    /// The value of a whole-number field (an id, a count, a 0/1 flag), read from its text: optional spaces, an
    /// optional sign, digits, optionally a point and more digits, optionally an exponent (`e` or `E`, an optional sign
    /// and at most 4 digits), whose exact decimal value is an integer of at most 15 digits. Every spelling of an
    /// integer-valued number is the integer (`3`, `+3`, `03`, `-0`, `3.0`, `3.`, `3e0`, `0.3e1`, `30e-1`); anything
    /// else is nil, computed on the digits and never through a `Double`: `0.99999999999999999`, `1e-400` or `3.5`
    /// were read as a `Double` first and then rounded to 1, 0 or refused, so a damaged id or click could pass as
    /// another.
    public static func wholeNumber(_ text: String) -> Int? {
        let bytes = Array(text.trimmingSpaces.utf8)
        var at = 0
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        func digits() -> ArraySlice<UInt8> {
            let start = at
            while at < bytes.count, isDigit(bytes[at]) { at += 1 }
            return bytes[start..<at]
        }
        func take(_ characters: String) -> UInt8? {
            guard at < bytes.count, characters.utf8.contains(bytes[at]) else { return nil }
            at += 1
            return bytes[at - 1]
        }
        let negative = take("+-") == UInt8(ascii: "-")
        let whole = digits()
        guard !whole.isEmpty else { return nil }
        let fraction = take(".") == nil ? [] : digits()
        var exponent = 0
        if take("eE") != nil {
            let negativeExponent = take("+-") == UInt8(ascii: "-")
            let power = digits()
            guard !power.isEmpty, power.count <= 4, let value = Int(String(decoding: power, as: UTF8.self)) else {
                return nil
            }
            exponent = negativeExponent ? -value : value
        }
        guard at == bytes.count else { return nil }
        // The number is `significand × 10^scale`: its digits with the point removed, leading zeros dropped.
        var significand = Array((whole + fraction).drop { $0 == UInt8(ascii: "0") })
        var scale = exponent - fraction.count
        if significand.isEmpty { return 0 }
        // Trailing zeros move into the scale; a negative scale left over is a fraction.
        while scale < 0, significand.last == UInt8(ascii: "0") {
            significand.removeLast()
            scale += 1
        }
        guard scale >= 0, significand.count + scale <= 15,
            let value = Int(String(decoding: significand, as: UTF8.self) + String(repeating: "0", count: scale))
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
        guard let value = Float(trimmed) else { return nil }
        // Nearer 0 than any 64-bit float: no number here either (a 32-bit float's own rounding of `1e-50` to 0 is kept).
        // Checked only for a 0, so a file of numbers is parsed once per cell.
        if value == 0, hasNonZeroDigit(trimmed), Double(trimmed) == 0 { return nil }
        return value
    }
}
