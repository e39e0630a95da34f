/// The one reading of a text field's surrounding white space and of a blank field, for every reader of categorical
/// values and timestamps: a log's user features and timestamps (RecData's `LogLoader`), a catalogue's item features
/// (RecData's `ItemCatalogue`, local and on the broker), the schema draft (`SchemaInference`), and an online policy's
/// served features (RecPolicy's `PolicyFeatures`). Numbers are read the same way (``CSVNumber``).
public enum BlankText {
    /// Whether a categorical value is blank: empty, or white space only without a line break (`""`, `" "`, a tab).
    /// A blank value is a missing one, as when a request leaves the feature out: never a category of its own, so a
    /// log's `" "` trains and scores as its blank cells do.
    public static func isBlank(_ text: String) -> Bool {
        text.allSatisfy { $0.isWhitespace && !$0.isNewline }
    }

    /// `text` without the spaces and tabs around it (white space inside is kept: `" new york "` is `"new york"`).
    /// Surrounding white space is no part of a value, as it is no part of a number or an id.
    public static func trimmed(_ text: String) -> String {
        var s = Substring(text)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s.count == text.count ? text : String(s)
    }

    /// The value a categorical field holds: `text` without its surrounding spaces and tabs, or `""` when it is blank.
    /// The one spelling of a value, so `" android "` and `"android"` are one category (one column) and never two, and
    /// `" "` and `""` are one missing value.
    public static func canonical(_ text: String) -> String { isBlank(text) ? "" : trimmed(text) }
}
