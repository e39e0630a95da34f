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
    /// optional sign, digits, optionally a point and more digits, optionally an exponent (`e` or `E`, an optional sign
    /// and at most 4 digits), whose exact decimal value is an integer of at most 15 digits. Every spelling of an
    /// integer-valued number is the integer (`3`, `+3`, `03`, `-0`, `3.0`, `3.`, `3e0`, `0.3e1`, `30e-1`); anything
    /// else is nil, computed on the digits and never through a `Double`: `0.99999999999999999`, `1e-400` or `3.5`
    /// were read as a `Double` first and then rounded to 1, 0 or refused, so a damaged id or click could pass as
    /// another.
    public static func wholeNumber(_ text: String) -> Int? {
        var rest = Substring(text.trimmingSpaces).utf8[...]
        func digits() -> Substring.UTF8View.SubSequence {
            let run = rest.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            rest = rest.dropFirst(run.count)
            return run
        }
        var negative = false
        if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            rest = rest.dropFirst()
        }
        let whole = digits()
        guard !whole.isEmpty else { return nil }
        var fraction = Substring.UTF8View.SubSequence()
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            fraction = digits()
        }
        var exponent = 0
        if let e = rest.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            var negativeExponent = false
            if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                negativeExponent = sign == UInt8(ascii: "-")
                rest = rest.dropFirst()
            }
            let power = digits()
            guard !power.isEmpty, power.count <= 4, let value = Int(String(decoding: power, as: UTF8.self)) else {
                return nil
            }
            exponent = negativeExponent ? -value : value
        }
        guard rest.isEmpty else { return nil }
        // The number is `significand × 10^scale`, its digits with the point removed.
        var significand = Array(whole) + Array(fraction)
        var scale = exponent - fraction.count
        while let first = significand.first, first == UInt8(ascii: "0"), significand.count > 1 {
            significand.removeFirst()
        }
        if significand == [UInt8(ascii: "0")] { return 0 }
        // Trailing zeros move into the scale; a negative scale left over is a fraction.
        while scale < 0, let last = significand.last, last == UInt8(ascii: "0") {
            significand.removeLast()
            scale += 1
        }
        guard scale >= 0, significand.count + scale <= 15 else { return nil }
        guard let value = Int(String(decoding: significand, as: UTF8.self) + String(repeating: "0", count: scale))
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
