import ArgumentParser
import Foundation

/// The flags a command accepts, read from ArgumentParser's own description of the command
/// (`_dumpHelp()`, the JSON behind `--experimental-dump-help`). Nothing is listed by hand, so an
/// option added to a command later is configurable from the file and the environment at once.
public struct OptionCatalog: Sendable, Hashable {
    /// One named option or flag.
    public struct Entry: Sendable, Hashable {
        /// The long name without dashes, which is also the file key: `batch-max-rows`.
        public var key: String
        /// Whether it takes no value (`@Flag`).
        public var isFlag: Bool
        /// Whether it may be given more than once.
        public var isRepeating: Bool
        /// Its default as ArgumentParser prints it, if any.
        public var defaultValue: String?
        /// Its single-letter names, such as `h`.
        public var shortNames: [Character]
        /// The long name that turns a flag off, for `@Flag(inversion:)` flags (`no-color`).
        public var negation: String? = nil
        /// Whether its value is text (`String`, `String?`, `[String]`): a configuration file must give it a TOML
        /// string, never a number or a boolean whose text would be taken as the value.
        public var isText: Bool = false
        /// Whether its value is a number (an integer or floating-point type): a configuration file must give it a
        /// TOML number, never a string holding one (`queue-capacity = "4096"`).
        public var isNumber: Bool = false
    }

    /// Options by key, for the command (or subcommand) the arguments select.
    public var entries: [String: Entry]
    /// The subcommand path the arguments selected (empty for a command without subcommands).
    public var subcommandPath: [String]
    /// Every key of every subcommand, so that a shared table can hold keys of sibling subcommands.
    public var allKeys: Set<String>

    /// Keys that steer parsing or this mechanism itself, and are never taken from a file or the environment.
    public static let reserved: Set<String> = [
        "help", "config", "print-config", "experimental-dump-help", "generate-completion-script",
    ]

    /// Whether an argument is never taken from a file or the environment: a ``reserved`` key, or ArgumentParser's own
    /// `--version` flag (a command's `--version <n>` option, `fit`'s and `data ope`'s, is an option like any other: reserved
    /// by name, `RECPOOL_VERSION` and `version` in `[client]` were ignored or refused as unknown, and `RECPOOL_VERSION=0`
    /// passed unchecked).
    static func isReserved(_ key: String, isFlag: Bool) -> Bool {
        reserved.contains(key) || (key == "version" && isFlag)
    }

    /// Creates a catalog from explicit entries (for tests).
    public init(entries: [Entry], subcommandPath: [String] = [], allKeys: Set<String>? = nil) {
        self.entries = Dictionary(entries.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        self.subcommandPath = subcommandPath
        self.allKeys = allKeys ?? Set(self.entries.keys)
    }

    /// The catalog of `command`, descending into the subcommand that `arguments` name.
    ///
    /// Only the selected subcommand's description is built unless `siblingKeys` asks for every subcommand's keys
    /// (``allKeys``, needed only to judge a configuration file's table): ArgumentParser validates each command it
    /// describes, which made every start of `recpool` cost about 0.45 s of CPU in a debug build when the whole tree was
    /// described. Without `siblingKeys`, ``allKeys`` holds only the keys of the selected subcommand and its own
    /// subcommands.
    /// - Throws: ``ConfigError/introspection(_:)`` if ArgumentParser's description of the command
    ///   cannot be read (a change in its format), so that configuration never fails silently.
    public init(command: any ParsableCommand.Type, arguments: [String], siblingKeys: Bool = true) throws(ConfigError) {
        var selected = command
        var path: [String] = []
        for argument in arguments {
            guard let child = selected.configuration.subcommands.first(where: { $0._commandName == argument }) else {
                break
            }
            path.append(argument)
            selected = child
        }
        let current = try Self.describe(selected)
        let info = siblingKeys ? try Self.describe(command) : current
        var all = Set<String>()
        func collect(_ node: DumpedCommand?) {
            guard let node else { return }
            for argument in node.arguments ?? [] {
                if let key = argument.key, !Self.isReserved(key, isFlag: argument.kind == "flag") { all.insert(key) }
            }
            for child in node.subcommands ?? [] { collect(child) }
        }
        collect(info)
        let described = (current.arguments ?? []).map { (kind: $0.kind, key: $0.key) }
        let textKeys = OptionValueTypes.textKeys(of: selected, described: described)
        let numberKeys = OptionValueTypes.numberKeys(of: selected, described: described)
        let entries = (current.arguments ?? []).compactMap { argument -> Entry? in
            guard let key = argument.key, argument.kind != "positional" else { return nil }
            return Entry(
                key: key, isFlag: argument.kind == "flag", isRepeating: argument.isRepeating ?? false,
                defaultValue: argument.defaultValue,
                shortNames: (argument.names ?? []).filter { $0.kind == "short" }.compactMap(\.name.first),
                negation: (argument.names ?? []).filter { $0.kind == "long" }.dropFirst().first?.name,
                isText: textKeys.contains(key), isNumber: numberKeys.contains(key))
        }
        self.init(
            entries: Self.pairingInversions(entries), subcommandPath: path,
            allKeys: all.subtracting(Self.reserved).subtracting(Self.inversionNames(entries)))
        self.entries = self.entries.filter { !Self.isReserved($0.key, isFlag: $0.value.isFlag) }
    }

    /// The `no-X` flags that turn a flag `X` off: ArgumentParser describes an `@Flag(inversion: .prefixedNo)` as two
    /// flags, `X` (its default `--X` when on) and `no-X`.
    static func inversionNames(_ entries: [Entry]) -> Set<String> {
        let flags = Set(entries.filter(\.isFlag).map(\.key))
        return Set(flags.filter { $0.hasPrefix("no-") && flags.contains(String($0.dropFirst(3))) })
    }

    /// One entry per inverted flag: `X` with `negation` `no-X` (so `X = false` in a file or the environment gives
    /// `--no-X`, where before it gave nothing and left the flag at its default, on) and its default as a boolean
    /// (`true` for a default of `--X`; before, `--print-config` showed `X = false # default` for a flag that is on).
    static func pairingInversions(_ entries: [Entry]) -> [Entry] {
        let inversions = inversionNames(entries)
        return entries.compactMap { entry in
            guard !inversions.contains(entry.key) else { return nil }
            guard entry.isFlag, inversions.contains("no-\(entry.key)") else { return entry }
            var paired = entry
            paired.negation = "no-\(entry.key)"
            if let value = entry.defaultValue {
                paired.defaultValue = value == "--\(entry.key)" ? "true" : value == "--no-\(entry.key)" ? "false" : value
            }
            return paired
        }
    }

    /// ArgumentParser's description of `command` and its subcommands.
    private static func describe(_ command: any ParsableCommand.Type) throws(ConfigError) -> DumpedCommand {
        do {
            return try JSONDecoder().decode(DumpedTool.self, from: Data(command._dumpHelp().utf8)).command
        } catch {
            throw .introspection("cannot read the options of \(command): \(error)")
        }
    }
}

/// The part of ArgumentParser's tool-info JSON (serialization version 0) that the catalog reads.
private struct DumpedTool: Decodable {
    var command: DumpedCommand
}

private struct DumpedCommand: Decodable {
    var commandName: String
    var subcommands: [DumpedCommand]?
    var arguments: [DumpedArgument]?
}

private struct DumpedArgument: Decodable {
    struct Name: Decodable {
        var kind: String
        var name: String
    }

    var kind: String
    var names: [Name]?
    var isRepeating: Bool?
    var defaultValue: String?

    var key: String? { names?.first(where: { $0.kind == "long" })?.name }
}
