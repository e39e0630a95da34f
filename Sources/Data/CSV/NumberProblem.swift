import RecModel

/// Why a numeric field's text is not a value the models hold, one cause each: the one reading of a number for a
/// log's cells (`CSVTable`), a catalogue file's cells and a `catalogue add`'s fields (`ItemEncoding`), so that a
/// file loaded here and the same file uploaded to a pool name a bad field alike.
public enum NumberProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field is empty or white space only.
    case blank
    /// The text is no decimal number (`1,5`, `0x10`, `abc`).
    case notANumber
    /// NaN or an infinity (`nan`, `inf`, `1e400`).
    case notFinite
    /// A finite `Double` beyond a 32-bit float's range (`1e39`), which the models would hold as infinity.
    case outsideFloatRange
    /// A number other than 0 nearer 0 than the smallest 64-bit float (`1e-400`), which would be read as 0.
    case nearerZero

    /// The reason as a message continues after the field's text: `'1,5' is not a number`.
    public var description: String {
        switch self {
        case .blank: "is blank: a number is needed"
        case .notANumber: "is not a number"
        case .notFinite: "is not finite"
        case .outsideFloatRange: "is outside a 32-bit float's range (±3.4e38)"
        case .nearerZero: "is nearer 0 than the smallest 64-bit float (it would be read as 0)"
        }
    }

    /// The finite number `text` holds (``CSVNumber/double(_:)``, surrounding spaces and tabs ignored).
    /// - Throws: ``blank``, ``notANumber``, ``nearerZero`` or ``notFinite``.
    public static func double(_ text: String) throws(NumberProblem) -> Double {
        guard !BlankText.isBlank(text) else { throw .blank }
        guard let value = CSVNumber.double(text) else { throw CSVNumber.underflows(text) ? .nearerZero : .notANumber }
        guard value.isFinite else { throw .notFinite }
        return value
    }

    /// The number `text` holds as the 32-bit float the models keep.
    /// - Throws: what ``double(_:)`` throws, or ``outsideFloatRange``.
    public static func float(_ text: String) throws(NumberProblem) -> Float {
        let single = Float(try double(text))
        guard single.isFinite else { throw .outsideFloatRange }
        return single
    }
}
