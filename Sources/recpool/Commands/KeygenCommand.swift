import ArgumentParser
import RecTransport

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

    func validate() throws {
        guard !name.isEmpty, !name.contains("/") else { throw ValidationError("--name must be a plain file name") }
    }

    func run() async throws {
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
