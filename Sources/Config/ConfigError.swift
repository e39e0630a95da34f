/// Why a configuration could not be used. Every case names the key and where it came from.
public enum ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// ArgumentParser's description of a command could not be read (a programming error).
    case introspection(String)
    /// The configuration file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The configuration file is not valid TOML.
    case syntax(path: String, line: Int, column: Int, reason: String)
    /// A key that no flag of the program has.
    case unknownKey(key: String, source: ConfigSource)
    /// A table other than the programs' (`[broker]`, `[worker]`, `[client]`), or a key outside any table.
    case misplacedKey(key: String, path: String)
    /// A value of the wrong shape for its key (a table, an array for a single option, a non-boolean flag).
    case invalidValue(key: String, value: String, source: ConfigSource, expected: String)
    /// An inverted flag given by both its names in one source (`RECPOOL_RESTORE_BEST` and `RECPOOL_NO_RESTORE_BEST`).
    case bothNames(key: String, negation: String, source: ConfigSource)
    /// `--config` given more than once (the paths, in order): one file configures a run.
    case repeatedConfig([String])

    /// The message printed before the program exits.
    public var description: String {
        switch self {
        case .introspection(let reason):
            reason
        case .unreadableFile(let path, let reason):
            "cannot read the configuration file \(path): \(reason)"
        case .syntax(let path, let line, let column, let reason):
            "\(path):\(line):\(column): \(reason)"
        case .unknownKey(let key, let source):
            "unknown key \"\(key)\" (from \(source))"
        case .misplacedKey(let key, let path):
            "\(path): \"\(key)\" is not in a program table: put keys under [broker], [worker] or [client]"
        case .invalidValue(let key, let value, let source, let expected):
            "invalid value \(value) for \"\(key)\" (from \(source)): expected \(expected)"
        case .bothNames(let key, let negation, let source):
            if case .environment = source {
                "\(ConfigResolver.environmentVariable(for: key)) and \(ConfigResolver.environmentVariable(for: negation)) "
                    + "are both set: set one"
            } else {
                "\"\(key)\" and \"\(negation)\" are both given (from \(source)): give one"
            }
        case .repeatedConfig(let paths):
            "--config is given \(paths.count) times (\(paths.joined(separator: ", "))): give one configuration file"
        }
    }
}
