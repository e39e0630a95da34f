/// The one reading of a blank field, for every reader of categorical values: a log's user features
/// (RecData's `LogLoader`), an online policy's served features (RecPolicy's `PolicyFeatures`).
public enum BlankText {
    /// Whether a categorical value is blank: empty, or white space only without a line break (`""`, `" "`, a tab).
    /// A blank value is a missing one, as when a request leaves the feature out: never a category of its own, so a
    /// log's `" "` trains and scores as its blank cells do.
    public static func isBlank(_ text: String) -> Bool {
        text.allSatisfy { $0.isWhitespace && !$0.isNewline }
    }

    /// `text`, or `""` when it is blank: the one spelling of a missing categorical value, so `" "` and `""` are one
    /// value (for an item feature, one column) and never two.
    public static func canonical(_ text: String) -> String { isBlank(text) ? "" : text }
}
