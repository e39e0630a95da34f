import Foundation

extension TOMLDocument {
    /// The most dots in one dotted key or table header any document may hold (65 parts). toml++ recurses once per
    /// dotted part: a config file's key of 30,000 parts (60 KB) overflowed the parsing thread's stack, and every
    /// program reading it died with SIGSEGV and no message. Readers with a tighter rule check theirs first (a
    /// schema's keys are at most 17 parts deep).
    public static let maximumKeyDots = 64

    /// The deepest dotted key or table header of `text`: its 1-based line and its number of dots (0 for a document
    /// without dotted keys).
    ///
    /// A dotted key is a run of bare or quoted parts joined by dots (`a.b."c.d"`), in a key of its own, a table header
    /// or an inline table. The scan counts the dots of each such run outside quoted strings and comments, so values
    /// (`0.25`, a date, a dotted string) and comments never count.
    public static func deepestKey(in text: String) -> (line: Int, dots: Int) {
        var deepest = (line: 0, dots: 0)
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var dots = 0
            var quote: Character? = nil
            for character in line {
                if let open = quote {
                    if character == open { quote = nil }
                    continue
                }
                if character == "#" { break }
                if character == "\"" || character == "'" {
                    quote = character
                } else if character == "." {
                    dots += 1
                    if dots > deepest.dots { deepest = (index + 1, dots) }
                } else if !(character.isLetter || character.isNumber || "_- \t".contains(character)) {
                    dots = 0
                }
            }
        }
        return deepest
    }

    /// The 1-based line of the first string in `text` that escapes U+0000 (`\u0000`, `\U00000000`), or nil. toml++ hands
    /// strings over as C strings, so such a value was read cut at it (`"w\u0000evil"` as `"w"`), without a word.
    public static func lineEscapingNUL(in text: String) -> Int? {
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated()
        where line.range(of: #"\\(u0000|U00000000)"#, options: .regularExpression) != nil {
            return index + 1
        }
        return nil
    }

    /// Refuses what toml++ would crash on or read cut short, before it sees the text: a key nested past
    /// ``maximumKeyDots``, a string escaping U+0000.
    static func shapeError(_ text: String) -> TOMLSyntaxError? {
        if let line = lineEscapingNUL(in: text) {
            return TOMLSyntaxError(
                line: line, column: 0, reason: "a string escapes the character U+0000 (\\u0000), which no value may hold")
        }
        let deepest = deepestKey(in: text)
        if deepest.dots > maximumKeyDots {
            return TOMLSyntaxError(
                line: deepest.line, column: 0,
                reason: "a key or table header nested \(deepest.dots + 1) deep; keys are at most \(maximumKeyDots + 1) "
                    + "parts deep")
        }
        return nil
    }
}
