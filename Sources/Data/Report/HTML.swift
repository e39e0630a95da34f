/// Text for HTML pages: the one escape every report uses.
public enum HTML {
    /// `s` with `&`, `<`, `>` and `"` replaced by their named character references (`&amp;` first, so nothing
    /// is escaped twice): safe as element text and inside a double-quoted attribute value.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
