import ArgumentParser
import Foundation
import RecConfig
import RecTransport
import RecWire

/// `recpool keygen`: writes a CurveZMQ key pair for a broker, worker, client or trainer.
struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: NAME.key (public and secret, mode 0600) and NAME.pub.",
        discussion: "Give the .pub file to the broker's --allow-clients/--allow-trainers/--allow-workers, "
            + "or, for the broker's own key, to every peer's --curve-server-key.")

    @Option(help: "Directory to write into (created if missing).")
    var out = "."

    @Option(help: "Base name of the files.")
    var name: String

    @Flag(help: "Replace an existing key pair of this name (every peer that trusts the old public key is locked out).")
    var force = false

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathName.validate([(out, "--out")], what: "a folder")
        if let problem = WireText.nameProblem(name, field: "--name", maxBytes: 250) { throw ValidationError(problem) }
        guard name != ".", name != "..", !name.contains("/") else {
            throw ValidationError("--name must be a plain file name, got \"\(name)\"")
        }
    }

    func run() async throws {
        let existing = ["\(name).key", "\(name).pub"].map { (out as NSString).appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0) }
        if let first = existing.first, !force {
            CommandOutput.printError(
                "recpool: \(first) exists: a new key pair would lock out every peer that trusts the old one; "
                    + "pass --force to replace it")
            throw ExitStatus.usage.exitCode
        }
        do {
            let paths = try CurveKeyFile.generate(directory: out, name: name)
            CommandOutput.printLine(paths.key)
            CommandOutput.printLine(paths.pub)
        } catch {
            CommandOutput.printError("recpool: \(error)")
            throw ExitStatus.badInput.exitCode
        }
    }
}
