/// The one reader of a registry version number as an operator types it: `promote 3`, `--online-catalogue 2`,
/// `--model-version 5`. Model, catalogue and online policy versions are numbered from 1, so `0` names none.
///
/// Only the canonical decimal spelling is a version: `0`, `-0`, `+1`, `01`, ` 1` and `1.0` are refused, where
/// `UInt64(_:)` took `+1` and `01` and some options took `0` only to fail later (a broker started with online
/// learning off).
public enum VersionNumber {
    /// The version `text` names.
    /// - Throws: ``VersionNumberError`` naming the text as typed.
    public static func parse(_ text: String) throws(VersionNumberError) -> UInt64 {
        guard let first = text.utf8.first, first != UInt8(ascii: "0"), text.utf8.allSatisfy({ (48...57).contains($0) }),
            let value = UInt64(text)
        else {
            throw VersionNumberError(text: text, allowsLatest: false)
        }
        return value
    }

    /// `latest`, or a version number in its canonical spelling (``parse(_:)``), as `--online-catalogue` takes it.
    /// - Throws: ``VersionNumberError`` naming the text as typed.
    public static func parseOrLatest(_ text: String) throws(VersionNumberError) -> String {
        if text == "latest" { return text }
        do {
            return String(try parse(text))
        } catch {
            throw VersionNumberError(text: text, allowsLatest: true)
        }
    }
}

/// A text that is no version number (``VersionNumber``).
public struct VersionNumberError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text as typed.
    public var text: String
    /// Whether `latest` would have been taken too.
    public var allowsLatest: Bool

    /// Creates the error for `text`.
    public init(text: String, allowsLatest: Bool) {
        self.text = text
        self.allowsLatest = allowsLatest
    }

    /// "\"0\" is not a version: versions are numbered from 1, in plain digits (1, 2, 3, …)"; for plain digits past
    /// 2⁶⁴ − 1, that it is too large (it is in plain digits).
    public var description: String {
        if let first = text.utf8.first, first != UInt8(ascii: "0"), text.utf8.allSatisfy({ (48...57).contains($0) }) {
            return "\"\(text)\" is not a version: version numbers are at most \(UInt64.max)"
        }
        return "\"\(text)\" is not a version: versions are numbered from 1, in plain digits (1, 2, 3, …)"
            + (allowsLatest ? ", or latest" : "")
    }
}
