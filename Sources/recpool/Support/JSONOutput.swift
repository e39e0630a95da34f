import Foundation
import Shared

/// Encodes `--json` output with snake_case keys, sorted, one line; a key with no value is `null`.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? NullEncoding.encode(value, with: encoder) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
