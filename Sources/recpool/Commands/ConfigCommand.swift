import ArgumentParser
import Foundation

/// `recpool config --print`: the effective configuration of a RecPool program (flags, `RECPOOL_*`
/// environment, configuration file, defaults), with the source of every value.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the effective configuration of recpool-broker, recpool-worker or a recpool command.",
        discussion: """
            Runs the chosen program with --print-config, so the answer is exactly what that program would use: \
            flag, then RECPOOL_* environment, then the configuration file ([broker], [worker] or [client] table), \
            then the default. Arguments after `--` are passed on as flags.
            """)

    @Flag(help: "Print the effective configuration (the only action).")
    var print = false

    @Option(help: "Which program: broker, worker, or a recpool subcommand such as status, simulate or \"data ope\".")
    var of = "broker"

    @Option(help: "A TOML configuration file (default: $RECPOOL_CONFIG).")
    var config: String?

    @Argument(parsing: .postTerminator, help: "Flags for the program, after `--`.")
    var flags: [String] = []

    func validate() throws {
        guard print else { throw ValidationError("nothing to do: pass --print") }
        guard !of.isEmpty, !of.hasPrefix("-") else { throw ValidationError("--of needs a program name") }
        let words = of.split(separator: " ").map(String.init)
        guard let program = words.first, Self.programs.contains(program), words.count <= 2 else {
            throw ValidationError(
                "--of \(of): no such program; it is broker, worker, or a recpool subcommand ("
                    + Self.programs.dropFirst(2).joined(separator: ", ") + ")")
        }
        // A command of subcommands (`catalogue`, `data`, …) takes its options through one of them: `--of "data ope"`.
        let children = Self.subcommands(of: program)
        if !children.isEmpty, words.count != 2 || !children.contains(words[1]) {
            throw ValidationError(
                "--of \(of): \(program) has subcommands; name one, such as --of \"\(program) \(children[0])\" ("
                    + children.joined(separator: ", ") + ")")
        }
        if children.isEmpty, words.count == 2 {
            throw ValidationError("--of \(of): \(program) has no subcommand \(words[1])")
        }
    }

    /// The names of `program`'s own subcommands (empty for a command that runs itself).
    static func subcommands(of program: String) -> [String] {
        guard let command = RecPool.configuration.subcommands.first(where: { $0.configuration.commandName == program })
        else { return [] }
        return command.configuration.subcommands.compactMap { $0.configuration.commandName }
    }

    /// The names `--of` takes: `broker`, `worker`, then each `recpool` subcommand but this one.
    static var programs: [String] {
        ["broker", "worker"]
            + RecPool.configuration.subcommands.compactMap { $0.configuration.commandName }.filter { $0 != "config" }
    }

    func run() throws {
        let directory = SiblingPrograms.directory
        let process = Process()
        var arguments = [String]()
        switch of {
        case "broker": process.executableURL = directory.appendingPathComponent("recpool-broker")
        case "worker": process.executableURL = directory.appendingPathComponent("recpool-worker")
        default:
            process.executableURL = directory.appendingPathComponent("recpool")
            arguments += of.split(separator: " ").map(String.init)
        }
        if let config { arguments += ["--config", config] }
        process.arguments = arguments + flags + ["--print-config"]
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
    }
}
