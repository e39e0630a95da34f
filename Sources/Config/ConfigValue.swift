/// One value from a configuration file or the environment, before it becomes a command-line
/// argument.
public enum ConfigValue: Sendable, Hashable {
    /// A TOML string, or any environment value.
    case string(String)
    /// A TOML integer.
    case integer(Int)
    /// A TOML floating-point number.
    case number(Double)
    /// A TOML boolean.
    case boolean(Bool)
    /// A TOML array of scalars (for options that may be repeated).
    case list([ConfigValue])

    /// Whether it is a string (a TOML string, or an environment value).
    var isString: Bool {
        if case .string = self { return true }
        return false
    }

    /// The text passed to the option, as it would be typed after `--key`.
    var argumentText: String? {
        switch self {
        case .string(let text): text
        case .integer(let value): String(value)
        case .number(let value): String(value)
        case .boolean(let value): value ? "true" : "false"
        case .list: nil
        }
    }
}

/// Where an effective value came from, in precedence order (the first one that has a key wins).
public enum ConfigSource: Sendable, Hashable, CustomStringConvertible {
    /// Typed on the command line.
    case commandLine
    /// An environment variable, such as `RECPOOL_BATCH_MAX_ROWS`.
    case environment(variable: String)
    /// A key in a program's table of the configuration file.
    case file(path: String, table: String)
    /// The command's built-in default.
    case builtIn

    /// Whether the value came from an environment variable.
    public var isEnvironment: Bool {
        if case .environment = self { return true }
        return false
    }

    /// How `--print-config` names the source.
    public var description: String {
        switch self {
        case .commandLine: "command line"
        case .environment(let variable): "environment \(variable)"
        case .file(let path, let table): "\(path) [\(table)]"
        case .builtIn: "default"
        }
    }
}
