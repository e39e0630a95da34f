import RecTOML

/// Merges the command line, the environment and a configuration file into the arguments a command
/// parses, with precedence command line, then environment, then file, then the built-in default.
///
/// The mapping is one rule for every option: the flag `--batch-max-rows` is the environment
/// variable `RECPOOL_BATCH_MAX_ROWS` and the file key `batch-max-rows` in the program's table.
/// Values from the environment and the file are turned into `--key value` arguments placed before
/// the user's own, so ArgumentParser parses and validates every value the same way, whatever its source.
public enum ConfigResolver {
    /// The environment variable prefix.
    public static let environmentPrefix = "RECPOOL_"
    /// The variable that names a configuration file when `--config` is not given.
    public static let configVariable = "RECPOOL_CONFIG"

    /// The environment variable for a key: `batch-max-rows` → `RECPOOL_BATCH_MAX_ROWS`.
    public static func environmentVariable(for key: String) -> String {
        environmentPrefix + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The configuration file path: `--config PATH` (or `--config=PATH`), else `RECPOOL_CONFIG`.
    /// - Throws: ``ConfigError/repeatedConfig(_:)`` for `--config` given twice: a second file was silently ignored
    ///   where every other repeated option takes its last value.
    public static func configPath(arguments: [String], environment: [String: String]) throws(ConfigError) -> String? {
        try configFile(arguments: arguments, environment: environment)?.path
    }

    /// The configuration file and what named it (`--config`, or the ``configVariable`` variable).
    /// - Throws: ``ConfigError/repeatedConfig(_:)`` for `--config` given twice.
    public static func configFile(arguments: [String], environment: [String: String]) throws(ConfigError)
        -> (path: String, fromEnvironment: Bool)?
    {
        var paths: [String] = []
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == "--config", index + 1 < arguments.count { paths.append(arguments[index + 1]) }
            if argument.hasPrefix("--config=") { paths.append(String(argument.dropFirst("--config=".count))) }
        }
        if paths.count > 1 { throw .repeatedConfig(paths) }
        // An empty path names no file: refused as every other option's empty value is (`RECPOOL_CONFIG=` was taken
        // for "no file", `--config ""` was "cannot read the configuration file : No such file or directory").
        if let path = paths.first {
            guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
                // A blank path (`--config ' '`) shown as typed: it was named `""`, which is not what was given.
                throw .invalidValue(
                    key: "config", value: "\"\(path)\" (\(path.isEmpty ? "empty" : "blank"))", source: .commandLine,
                    expected: "the path of a TOML file")
            }
            return (path, false)
        }
        if let path = environment[configVariable] {
            guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .invalidValue(
                    key: "config", value: "\"\(path)\" (\(path.isEmpty ? "empty" : "blank"))",
                    source: .environment(variable: configVariable),
                    expected: "the path of a TOML file (unset it for none)")
            }
            return (path, true)
        }
        return nil
    }

    /// The command line with a leading `--config FILE` (or `--config=FILE`) moved after the subcommand it precedes:
    /// `recpool --config FILE status` reads as `recpool status --config FILE`, as an operator means it. Options
    /// belong to the subcommand that takes them, so the file was otherwise judged against the top-level command,
    /// which has none ("unknown key"). A command line that does not start with `--config`, or where no subcommand
    /// follows it, is returned as it is.
    public static func configAfterSubcommand(_ arguments: [String]) -> [String] {
        let taken: Int
        if arguments.first == "--config", arguments.count >= 2 {
            taken = 2
        } else if arguments.first?.hasPrefix("--config=") == true {
            taken = 1
        } else {
            return arguments
        }
        var rest = Array(arguments.dropFirst(taken))
        guard let next = rest.first, !next.hasPrefix("-") else { return arguments }
        let end = rest.firstIndex(of: "--") ?? rest.endIndex
        rest.insert(contentsOf: arguments.prefix(taken), at: end)
        return rest
    }

    /// Resolves the arguments to parse.
    /// - Parameters:
    ///   - catalog: the command's options (``OptionCatalog``).
    ///   - table: the program's table in the file (`broker`, `worker`, `client`).
    ///   - arguments: the command line, without the program name.
    ///   - environment: the process environment.
    ///   - file: the configuration file, if any.
    /// - Returns: the merged arguments and each key's effective value and source.
    /// - Throws: ``ConfigError`` for a key the program's table holds that no option has, or a value
    ///   of the wrong shape (a flag that is not a boolean, several values for a single option).
    public static func resolve(
        catalog: OptionCatalog, table: String, arguments: [String], environment: [String: String],
        file: ConfigFile?
    ) throws(ConfigError) -> ConfigResolution {
        let typed = commandLineValues(arguments.dropFirst(catalog.subcommandPath.count), catalog: catalog)
        let fileValues = file?.tables[table] ?? [:]
        let negations = Set(catalog.entries.values.compactMap(\.negation))
        if let file {
            for key in fileValues.keys.sorted() where catalog.entries[key] == nil && !negations.contains(key) {
                // A shared [client] table may hold keys of sibling subcommands; anything else is a mistake.
                if catalog.allKeys.contains(key) && !catalog.subcommandPath.isEmpty { continue }
                throw .unknownKey(key: key, source: .file(path: file.path, table: table))
            }
        }
        var injected: [String] = []
        var values: [ConfigResolution.Value] = []
        for entry in catalog.entries.values.sorted(by: { $0.key < $1.key }) {
            // The dataset given as the first positional word is given on the command line, as `--dataset` is.
            if entry.key == positionalOption, typed[entry.key] == nil, let word = typed[positionalKey]?.first {
                values.append(.init(key: entry.key, values: [word], source: .commandLine))
                continue
            }
            if let typedValues = typed[entry.key] {
                if entry.isNumber, let hex = typedValues.first(where: isHexadecimal) {
                    throw .invalidValue(key: entry.key, value: hex, source: .commandLine, expected: Self.decimalNumber)
                }
                if entry.isNumber, let tiny = typedValues.first(where: underflows) {
                    throw .invalidValue(key: entry.key, value: tiny, source: .commandLine, expected: Self.representable)
                }
                if entry.isNumber, let huge = typedValues.first(where: overflows) {
                    throw .invalidValue(key: entry.key, value: huge, source: .commandLine, expected: Self.finite)
                }
                values.append(.init(key: entry.key, values: typedValues, source: .commandLine))
                continue
            }
            let variable = environmentVariable(for: entry.key)
            // An inverted flag's other name is a variable and a key too (`RECPOOL_NO_RESTORE_BEST=true`,
            // `no-restore-best = true`): it was silently ignored, leaving the flag at its default.
            if let inverted = try invertedValue(
                of: entry, environment: environment, fileValues: fileValues, file: file, table: table)
            {
                injected.append(inverted.argument)
                values.append(.init(key: entry.key, values: [inverted.on ? "true" : "false"], source: inverted.source))
            } else if let text = environment[variable] {
                let source = ConfigSource.environment(variable: variable)
                // Empty pieces kept (`a=1,,b=2`, `,`, an empty variable): each is refused as an empty value, as the file's are.
                let items =
                    entry.isRepeating ? text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) : [text]
                if entry.isNumber, let hex = items.first(where: isHexadecimal) {
                    throw .invalidValue(key: entry.key, value: hex, source: source, expected: Self.decimalNumber)
                }
                if entry.isNumber, let tiny = items.first(where: underflows) {
                    throw .invalidValue(key: entry.key, value: tiny, source: source, expected: Self.representable)
                }
                if entry.isNumber, let huge = items.first(where: overflows) {
                    throw .invalidValue(key: entry.key, value: huge, source: source, expected: Self.finite)
                }
                injected += try injectedArguments(for: entry, items.map(ConfigValue.string), source: source)
                values.append(.init(key: entry.key, values: items, source: source))
            } else if let value = fileValues[entry.key], let file {
                let source = ConfigSource.file(path: file.path, table: table)
                let items: [ConfigValue]
                if case .list(let list) = value {
                    guard entry.isRepeating else {
                        throw .invalidValue(
                            key: entry.key, value: "an array", source: source, expected: "a single value")
                    }
                    items = list
                } else {
                    items = [value]
                }
                injected += try injectedArguments(for: entry, items, source: source)
                values.append(.init(key: entry.key, values: items.compactMap(\.argumentText), source: source))
            } else {
                values.append(.init(key: entry.key, values: entry.defaultValue.map { [$0] } ?? [], source: .builtIn))
            }
        }
        let prefix = Array(arguments.prefix(catalog.subcommandPath.count))
        let rest = joiningNegativeValues(Array(arguments.dropFirst(catalog.subcommandPath.count)), catalog: catalog)
        return ConfigResolution(arguments: prefix + injected + rest, values: values)
    }

    /// The value an inverted flag takes from its `no-X` (or `disable-X`) variable or file key, when that is given: the
    /// argument that sets it (`--no-X` for `true`, `--X` for `false`), whether the flag ends up on, and the source.
    /// The environment outranks the file, as for every key.
    /// - Throws: ``ConfigError/invalidValue(key:value:source:expected:)`` for a value that is no boolean, and
    ///   ``ConfigError/bothNames(key:negation:source:)`` when both names are given in one source.
    static func invertedValue(
        of entry: OptionCatalog.Entry, environment: [String: String], fileValues: [String: ConfigValue],
        file: ConfigFile?, table: String
    ) throws(ConfigError) -> (argument: String, on: Bool, source: ConfigSource)? {
        guard let negation = entry.negation else { return nil }
        let variable = environmentVariable(for: entry.key)
        let negatedVariable = environmentVariable(for: negation)
        let candidate: (ConfigValue, ConfigSource)
        if let text = environment[negatedVariable] {
            let source = ConfigSource.environment(variable: negatedVariable)
            if environment[variable] != nil { throw .bothNames(key: entry.key, negation: negation, source: source) }
            candidate = (.string(text), source)
        } else if environment[variable] != nil {
            return nil
        } else if let value = fileValues[negation], let file {
            let source = ConfigSource.file(path: file.path, table: table)
            if fileValues[entry.key] != nil { throw .bothNames(key: entry.key, negation: negation, source: source) }
            candidate = (value, source)
        } else {
            return nil
        }
        let (value, source) = candidate
        guard let negated = boolean(value, wordsAllowed: source.isEnvironment) else {
            let text = value.argumentText ?? "?"
            let shown = text.isEmpty ? "\"\" (empty)" : value.isString && !source.isEnvironment ? "\"\(text)\"" : text
            throw .invalidValue(key: negation, value: shown, source: source, expected: Self.flagExpected(source))
        }
        return (negated ? "--\(negation)" : "--\(entry.key)", !negated, source)
    }

    /// What a flag takes from `source`: a file's TOML boolean, or an environment variable's word (docs/OPERATIONS.md,
    /// "Configuration": `1`/`0`, `yes`/`no`, `on`/`off` too; quotes mean nothing there).
    static func flagExpected(_ source: ConfigSource) -> String {
        source.isEnvironment
            ? "true or false (or 1/0, yes/no, on/off)" : "true or false (a TOML boolean, without quotes)"
    }

    /// `--key -1` as `--key=-1` for an option that takes a value, so that a negative number typed after it is the
    /// option's value, which the command then checks and names ("--epochs must be 0…10000, got -1"): ArgumentParser
    /// reads a word starting with `-` as a flag, and said "Missing value for '--epochs'" of a value that was there.
    /// Only a word that is a number (`-1`, `-0.5`, `-1e3`, `-inf`, `-nan`) is joined; arguments after `--` are
    /// left alone.
    static func joiningNegativeValues(_ arguments: [String], catalog: OptionCatalog) -> [String] {
        var valued: Set<String> = []
        for entry in catalog.entries.values where !entry.isFlag { valued.insert(entry.key) }
        var out: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                out += arguments[index...]
                break
            }
            if argument.hasPrefix("--"), !argument.contains("="), valued.contains(String(argument.dropFirst(2))),
                index + 1 < arguments.count, isNegativeNumber(arguments[index + 1])
            {
                out.append("\(argument)=\(arguments[index + 1])")
                index += 2
                continue
            }
            out.append(argument)
            index += 1
        }
        return out
    }

    /// Whether `word` is a negative number as a user types one: `-` then something `Double` reads (`-1`, `-0.5`,
    /// `-1e3`, `-inf`, `-nan`).
    /// What a number option takes, as the refusal of a hexadecimal one says it.
    static let decimalNumber = "a decimal number (0x10 is not read as 16 here, as in a log or a request)"

    /// Whether `word` is a hexadecimal number (`0x10`, `-0x1p3`): Swift's parsers read it, so an option took it, while
    /// a log's cell and a request's value refuse it (docs/DATA.md, "Bad input"). (A configuration file is TOML, whose
    /// own `0x10` integer is 16.)
    static func isHexadecimal(_ word: String) -> Bool {
        let body = word.drop { $0 == "+" || $0 == "-" }
        return body.count > 2 && (body.hasPrefix("0x") || body.hasPrefix("0X"))
    }

    /// What a number option takes, as the refusal of one that underflows says it.
    static let representable =
        "a number a 64-bit float holds (it is read as 0: the smallest magnitude above 0 is about 4.9e-324, as in a log)"

    /// Whether `word` is a decimal number whose digits are not all zero but which a `Double` reads as 0 (`1e-400`):
    /// the option took 0, while a log's cell refuses the same value (docs/DATA.md, "Bad input").
    static func underflows(_ word: String) -> Bool {
        TOMLDocument.underflows(word)
    }

    /// What a number option takes, as the refusal of one that overflows says it.
    static let finite = "a finite number (it is read as infinity, past a 64-bit float's largest, about 1.8e308)"

    /// Whether `word` is a decimal number a `Double` reads as ±infinity (`1e400`): the option's range check then named
    /// `inf`, not the value typed. `inf` and `infinity` themselves are left to the option's own check.
    static func overflows(_ word: String) -> Bool {
        guard !isHexadecimal(word), let value = Double(word), value.isInfinite else { return false }
        return word.contains { $0.isASCII && $0.isNumber }
    }

    static func isNegativeNumber(_ word: String) -> Bool {
        word.hasPrefix("-") && word.count > 1 && Double(word) != nil
    }

    /// Why ArgumentParser found a whole number invalid for an option (`The value '-5' is invalid for '--heartbeat-ms
    /// <heartbeat-ms>'`, which names neither the rule nor the range), or nil for any other message: a negative number
    /// where the option counts from 0, or one past the largest an option's 64-bit count holds. The options' own
    /// ranges are checked, and named, once a value parses.
    static func invalidNumberNote(forMessage text: String) -> String? {
        guard let start = text.range(of: "The value '"), let invalid = text.range(of: "' is invalid for '") else { return nil }
        // A value the option's own parser refused with its reason (`'<version>': "-1" is not a version: versions are
        // numbered from 1`) is explained already: a note saying "0 or more" beside it contradicted it.
        let option = text[invalid.upperBound...].prefix { $0 != "'" }
        if text[invalid.upperBound...].dropFirst(option.count + 1).hasPrefix(":") { return nil }
        let value = String(text[start.upperBound...].prefix { $0 != "'" })
        let digits = value.first == "-" ? value.dropFirst() : Substring(value)
        // A whole number spelt with a fraction or an exponent (a log's click of `1.0` or `1e0` reads as 1): a count
        // option takes its digits alone.
        if let number = Double(value), number.isFinite, number == number.rounded(), !ConfigResolver.isHexadecimal(value),
            !digits.allSatisfy({ $0.isASCII && $0.isNumber })
        {
            return "\(value) is written with a fraction or an exponent: this option takes a whole number written in digits "
                + "alone"
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        // Not "0 or more": most count options start at 1 or higher, and their own range is named once a value parses.
        if value.hasPrefix("-") { return "\(value) is negative: this option takes no negative number" }
        // Past a 64-bit count's range (past Int64's, for an option counted in signed numbers, whose own range is checked
        // and named once a value parses).
        return Int64(value) == nil ? "\(value) is more than any whole number an option takes" : nil
    }

    /// The `--key value` arguments for one key's values.
    private static func injectedArguments(
        for entry: OptionCatalog.Entry, _ items: [ConfigValue], source: ConfigSource
    ) throws(ConfigError) -> [String] {
        if entry.isFlag {
            guard items.count == 1, let on = boolean(items[0], wordsAllowed: source.isEnvironment) else {
                // A file's string shown in its quotes: `insecure = "true"` read as `invalid value true` looked valid.
                let shown = items.map { item in
                    let text = item.argumentText ?? "?"
                    if text.isEmpty { return "\"\" (empty)" }
                    return item.isString && !source.isEnvironment ? "\"\(text)\"" : text
                }
                throw .invalidValue(
                    key: entry.key, value: shown.joined(separator: ","), source: source,
                    expected: Self.flagExpected(source))
            }
            if on { return ["--\(entry.key)"] }
            return entry.negation.map { ["--\($0)"] } ?? []
        }
        var result: [String] = []
        for item in items {
            guard let text = item.argumentText else {
                throw .invalidValue(key: entry.key, value: "a nested array", source: source, expected: "a scalar")
            }
            // An empty value is an error wherever it comes from, as an empty flag is: injected as `--items=`, it made the
            // argument parser take the next word of the command line as the option's value (`RECPOOL_ITEMS=` with
            // `catalogue show 2` listed the newest version, not version 2).
            if text.isEmpty {
                throw .invalidValue(key: entry.key, value: "\"\" (empty)", source: source, expected: "a non-empty value")
            }
            // A text option from a file takes a TOML string: the text of a number or a boolean (`id = 1e300` read as
            // "1e+300") is never what was meant.
            if entry.isText, !source.isEnvironment, !item.isString {
                throw .invalidValue(key: entry.key, value: text, source: source, expected: "a string (in quotes)")
            }
            // And a number option takes a TOML number: a string is a value of the wrong type (docs/OPERATIONS.md).
            // (A whole number beyond TOML's 64-bit integers is the exception: it can only be written as a string.)
            if entry.isNumber, !source.isEnvironment, item.isString, !ConfigReport.isWideWholeNumber(text) {
                throw .invalidValue(
                    key: entry.key, value: "\"\(text)\"", source: source, expected: "a number (without quotes)")
            }
            // One `--key=value` argument, so that a value starting with "-" (`epsilon = -0.5`) is the option's value,
            // not a flag: ArgumentParser reads `--key -0.5` as an option with no value.
            result.append("--\(entry.key)=\(text)")
        }
        return result
    }

    /// A boolean from a TOML boolean or the words an environment variable may hold.
    private static func boolean(_ value: ConfigValue, wordsAllowed: Bool) -> Bool? {
        switch value {
        case .boolean(let flag): return flag
        case .string(let text) where wordsAllowed:
            switch text.lowercased() {
            case "1", "true", "yes", "on": return true
            // An empty variable is no value: refused, as an empty number is, never read as false.
            case "0", "false", "no", "off": return false
            default: return nil
            }
        default: return nil
        }
    }

    /// The keys typed on the command line, with the values typed after them.
    static func commandLineValues(_ arguments: ArraySlice<String>, catalog: OptionCatalog) -> [String: [String]] {
        var byShort: [Character: OptionCatalog.Entry] = [:]
        var byLong: [String: OptionCatalog.Entry] = [:]
        for entry in catalog.entries.values {
            byLong[entry.key] = entry
            if let negation = entry.negation { byLong[negation] = entry }
            for short in entry.shortNames { byShort[short] = entry }
        }
        var found: [String: [String]] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" { break }
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let name = String(body.prefix { $0 != "=" })
                guard let entry = byLong[name] else {
                    // `--config FILE` is no entry of the catalog, and its path is no positional word.
                    if name == "config" && !body.contains("=") { index += 1 }
                    continue
                }
                if entry.isFlag {
                    found[entry.key, default: []].append(name == entry.key ? "true" : "false")
                } else if let equals = body.firstIndex(of: "=") {
                    found[entry.key, default: []].append(String(body[body.index(after: equals)...]))
                } else if index < arguments.endIndex {
                    found[entry.key, default: []].append(arguments[index])
                    index += 1
                }
            } else if argument.hasPrefix("-"), argument.count > 1, Double(argument) == nil {
                for letter in argument.dropFirst() {
                    guard let entry = byShort[letter] else { continue }
                    if entry.isFlag {
                        found[entry.key, default: []].append("true")
                    } else if index < arguments.endIndex {
                        found[entry.key, default: []].append(arguments[index])
                        index += 1
                    }
                }
            } else {
                found[positionalKey, default: []].append(argument)
            }
        }
        return found
    }

    /// The key under which ``commandLineValues(_:catalog:)`` lists the words no option took (positional arguments).
    static let positionalKey = " positional"

    /// The option a command's first positional argument gives when it has one: the data commands take their dataset
    /// as `--dataset NAME` or as `NAME` (`DatasetOptions`), and `--print-config` reported the positional form as not
    /// set, so its output did not load back.
    static let positionalOption = "dataset"
}

/// What ``ConfigResolver`` produced: the arguments to parse and where each value came from.
public struct ConfigResolution: Sendable, Hashable {
    /// One key's effective value.
    public struct Value: Sendable, Hashable {
        /// The key (the long flag name).
        public var key: String
        /// Its values as arguments (empty when unset; several for a repeated option).
        public var values: [String]
        /// Where they came from.
        public var source: ConfigSource
    }

    /// The arguments for ArgumentParser, without the program name.
    public var arguments: [String]
    /// Every key of the command, sorted by key.
    public var values: [Value]

    /// Explains which keys an ArgumentParser error message concerns when they did not come from the
    /// command line, such as `--slots came from environment RECPOOL_SLOTS`.
    public func note(forMessage message: String) -> String? {
        let notes = values.filter { value in
            switch value.source {
            case .commandLine, .builtIn: false
            default: message.contains("--\(value.key)")
            }
        }.map { "--\($0.key) came from \($0.source)" }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }
}
