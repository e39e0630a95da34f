import ArgumentParser
import Foundation
import RecWire

/// The entry point of a command whose options may also come from the environment and a
/// configuration file: `static func main() async { await runConfigured(table: "worker") }`.
extension AsyncParsableCommand {
    /// Resolves the configuration, parses, and runs the command (or prints the configuration).
    ///
    /// Exits 64 (`EX_USAGE`) for a configuration or usage error, after naming the key and, for a
    /// value that did not come from the command line, where it came from.
    /// - Parameters:
    ///   - table: the program's table in the configuration file.
    ///   - arguments: the command line without the program name (default: the process's).
    ///   - environment: the environment (default: the process's).
    ///   - translateError: maps an error the command's `run` threw before ArgumentParser reports it (the `recpool`
    ///     client maps every error to its exit status here); the default passes errors through.
    public static func runConfigured(
        table: String, arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        translateError: (any Error) -> any Error = { $0 }
    ) async {
        // Swift decodes argv leniently: a file name of other bytes than UTF-8 (`m\xff.ckpt`) became another name
        // (`m\u{FFFD}.ckpt`), written or "not found" though it exists. Refused, naming the argument.
        if let (position, shown) = Self.nonUTF8Argument() {
            FileHandle.standardError.write(
                Data(("\(configuration.commandName ?? "recpool"): argument \(position) (\(shown)) is not UTF-8 text: "
                    + "RecPool reads its arguments and paths as UTF-8; rename the file or pass a UTF-8 path\n").utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        // The environment too: `RECPOOL_STATE_DIR=$'\xff\xfe'` started a broker on a directory named "��", and
        // `RECPOOL_CONFIG` of such a path said a file that exists does not.
        if let (name, shown) = Self.nonUTF8RecPoolVariable() {
            FileHandle.standardError.write(
                Data(("\(configuration.commandName ?? "recpool"): the environment variable \(name) (\(shown)) is not "
                    + "UTF-8 text: RecPool reads its settings and paths as UTF-8; set it to a UTF-8 value\n").utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        let arguments = configuration.subcommands.isEmpty ? arguments : ConfigResolver.configAfterSubcommand(arguments)
        let catalog: OptionCatalog
        let resolution: ConfigResolution
        do throws(ConfigError) {
            var file: ConfigFile?
            let asksHelp = arguments.prefix { $0 != "--" }.contains { $0 == "--help" || $0 == "-h" || $0 == "help" }
            // Help needs no configuration and never opens the file: a stale export, or a FIFO nobody writes to, must
            // not hide or hold it.
            if !asksHelp, let named = try ConfigResolver.configFile(arguments: arguments, environment: environment) {
                do throws(ConfigError) {
                    file = try ConfigFile.read(path: named.path)
                } catch .unreadableFile(let path, let reason) where named.fromEnvironment {
                    throw .unreadableFile(path: path, reason: "\(reason) (the path comes from \(ConfigResolver.configVariable))")
                }
            }
            // Every subcommand's keys only to judge a file's table: describing the whole tree is most of a start.
            catalog = try OptionCatalog(command: self, arguments: arguments, siblingKeys: file != nil)
            resolution = try ConfigResolver.resolve(
                catalog: catalog, table: table, arguments: arguments, environment: environment, file: file)
        } catch {
            FileHandle.standardError.write(
                Data("\(configuration.commandName ?? "recpool"): \(WireText.escapingControls("\(error)"))\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot(resolution.arguments)
            if resolution.arguments.prefix(while: { $0 != "--" }).contains("--print-config") {
                let report = ConfigReport.render(resolution, table: table, catalog: catalog)
                FileHandle.standardOutput.write(Data((report + "\n").utf8))
                return
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let error = translateError(error)
            let code = exitCode(for: error)
            let text = message(for: error)
            // ArgumentParser reads a negative number where no option takes it (`promote -1`) as a flag, and says the
            // argument is missing: say which word it was.
            let negatives = resolution.arguments.prefix { $0 != "--" }.filter(ConfigResolver.isNegativeNumber)
            // `promote -1` said only "Missing expected argument '<version>'" (and `fit --version -0`, whose option the
            // configuration does not join with its value, "Missing value"): the value typed is named as invalid.
            if code != .success, let negative = negatives.first,
                let range = text.range(of: "Missing expected argument '") ?? text.range(of: "Missing value for '")
            {
                let argument = text[range.upperBound...].prefix { $0 != "'" }
                // A positional word that only looks like a number (an item id `-5`) is a value after `--`, every
                // option before it; an option's value (`--version -0`) cannot be.
                let positional = text.contains("Missing expected argument '")
                let hint =
                    positional
                    ? " (if '\(negative)' is text, such as an item id, give it after '--', with every option before it)" : ""
                FileHandle.standardError.write(
                    Data(
                        "Error: The value '\(negative)' is invalid for '\(argument)': a negative number is not valid here\(hint)\n"
                            .utf8))
                Foundation.exit(code.rawValue)
            }
            let misread =
                code != .success && text.contains("Unknown option '-")
                ? negatives.first.map { "\($0) was read as a flag, not as a value: a negative number is not valid here" }
                : nil
            let outOfRange = code != .success ? ConfigResolver.invalidNumberNote(forMessage: text) : nil
            guard code != .success, let note = resolution.note(forMessage: text) ?? misread ?? outOfRange else {
                exit(withError: error)
            }
            FileHandle.standardError.write(
                Data((WireText.escapingControls(fullMessage(for: error)) + "\nnote: \(WireText.escapingControls(note))\n").utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

extension AsyncParsableCommand {
    /// The first of the process's arguments (after the program's name) that is not valid UTF-8, as its position (from
    /// 1) and its text with each invalid byte written `\xHH`; nil when every one is UTF-8. Read from the raw `argv`,
    /// which `CommandLine.arguments` has already repaired.
    /// The first `RECPOOL_*` environment variable whose value is not UTF-8, with its bytes shown (`\xFF`); nil when
    /// none. Read from `environ`, whose bytes Swift's `ProcessInfo` decodes leniently (into U+FFFD).
    static func nonUTF8RecPoolVariable() -> (String, String)? {
        var entry = environ
        while let pointer = entry.pointee {
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
            entry += 1
            guard bytes.starts(with: Array("RECPOOL_".utf8)), let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else {
                continue
            }
            let value = Array(bytes[(equals + 1)...])
            guard String(validating: value, as: UTF8.self) == nil else { continue }
            let name = String(decoding: bytes[..<equals], as: UTF8.self)
            let shown = value.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
            return (name, shown)
        }
        return nil
    }

    static func nonUTF8Argument() -> (Int, String)? {
        let argv = CommandLine.unsafeArgv
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = argv[index] else { continue }
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
            guard String(validating: bytes, as: UTF8.self) == nil else { continue }
            let shown = bytes.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
            return (index, shown)
        }
        return nil
    }
}
