import ArgumentParser
import RecClient
import RecConfig
import RecTransport
import RecWire

/// Options every pool command shares: where the broker is, and how long to wait.
struct BrokerOptions: ParsableArguments {
    @Option(help: "The broker's client-facing endpoint.")
    var broker = "tcp://127.0.0.1:5555"

    @Option(help: "How long to wait for the broker, in ms (sent as the request deadline).")
    var timeoutMs: UInt64 = 5000

    @Option(help: "The broker's CURVE public key (a .pub file); with --curve-key, talk CurveZMQ.")
    var curveServerKey: String?

    @Option(help: "Your CURVE key pair (a .key file from `recpool keygen`).")
    var curveKey: String?

    @Flag(help: "Use a --curve-key file that its group or others may access (refused otherwise, as ssh does).")
    var allowOpenKeyFile = false

    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        // 0 would be a deadline already passed (every request EXPIRED); beyond a day it is surely a mistake.
        guard timeoutMs >= 1 && timeoutMs <= 86_400_000 else {
            throw ValidationError("--timeout-ms must be from 1 to 86400000 (a day), got \(timeoutMs)")
        }
        guard (curveServerKey == nil) == (curveKey == nil) else {
            throw ValidationError("--curve-server-key and --curve-key go together")
        }
        // Exactly the run's syntactic checks, so `--print-config` refuses what a run refuses (it printed
        // `tcp://127.0.0.1:0`, `tcp://host`, `inproc://x` and "" as valid), and a value from the environment or a file
        // is traced to it. No network lookup here: a name is resolved when the command connects.
        if let problem = WireText.nameProblem(broker, field: "--broker") { throw ValidationError(problem) }
        if let problem = ZMQEndpoint.problem(broker, connecting: true, betweenProcesses: true) {
            throw ValidationError("--broker \(broker): \(problem)")
        }
    }

    /// Connects a client, turning a bad endpoint into a clear error and exit code.
    func connect() async throws -> RecPoolClient {
        // A name that does not resolve is named here (libzmq would retry it until the timeout); the broker cannot be
        // reached, exit 3, as `recpool health` promises supervisors. Not in `validate()`: `--print-config` looks
        // nothing up, and a configuration for another host prints wherever it is checked.
        if let problem = ZMQEndpoint.hostProblem(broker) {
            CommandOutput.printError("recpool: --broker \(broker): \(problem)")
            throw ExitStatus.unreachable.exitCode
        }
        var options = RecPoolClient.Options()
        options.timeoutMs = timeoutMs
        if let curveServerKey, let curveKey {
            do {
                options.socketOptions = try CurveKeyFile.clientOptions(
                    serverKeyPath: curveServerKey, keyPath: curveKey, allowOpenPermissions: allowOpenKeyFile)
            } catch {
                throw CommandFailure(error.description, exitCode: .badInput)
            }
            // Accepted, but said, as the broker and the worker log it (docs/SECURITY.md).
            if allowOpenKeyFile, let mode = CurveKeyFile.openPermissions(curveKey) {
                CommandOutput.printError(
                    "recpool: warning: using \(curveKey), a secret key file its group or others may access (mode "
                        + "\(String(mode, radix: 8))), because of --allow-open-key-file")
            }
        }
        do {
            return try await RecPoolClient(endpoint: broker, options: options)
        } catch {
            throw CommandFailure(error.description, exitCode: ExitStatus.of(error))
        }
    }
}
