/// Renders an effective configuration as TOML, each value commented with its source, so the
/// output of `--print-config` can be saved as a configuration file.
public enum ConfigReport {
    /// The report for `table`.
    public static func render(_ resolution: ConfigResolution, table: String, catalog: OptionCatalog) -> String {
        var lines = ["[\(table)]"]
        for value in resolution.values {
            let isFlag = catalog.entries[value.key]?.isFlag ?? false
            // A text option's value is always a quoted string (`id = "7"`), as a configuration file must give it.
            let isText = catalog.entries[value.key]?.isText ?? false
            let literal = { (text: String) in isText ? Self.quoted(text) : Self.literal(text) }
            let rendered: String
            if isFlag {
                // A TOML boolean whatever spelling the environment used (`yes`, `1`, `on`), so the output loads back.
                rendered = ["1", "true", "yes", "on"].contains((value.values.last ?? "false").lowercased()) ? "true" : "false"
            } else if value.values.isEmpty {
                lines.append("# \(value.key) is not set")
                continue
            } else if catalog.entries[value.key]?.isRepeating == true {
                rendered = "[" + value.values.map(literal).joined(separator: ", ") + "]"
            } else {
                rendered = literal(value.values[value.values.count - 1])
            }
            // Padded to a column, never cut: `padding(toLength:)` truncates a longer line, which left an unterminated
            // string that did not read back.
            let assignment = "\(value.key) = \(rendered)"
            let pad = String(repeating: " ", count: max(0, 48 - assignment.count))
            lines.append(assignment + pad + " # \(value.source)")
        }
        return lines.joined(separator: "\n")
    }

    /// A TOML literal of a value that is not text: integers, floats (`0.02`, `1e-3`) and booleans bare, everything
    /// else (an enumeration's name, a duration such as `10s`) a quoted string.
    static func literal(_ text: String) -> String {
        if text == "true" || text == "false" { return text }
        // A whole number TOML's 64-bit signed integers cannot hold (a seed of 18446744073709551615) is written as a
        // string, which a number option takes for such a value (``ConfigResolver``): written bare it did not load
        // back, and a float option's huge whole number was written as an integer literal that did not either.
        if isWholeNumber(text) { return Int(text).map(String.init) ?? quoted(text) }
        if isTOMLFloat(text) { return text }
        // A number the flag read but TOML would not (`0100`, `+5`, `.5`, `1.`, `0x1p-2`): the value it stands for, in
        // TOML's spelling, so the output loads back to the same value (TOML forbids leading zeros and bare points).
        if let integer = Int(text) { return String(integer) }
        if let value = Double(text), value.isFinite, let canonical = Optional("\(value)"), isTOMLFloat(canonical) {
            return canonical
        }
        return quoted(text)
    }

    /// Whether `text` is a whole number as typed: an optional sign, then decimal digits only.
    static func isWholeNumber(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.utf8.allSatisfy { (48...57).contains($0) }
    }

    /// Whether `text` is a whole number beyond TOML's integers (outside −2⁶³ … 2⁶³ − 1), which a configuration file
    /// gives as a string.
    static func isWideWholeNumber(_ text: String) -> Bool { isWholeNumber(text) && Int(text) == nil }

    /// Whether `text` is a finite TOML 1.0 float as written (`0.02`, `-1.5e3`, `1e-3`; not `.5`, `1.` or `inf`).
    static func isTOMLFloat(_ text: String) -> Bool {
        guard let value = Double(text), value.isFinite else { return false }
        var rest = Substring(text)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let integer = rest.prefix { $0.isASCII && $0.isNumber }
        guard !integer.isEmpty, integer == "0" || integer.first != "0" else { return false }
        rest = rest.dropFirst(integer.count)
        if rest.first == "." {
            let fraction = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { return false }
            rest = rest.dropFirst(1 + fraction.count)
        }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }

    /// A TOML basic string holding `text`.
    static func quoted(_ text: String) -> String {
        var escaped = ""
        // By scalar, so "\r\n" (one Character) is escaped as two; TOML 1.0 basic strings allow no control
        // character but tab, so every other one is written as \uXXXX and the output reads back as a config file.
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped.unicodeScalars.append(scalar)
            default:
                if scalar.properties.generalCategory == .control {
                    let digits = String(scalar.value, radix: 16, uppercase: true)
                    escaped += "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return "\"\(escaped)\""
    }
}
