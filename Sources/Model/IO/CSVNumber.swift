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
