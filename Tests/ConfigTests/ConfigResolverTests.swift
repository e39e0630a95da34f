import ArgumentParser
@testable import RecConfig
import Testing

/// A command shaped like the daemons: options, a flag, a repeated option and the config options.
private struct SampleDaemon: ParsableCommand {
    @Option var frontend = "tcp://127.0.0.1:5555"
    @Option var batchMaxRows = 512
    @Option var heartbeatMs: UInt64 = 1000
    @Flag var insecure = false
    @Option var allow: [String] = []
    @OptionGroup var configuration: ConfigOptions
}

/// A command with subcommands, like `recpool`.
private struct SampleClient: ParsableCommand {
    static let configuration = CommandConfiguration(subcommands: [Score.self, Keygen.self])

    struct Score: ParsableCommand {
        @Option var broker = "tcp://127.0.0.1:5555"
        @Option var timeoutMs = 5000
    }

    struct Keygen: ParsableCommand {
        @Option var out = "."
    }
}

/// A command with a custom-named text option between a positional argument and a flag.
private struct CustomNames: ParsableCommand {
    @Argument var input: String?
    @Flag(inversion: .prefixedNo) var restoreBest = true
    @Option(name: .customLong("data-dir")) var dataDirectory: String?
    @Flag var quiet = false
    @Option var count = 1
    @OptionGroup var configuration: ConfigOptions
}

/// A command with a `--version <n>` option of its own, as `fit` and `data ope` have, and one with ArgumentParser's own
/// `--version` flag.
private struct VersionedOption: ParsableCommand {
    @Option var version: UInt64 = 1
    @Option var epochs = 10
}

private struct VersionedTool: ParsableCommand {
    static let configuration = CommandConfiguration(version: "1.2.3")
    @Option var epochs = 10
}

/// A command whose options may be negative.
private struct SignedOptions: ParsableCommand {
    @Option var epsilon = 0.1
    @Option var shift: [Int] = []
    @Flag var verbose = false
}

private func resolve(
    _ arguments: [String], environment: [String: String] = [:], file: String? = nil, table: String = "worker"
) throws -> ConfigResolution {
    let parsed = try file.map { try ConfigFile.parse($0, path: "recpool.toml") }
    return try ConfigResolver.resolve(
        catalog: try OptionCatalog(command: SampleDaemon.self, arguments: arguments), table: table,
        arguments: arguments, environment: environment, file: parsed)
}

@Suite("Configuration from the command line, the environment and a TOML file")
struct ConfigResolverTests {
    @Test("the known keys are read from the command's own definition, without the reserved ones")
    func catalogFromDefinition() throws {
        let catalog = try OptionCatalog(command: SampleDaemon.self, arguments: [])
        #expect(Set(catalog.entries.keys) == ["frontend", "batch-max-rows", "heartbeat-ms", "insecure", "allow"])
        #expect(catalog.entries["insecure"]?.isFlag == true)
        #expect(catalog.entries["allow"]?.isRepeating == true)
        #expect(catalog.entries["batch-max-rows"]?.defaultValue == "512")
    }

    /// A helper's case: `fit --version` was reserved by name, so `RECPOOL_VERSION=3` was ignored (the checkpoint said
    /// version 1), `RECPOOL_VERSION=0` passed unchecked and `version = 3` in `[client]` was an unknown key.
    @Test("a command's own --version option comes from the environment and the file; ArgumentParser's flag never does")
    func versionOption() throws {
        let catalog = try OptionCatalog(command: VersionedOption.self, arguments: [])
        #expect(Set(catalog.entries.keys) == ["version", "epochs"])
        let fromEnvironment = try ConfigResolver.resolve(
            catalog: catalog, table: "client", arguments: [], environment: ["RECPOOL_VERSION": "3"], file: nil)
        #expect(fromEnvironment.arguments == ["--version=3"], "\(fromEnvironment.arguments)")
        let file = try ConfigFile.parse("[client]\nversion = 5\n", path: "recpool.toml")
        let fromFile = try ConfigResolver.resolve(catalog: catalog, table: "client", arguments: [], environment: [:], file: file)
        #expect(fromFile.arguments == ["--version=5"], "\(fromFile.arguments)")
        let tool = try OptionCatalog(command: VersionedTool.self, arguments: [])
        #expect(Set(tool.entries.keys) == ["epochs"])
    }

    @Test("a flag maps to RECPOOL_ and its name in capitals with underscores")
    func environmentMapping() {
        #expect(ConfigResolver.environmentVariable(for: "batch-max-rows") == "RECPOOL_BATCH_MAX_ROWS")
        #expect(ConfigResolver.environmentVariable(for: "frontend") == "RECPOOL_FRONTEND")
    }

    @Test("the command line wins over the environment, which wins over the file, which wins over the default")
    func precedence() throws {
        let file = """
            [worker]
            frontend = "tcp://file:1"
            batch-max-rows = 128
            heartbeat-ms = 250
            """
        let resolution = try resolve(
            ["--frontend", "tcp://flag:1"],
            environment: ["RECPOOL_FRONTEND": "tcp://env:1", "RECPOOL_BATCH_MAX_ROWS": "64"], file: file)
        let command = try SampleDaemon.parse(resolution.arguments)
        #expect(command.frontend == "tcp://flag:1")
        #expect(command.batchMaxRows == 64)
        #expect(command.heartbeatMs == 250)
        #expect(command.insecure == false)
        let sources = Dictionary(uniqueKeysWithValues: resolution.values.map { ($0.key, $0.source) })
        #expect(sources["frontend"] == .commandLine)
        #expect(sources["batch-max-rows"] == .environment(variable: "RECPOOL_BATCH_MAX_ROWS"))
        #expect(sources["heartbeat-ms"] == .file(path: "recpool.toml", table: "worker"))
        #expect(sources["insecure"] == .builtIn)
    }

    @Test("flags take booleans from the file and true/false words from the environment")
    func flags() throws {
        let fromFile = try resolve([], file: "[worker]\ninsecure = true\n")
        #expect(try SampleDaemon.parse(fromFile.arguments).insecure)
        let fromEnvironment = try resolve([], environment: ["RECPOOL_INSECURE": "yes"])
        #expect(try SampleDaemon.parse(fromEnvironment.arguments).insecure)
        let off = try resolve([], environment: ["RECPOOL_INSECURE": "0"], file: "[worker]\ninsecure = true\n")
        #expect(try SampleDaemon.parse(off.arguments).insecure == false)
        #expect(throws: ConfigError.self) { try resolve([], environment: ["RECPOOL_INSECURE": "maybe"]) }
        // An empty variable was read as false (an empty number is refused): refused too, naming the variable.
        #expect(throws: ConfigError.self) { try resolve([], environment: ["RECPOOL_INSECURE": ""]) }
    }

    /// `RECPOOL_ITEMS=` was injected as `--items=`, and the argument parser took the next word of the command line
    /// (`catalogue show 2`'s version) as its value: every empty value is refused, naming the key and its source.
    @Test("an empty value from the environment or the file is refused for every option that takes one")
    func emptyValues() throws {
        // A repeated option's variable is a comma-separated list: an empty one, or an empty piece (`a,,b`, `a,`), was
        // dropped, and the option read as unset or shorter, where the file's `[""]` is refused.
        for environment in [["RECPOOL_FRONTEND": ""], ["RECPOOL_BATCH_MAX_ROWS": ""], ["RECPOOL_HEARTBEAT_MS": ""],
                            ["RECPOOL_ALLOW": ""], ["RECPOOL_ALLOW": ","], ["RECPOOL_ALLOW": "a,,b"], ["RECPOOL_ALLOW": "a,"]] {
            let error = #expect(throws: ConfigError.self) { try resolve([], environment: environment) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("expected a non-empty value"), "\(environment)")
        }
        for file in ["[worker]\nfrontend = \"\"\n", "[worker]\nallow = [\"a\", \"\"]\n"] {
            let error = #expect(throws: ConfigError.self) { try resolve([], file: file) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("invalid value \"\" (empty)"), "\(file)")
        }
    }

    /// `RECPOOL_NO_RESTORE_BEST=true` was silently ignored: `--no-restore-best` is a long name, so its variable and
    /// file key are the flag's too, and both names in one source are refused naming both.
    @Test("an inverted flag's no-X variable and file key set it; both names in one source are refused")
    func invertedFlagNames() throws {
        func parsed(_ environment: [String: String], file: String? = nil) throws -> (Bool, ConfigResolution) {
            let config = try file.map { try ConfigFile.parse($0, path: "recpool.toml") }
            let resolution = try ConfigResolver.resolve(
                catalog: try OptionCatalog(command: CustomNames.self, arguments: []), table: "client",
                arguments: [], environment: environment, file: config)
            return (try CustomNames.parse(resolution.arguments).restoreBest, resolution)
        }
        let (off, resolution) = try parsed(["RECPOOL_NO_RESTORE_BEST": "true"])
        #expect(off == false)
        let value = resolution.values.first { $0.key == "restore-best" }
        #expect(value?.values == ["false"] && value?.source == .environment(variable: "RECPOOL_NO_RESTORE_BEST"))
        #expect(try parsed(["RECPOOL_NO_RESTORE_BEST": "no"]).0 == true)
        #expect(try parsed([:], file: "[client]\nno-restore-best = true\n").0 == false)
        // The environment outranks the file, whichever name each uses.
        #expect(try parsed(["RECPOOL_RESTORE_BEST": "1"], file: "[client]\nno-restore-best = true\n").0 == true)
        #expect(try parsed(["RECPOOL_NO_RESTORE_BEST": "1"], file: "[client]\nrestore-best = true\n").0 == false)
        #expect(throws: ConfigError.bothNames(
            key: "restore-best", negation: "no-restore-best", source: .environment(variable: "RECPOOL_NO_RESTORE_BEST"))
        ) { try parsed(["RECPOOL_NO_RESTORE_BEST": "1", "RECPOOL_RESTORE_BEST": "1"]) }
        #expect(throws: ConfigError.self) { try parsed([:], file: "[client]\nno-restore-best = true\nrestore-best = true\n") }
        let invalid = #expect(throws: ConfigError.self) { try parsed(["RECPOOL_NO_RESTORE_BEST": "maybe"]) }
        #expect(invalid?.description.contains("RECPOOL_NO_RESTORE_BEST") == true)
    }

    @Test("repeated options take a TOML array or a comma-separated variable")
    func repeated() throws {
        let fromFile = try resolve([], file: "[worker]\nallow = [\"a.pub\", \"b.pub\"]\n")
        #expect(try SampleDaemon.parse(fromFile.arguments).allow == ["a.pub", "b.pub"])
        let fromEnvironment = try resolve([], environment: ["RECPOOL_ALLOW": "c.pub,d.pub"])
        #expect(try SampleDaemon.parse(fromEnvironment.arguments).allow == ["c.pub", "d.pub"])
    }

    @Test("an unknown key in the program's table is an error naming the key and the file")
    func unknownKey() throws {
        #expect(
            throws: ConfigError.unknownKey(key: "batch-max-row", source: .file(path: "recpool.toml", table: "worker"))
        ) {
            try resolve([], file: "[worker]\nbatch-max-row = 3\n")
        }
        // Another program's table is not this program's business.
        _ = try resolve([], file: "[broker]\nqueue-capacity = 3\n")
    }

    @Test("keys outside a program table and unknown tables are errors")
    func misplacedKey() {
        #expect(throws: ConfigError.misplacedKey(key: "frontend", path: "recpool.toml")) {
            try ConfigFile.parse("frontend = \"x\"\n", path: "recpool.toml")
        }
        #expect(throws: ConfigError.misplacedKey(key: "brokr", path: "recpool.toml")) {
            try ConfigFile.parse("[brokr]\nfrontend = \"x\"\n", path: "recpool.toml")
        }
    }

    @Test("a file that is not TOML is an error with its line")
    func syntaxError() {
        do {
            _ = try ConfigFile.parse("[worker]\nslots = = 3\n", path: "recpool.toml")
            Issue.record("parsed")
        } catch {
            guard case .syntax(let path, let line, _, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(path == "recpool.toml")
            #expect(line == 2)
        }
    }

    @Test("invalid values name the key and where they came from")
    func invalidValues() throws {
        #expect(
            throws: ConfigError.invalidValue(
                key: "insecure", value: "\"yes\"", source: .file(path: "recpool.toml", table: "worker"),
                expected: "true or false (a TOML boolean, without quotes)")
        ) { try resolve([], file: "[worker]\ninsecure = \"yes\"\n") }
        // A quoted "true" is a string, shown in its quotes (it read as `invalid value true`, which looked valid).
        #expect(
            throws: ConfigError.invalidValue(
                key: "insecure", value: "\"true\"", source: .file(path: "recpool.toml", table: "worker"),
                expected: "true or false (a TOML boolean, without quotes)")
        ) { try resolve([], file: "[worker]\ninsecure = \"true\"\n") }
        // An environment variable is told the words it takes, not about TOML's quotes.
        #expect(
            throws: ConfigError.invalidValue(
                key: "insecure", value: "\"\" (empty)", source: .environment(variable: "RECPOOL_INSECURE"),
                expected: "true or false (or 1/0, yes/no, on/off)")
        ) { try resolve([], environment: ["RECPOOL_INSECURE": ""]) }
        #expect(throws: ConfigError.self) { try resolve([], file: "[worker]\nfrontend = [\"a\", \"b\"]\n") }
        // A value of the right shape but the wrong type fails in ArgumentParser; the note names its source.
        let resolution = try resolve([], environment: ["RECPOOL_BATCH_MAX_ROWS": "many"])
        do {
            _ = try SampleDaemon.parse(resolution.arguments)
            Issue.record("parsed")
        } catch {
            let note = resolution.note(forMessage: SampleDaemon.message(for: error))
            #expect(note == "--batch-max-rows came from environment RECPOOL_BATCH_MAX_ROWS")
        }
    }

    @Test("the configuration path comes from --config, else RECPOOL_CONFIG; --config twice is refused naming both")
    func configPath() throws {
        #expect(
            try ConfigResolver.configPath(arguments: ["--config", "a.toml"], environment: ["RECPOOL_CONFIG": "b"])
                == "a.toml")
        #expect(try ConfigResolver.configPath(arguments: ["--config=c.toml"], environment: [:]) == "c.toml")
        #expect(try ConfigResolver.configPath(arguments: [], environment: ["RECPOOL_CONFIG": "b.toml"]) == "b.toml")
        #expect(try ConfigResolver.configPath(arguments: [], environment: [:]) == nil)
        // The second file was silently ignored (every other repeated option takes its last value).
        #expect(throws: ConfigError.repeatedConfig(["a.toml", "b.toml"])) {
            try ConfigResolver.configPath(arguments: ["--config", "a.toml", "--config=b.toml"], environment: [:])
        }
    }

    @Test("a flag set by any spelling the environment allows prints as a TOML boolean that parses back",
          arguments: [("yes", "true"), ("ON", "true"), ("1", "true"), ("no", "false"), ("0", "false"), ("off", "false")])
    func flagSpellings(word: String, expected: String) throws {
        let resolution = try resolve([], environment: ["RECPOOL_INSECURE": word])
        let catalog = try OptionCatalog(command: SampleDaemon.self, arguments: [])
        let text = ConfigReport.render(resolution, table: "worker", catalog: catalog)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("insecure = ") })
        #expect(line.hasPrefix("insecure = \(expected) "), "\(line)")
        let saved = try ConfigFile.parse(text, path: "saved.toml")
        #expect(try resolve([], file: text).arguments.contains("--insecure") == (expected == "true"), "\(saved.path)")
    }

    @Test("describing only the selected subcommand gives the entries the whole tree gives; siblings' keys on request")
    func selectedSubcommandOnly() throws {
        for arguments in [["score", "--timeout-ms", "7"], ["keygen"], [], ["--broker", "x"], ["help"]] {
            let whole = try OptionCatalog(command: SampleClient.self, arguments: arguments, siblingKeys: true)
            let selected = try OptionCatalog(command: SampleClient.self, arguments: arguments, siblingKeys: false)
            #expect(selected.entries == whole.entries, "\(arguments)")
            #expect(selected.subcommandPath == whole.subcommandPath, "\(arguments)")
        }
        let score = try OptionCatalog(command: SampleClient.self, arguments: ["score"], siblingKeys: false)
        #expect(score.allKeys == ["broker", "timeout-ms"])
        let all = try OptionCatalog(command: SampleClient.self, arguments: ["score"])
        #expect(all.allKeys == ["broker", "timeout-ms", "out"])
    }

    @Test("a subcommand reads its own keys; a shared [client] table may hold its siblings' keys")
    func subcommands() throws {
        let arguments = ["score", "--timeout-ms", "7"]
        let catalog = try OptionCatalog(command: SampleClient.self, arguments: arguments)
        #expect(catalog.subcommandPath == ["score"])
        #expect(Set(catalog.entries.keys) == ["broker", "timeout-ms"])
        let file = try ConfigFile.parse("[client]\nbroker = \"tcp://a:1\"\nout = \"keys\"\n", path: "c.toml")
        let resolution = try ConfigResolver.resolve(
            catalog: catalog, table: "client", arguments: arguments, environment: [:], file: file)
        #expect(resolution.arguments == ["score", "--broker=tcp://a:1", "--timeout-ms", "7"])
        let typo = try ConfigFile.parse("[client]\nbrokr = \"tcp://a:1\"\n", path: "c.toml")
        #expect(throws: ConfigError.self) {
            try ConfigResolver.resolve(
                catalog: catalog, table: "client", arguments: arguments, environment: [:], file: typo)
        }
    }

    @Test("the report is TOML with each value's source")
    func report() throws {
        let resolution = try resolve(["--insecure"], environment: ["RECPOOL_HEARTBEAT_MS": "200"])
        let text = ConfigReport.render(
            resolution, table: "worker", catalog: try OptionCatalog(command: SampleDaemon.self, arguments: []))
        #expect(text.hasPrefix("[worker]"))
        #expect(text.contains("heartbeat-ms = 200"))
        #expect(text.contains("# environment RECPOOL_HEARTBEAT_MS"))
        #expect(text.contains("insecure = true"))
        #expect(text.contains("frontend = \"tcp://127.0.0.1:5555\""))
        #expect(text.contains("# allow is not set") || text.contains("allow = []"))
    }

    @Test(
        "a negative value from the file or the environment is the option's value, never a missing value",
        arguments: [
            ("[broker]\nepsilon = -0.0\nshift = [-1, 2]\n", [String: String](), -0.0, [-1, 2]),
            ("", ["RECPOOL_EPSILON": "-0.5", "RECPOOL_SHIFT": "-3"], -0.5, [-3]),
            ("[broker]\nepsilon = -1e-3\n", [:], -1e-3, []),
        ])
    func negativeValues(file: String, environment: [String: String], epsilon: Double, shift: [Int]) throws {
        let parsed = try ConfigFile.parse(file, path: "c.toml")
        let resolution = try ConfigResolver.resolve(
            catalog: try OptionCatalog(command: SignedOptions.self, arguments: []), table: "broker", arguments: [],
            environment: environment, file: parsed)
        let command = try SignedOptions.parse(resolution.arguments)
        #expect(command.epsilon == epsilon && command.epsilon.sign == epsilon.sign)
        #expect(command.shift == shift)
    }

    @Test(
        "a negative number typed after an option is its value, never 'Missing value'; a flag and -- are left alone",
        arguments: [
            (["--epsilon", "-0.5"], ["--epsilon=-0.5"]),
            (["--shift", "-1", "--shift", "-2", "--epsilon", "-inf"], ["--shift=-1", "--shift=-2", "--epsilon=-inf"]),
            (["--epsilon", "-x"], ["--epsilon", "-x"]),
            (["--epsilon=-1"], ["--epsilon=-1"]),
            (["--", "--epsilon", "-1"], ["--", "--epsilon", "-1"]),
            (["--verbose", "-1"], ["--verbose", "-1"]),
        ])
    func negativeOnTheCommandLine(typed: [String], parsed: [String]) throws {
        let catalog = try OptionCatalog(command: SignedOptions.self, arguments: [])
        #expect(ConfigResolver.joiningNegativeValues(typed, catalog: catalog) == parsed)
        if typed.first == "--shift" {
            let resolution = try ConfigResolver.resolve(
                catalog: catalog, table: "broker", arguments: typed, environment: [:], file: nil)
            let command = try SignedOptions.parse(resolution.arguments)
            #expect(command.shift == [-1, -2] && command.epsilon == -.infinity)
        }
    }

    @Test("a text option from a file takes a TOML string; a number or boolean there is refused, naming key and file")
    func textOptionsTakeStrings() throws {
        let keys = OptionValueTypes.textKeys(of: SampleDaemon.self)
        #expect(keys.isSuperset(of: ["frontend", "allow"]) && !keys.contains("batch-max-rows") && !keys.contains("insecure"))
        #expect(OptionValueTypes.kebabCase("curveServerKey") == "curve-server-key")
        #expect(OptionValueTypes.kebabCase("modelSHA256") == "model-sha256")
        for (file, value) in [("[worker]\nfrontend = 1e300\n", "1e+300"), ("[worker]\nfrontend = -1\n", "-1"),
            ("[worker]\nallow = [\"a\", 7]\n", "7"), ("[worker]\nfrontend = true\n", "true")] {
            #expect(throws: ConfigError.invalidValue(
                key: file.contains("allow") ? "allow" : "frontend", value: value,
                source: .file(path: "recpool.toml", table: "worker"), expected: "a string (in quotes)")) {
                try resolve([], file: file)
            }
        }
        // Strings, numbers for numeric options and any environment value are read as before.
        let fine = try resolve([], environment: ["RECPOOL_ALLOW": "5"], file: "[worker]\nfrontend = \"tcp://a:1\"\nbatch-max-rows = 7\n")
        let command = try SampleDaemon.parse(fine.arguments)
        #expect(command.frontend == "tcp://a:1" && command.batchMaxRows == 7 && command.allow == ["5"])
    }

    @Test("a number option from a file takes a TOML number; a string holding one is refused, naming key and file")
    func numberOptionsTakeNumbers() throws {
        let catalog = try OptionCatalog(command: SampleDaemon.self, arguments: [])
        #expect(catalog.entries["batch-max-rows"]?.isNumber == true && catalog.entries["heartbeat-ms"]?.isNumber == true)
        #expect(catalog.entries["frontend"]?.isNumber == false && catalog.entries["allow"]?.isNumber == false)
        #expect(throws: ConfigError.invalidValue(
            key: "batch-max-rows", value: "\"4096\"", source: .file(path: "recpool.toml", table: "worker"),
            expected: "a number (without quotes)")) {
            try resolve([], file: "[worker]\nbatch-max-rows = \"4096\"\n")
        }
        // A number, and any environment value (all text), are read as before.
        let fine = try resolve(
            [], environment: ["RECPOOL_HEARTBEAT_MS": "250"], file: "[worker]\nbatch-max-rows = 4096\n")
        let command = try SampleDaemon.parse(fine.arguments)
        #expect(command.batchMaxRows == 4096 && command.heartbeatMs == 250)
    }

    @Test("a custom-named text option is found by its place in ArgumentParser's description")
    func customNamedTextOption() throws {
        let catalog = try OptionCatalog(command: CustomNames.self, arguments: [])
        // An inverted flag is one key: `restore-best = false` gives `--no-restore-best` (it gave nothing, leaving the
        // flag on), its default reads `true`, and `no-restore-best` is no key of its own.
        #expect(catalog.entries["restore-best"]?.negation == "no-restore-best" && catalog.entries["no-restore-best"] == nil)
        #expect(catalog.entries["restore-best"]?.defaultValue == "true")
        let off = try ConfigResolver.resolve(
            catalog: catalog, table: "client", arguments: [], environment: [:],
            file: ConfigFile.parse("[client]\nrestore-best = false\n", path: "c.toml"))
        #expect(off.arguments.contains("--no-restore-best"))
        let fromEnvironment = try ConfigResolver.resolve(
            catalog: catalog, table: "client", arguments: [], environment: ["RECPOOL_RESTORE_BEST": "false"], file: nil)
        #expect(fromEnvironment.arguments.contains("--no-restore-best"))
        #expect(catalog.entries["data-dir"]?.isText == true && catalog.entries["count"]?.isText == false)
        #expect(catalog.entries["quiet"]?.isText == false)
        #expect(throws: ConfigError.invalidValue(
            key: "data-dir", value: "5", source: .file(path: "c.toml", table: "client"), expected: "a string (in quotes)")) {
            try ConfigResolver.resolve(
                catalog: catalog, table: "client", arguments: [], environment: [:],
                file: ConfigFile.parse("[client]\ndata-dir = 5\n", path: "c.toml"))
        }
    }

    @Test("a leading --config moves after the subcommand it precedes, before a `--`; other command lines are kept")
    func leadingConfig() {
        #expect(ConfigResolver.configAfterSubcommand(["--config", "c.toml", "status", "--json"])
            == ["status", "--json", "--config", "c.toml"])
        #expect(ConfigResolver.configAfterSubcommand(["--config=c.toml", "data", "ope", "x", "--", "-y"])
            == ["data", "ope", "x", "--config=c.toml", "--", "-y"])
        for kept in [["status", "--config", "c.toml"], ["--config", "c.toml", "--frontend", "x"], ["--config"], []] {
            #expect(ConfigResolver.configAfterSubcommand(kept) == kept)
        }
    }

    /// `[broker.sub]` was refused as `invalid value x = 1 for "sub"`, its contents shown as if a value.
    @Test("a table inside a program's table is named as a table")
    func nestedTable() {
        for text in ["[broker.sub]\nx = 1\n", "[broker]\nsub = { x = 1 }\n"] {
            #expect {
                try ConfigFile.parse(text, path: "n.toml")
            } throws: { error in
                "\(error)".contains("invalid value a table for \"sub\"") && "\(error)".contains("take keys only")
            }
        }
    }
}
