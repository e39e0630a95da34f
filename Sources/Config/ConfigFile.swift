import Foundation
import RecFiles
import RecTOML
import TOMLKit

/// A RecPool configuration file: TOML with one table per program.
///
/// ```toml
/// [broker]
/// frontend = "tcp://10.0.0.1:5555"
/// heartbeat-ms = 500
///
/// [worker]
/// broker = "tcp://10.0.0.1:5556"
/// batch-max-rows = 256
/// ```
///
/// Keys are the programs' long flag names without the dashes. A program reads only its own table,
/// so one file can serve every program on a host.
public struct ConfigFile: Sendable, Hashable {
    /// The program tables a file may hold.
    public static let tables: Set<String> = ["broker", "worker", "client"]

    /// Where it was read from (as given, for messages).
    public var path: String
    /// Values by table, then by key.
    public var tables: [String: [String: ConfigValue]]

    /// Creates a file from values (for tests).
    public init(path: String, tables: [String: [String: ConfigValue]]) {
        self.path = path
        self.tables = tables
    }

    /// Reads and parses `path`.
    /// - Throws: ``ConfigError`` when the file cannot be read, is not TOML, or holds a key outside a
    ///   program table or a value that is itself a table.
    public static func read(path: String) throws(ConfigError) -> ConfigFile {
        let bytes: [UInt8]
        do {
            bytes = try AtomicFile.read(path)
        } catch {
            // The operating system's reason (`Is a directory`, `No such file or directory`), or that it is a device.
            throw .unreadableFile(path: path, reason: AtomicFile.reason(error))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadableFile(path: path, reason: "it is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses TOML text.
    /// - Throws: ``ConfigError`` as ``read(path:)``.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> ConfigFile {
        let root: TOMLTable
        do {
            root = try TOMLDocument.parse(text)
        } catch {
            throw .syntax(path: path, line: error.line, column: error.column, reason: error.reason)
        }
        var tables: [String: [String: ConfigValue]] = [:]
        for (name, node) in root {
            guard tables.keys.contains(name) || Self.tables.contains(name), let table = node.table else {
                throw .misplacedKey(key: name, path: path)
            }
            var values: [String: ConfigValue] = [:]
            for (key, value) in table {
                let source = ConfigSource.file(path: path, table: name)
                values[key] = try convert(value, key: key, source: source, nested: false)
            }
            tables[name] = values
        }
        return ConfigFile(path: path, tables: tables)
    }

    private static func convert(
        _ value: any TOMLValueConvertible, key: String, source: ConfigSource, nested: Bool
    ) throws(ConfigError) -> ConfigValue {
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .integer(value.int ?? 0)
        case .double: return .number(value.double ?? 0)
        case .bool: return .boolean(value.bool ?? false)
        case .array where !nested:
            var items: [ConfigValue] = []
            for item in value.array ?? [] {
                items.append(try convert(item, key: key, source: source, nested: true))
            }
            return .list(items)
        case .table where !nested:
            // `[broker.sub]` or `sub = { … }`: the value was shown as its contents ("invalid value x = 1").
            throw .invalidValue(
                key: key, value: "a table", source: source,
                expected: "a string, number, boolean or array (a program's table holds no tables: [broker], [worker] "
                    + "and [client] take keys only)")
        default:
            throw .invalidValue(
                key: key, value: value.debugDescription, source: source,
                expected: nested ? "a string or number in the array" : "a string, number, boolean or array")
        }
    }
}
