import ArgumentParser
import RecClient
import RecConfig
import RecTransport
import RecWire

/// Options every pool command shares: where the broker is, and how long to wait.
struct BrokerOptions: ParsableArguments {
    @Option(help: "The broker's client-facing endpoint.")
    var broker = "tcp://127.0.0.1:5555"

    @Option(
        name: .customLong("timeout-ms"),
        help: ArgumentHelp(
            "How long to wait for the broker, in ms (sent as the request deadline).",
            discussion: """
                Default 5000; for a change every worker must confirm (`catalogue upload|add|retire`, `policy warmstart \
                --register`) the default is 15000, since the broker waits up to 10 s for the workers' confirmations.
                """))
    var timeoutOption: UInt64?

    /// The wait for an ordinary request: `--timeout-ms`, or 5,000 ms.
    var timeoutMs: UInt64 { timeoutOption ?? Self.defaultTimeoutMs }

    /// The wait for a change every worker must confirm before it is acknowledged: `--timeout-ms` when given (also from
    /// a configuration file or the environment), otherwise ``changeDefaultTimeoutMs``. A shorter wait than the broker's
    /// own for the workers may report a change it goes on to make as timed out; the command then says so.
    var changeTimeoutMs: UInt64 { timeoutOption ?? Self.changeDefaultTimeoutMs }

    /// `--timeout-ms` when it is not given, in ms.
    static let defaultTimeoutMs: UInt64 = 5_000
    /// The default wait for a change every worker must confirm, in ms: the broker waits up to 10 s for them
    /// (`--catalogue-confirm-timeout-ms`), and storing a large catalogue takes a few seconds more.
    static let changeDefaultTimeoutMs: UInt64 = 15_000

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
        // An empty path was read as a file named "" ("recpool: : cannot read", exit 2).
        try PathName.validate([(curveServerKey, "--curve-server-key"), (curveKey, "--curve-key")], what: "a key file")
        // Exactly the run's syntactic checks, so `--print-config` refuses what a run refuses (it printed
        // `tcp://127.0.0.1:0`, `tcp://host`, `inproc://x` and "" as valid), and a value from the environment or a file
        // is traced to it. No network lookup here: a name is resolved when the command connects.
        if let problem = WireText.nameProblem(broker, field: "--broker") { throw ValidationError(problem) }
        if let problem = ZMQEndpoint.problem(broker, connecting: true, betweenProcesses: true) {
            throw ValidationError("--broker \(broker): \(problem)")
        }
    }

    /// The broker endpoint this process last connected to, for a timeout's message (``ExitStatus/report(_:)``).
    static let connected = LockedBox<String?>(nil)

    /// Connects a client, turning a bad endpoint into a clear error and exit code.
    func connect() async throws -> RecPoolClient {
        Self.connected.withLock { $0 = broker }
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
