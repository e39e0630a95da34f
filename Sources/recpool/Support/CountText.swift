/// A count with its noun in the number's grammatical form, for text output: `1 row`, `2 rows`, `0 clicks`.
enum CountText {
    /// `count` and `singular`, pluralised with an `s` unless `count` is 1 ("1 rows" appeared in `fit`, `eval` and
    /// `data describe` lines on tiny logs).
    static func of(_ count: Int, _ singular: String) -> String {
        "\(count) \(singular)\(count == 1 ? "" : "s")"
    }
}
