import ArgumentParser
import Logging
import RecConfig
import RecMetrics
import RecTransport

/// The flags every long-running RecPool process shares (`recpool-broker`, `recpool-worker`):
/// logging, metrics, supervision by a parent process, and the configuration file.
public struct DaemonOptions: ParsableArguments {
    /// `--config` and `--print-config` (the values themselves are read by `runConfigured`).
    @OptionGroup public var configuration: ConfigOptions

    /// Exit when the parent process exits.
    @Flag(help: "Exit when the parent process exits (used by `recpool local`).")
    public var exitWithParent = false

    /// The metrics endpoint address, `IPV4:PORT`.
    @Option(help: "Serve Prometheus metrics at http://ADDRESS:PORT/metrics (off unless given).")
    public var metrics: String?

    /// The lowest level logged.
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel: Logger.Level = .info

    /// Text or JSON lines.
    @Option(help: "Log format: text or json.")
    public var logFormat: LogFormat = .text

    /// Creates the defaults.
    public init() {}

    /// Reports why the daemon cannot go on, once logging is bootstrapped (``start(commandName:)``): with
    /// `--log-format json` as one `critical` JSON line, so a log shipper reads every line of stderr as JSON; as text, as
    /// `COMMAND: TEXT` on stderr. A message already logged as `critical` by the failing part is not repeated in JSON.
    public func reportFailure(_ text: String, commandName: String, alreadyLogged: Bool = false) {
        switch logFormat {
        case .json:
            if !alreadyLogged { Logger(label: commandName).critical("\(text)") }
        case .text:
            CommandOutput.printError("\(commandName): \(text)")
        }
    }

    /// Bootstraps logging, raises the open-file limit (``FileDescriptorLimit``) and, with `--metrics`,
    /// the Prometheus backend; call first thing in `run()`.
    /// - Returns: the metrics endpoint service to run, if asked for.
    /// - Throws: ``DaemonExit/usage`` after printing why, when `--metrics` does not parse.
    public func start(commandName: String) throws -> MetricsEndpoint? {
        LogSetup.bootstrap(level: logLevel, format: logFormat)
        FileDescriptorLimit.raiseAndLog(Logger(label: commandName))
        guard let metrics else { return nil }
        do {
            return try MetricsEndpoint(
                address: metrics, registry: MetricsEndpoint.bootstrap(), logger: Logger(label: "recpool.metrics"))
        } catch {
            reportFailure("\(error)", commandName: commandName)
            throw DaemonExit.usage
        }
    }
}

/// Checks the shape of ZeroMQ endpoints given as flags, so a typo is a usage error (exit 64)
/// rather than a failure to bind or connect.
public enum EndpointSyntax {
    /// - Throws: `ValidationError` naming the flag when `endpoint` is not `TRANSPORT://ADDRESS`
    ///   with a known transport, or a `tcp://` endpoint lacks `:PORT` (``ZMQEndpoint/problem(_:)``).
    /// - Parameter connecting: the endpoint is connected to (a worker's `--broker`): port 0 and `*` are refused.
    public static func validate(_ endpoint: String, flag: String, connecting: Bool = false) throws {
        if let problem = ZMQEndpoint.problem(endpoint, connecting: connecting, betweenProcesses: true) {
            throw ValidationError("\(flag) \(endpoint): \(problem)")
        }
    }
}

/// The exit codes of `recpool-broker` and `recpool-worker` (sysexits.h values; docs/OPERATIONS.md).
public enum DaemonExit {
    /// 0: a clean shutdown (SIGTERM or SIGINT drained, or the worker was drained with `recpool drain`).
    public static let clean = ExitCode.success
    /// 64 (`EX_USAGE`): a bad flag, configuration key or value; restarting will not help.
    public static let usage = ExitCode.validationFailure
    /// 65 (`EX_DATAERR`): the broker's state directory fails its check at start (the SQLite database
    /// fails `PRAGMA quick_check`, or is not a database), or what the broker loads at start from it (jobs, the
    /// model and catalogue registries, the online policy) cannot be read: a missing table, a value of the wrong
    /// type, an unknown state, JSON that does not decode; repair, restore or salvage it (docs/OPERATIONS.md).
    public static let dataError = ExitCode(65)
    /// 66 (`EX_NOINPUT`): a file the configuration names (CURVE key, allow-list, model) cannot be read,
    /// or a secret key file is open to group or others (without `--allow-open-key-file`). An empty
    /// allow-list is not an error.
    public static let noInput = ExitCode(66)
    /// 69 (`EX_UNAVAILABLE`): an endpoint (frontend, backend, metrics) cannot be bound.
    public static let unavailable = ExitCode(69)
    /// 70 (`EX_SOFTWARE`): a failure while running (a socket error).
    public static let software = ExitCode(70)
    /// 73 (`EX_CANTCREAT`): the broker's state directory cannot be opened or created.
    public static let cannotCreate = ExitCode(73)

    /// The exit code for an error that ended the service group.
    public static func code(for error: any Error) -> ExitCode {
        if let error = error as? MetricsEndpoint.EndpointError, case .serveFailed = error { return unavailable }
        return software
    }
}

/// A log level in any case (`info`, `INFO`), as `recpool local` takes it for the daemons it starts.
extension Logger.Level: @retroactive ExpressibleByArgument {
    /// The level `argument` names, whatever its case.
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
extension LogFormat: ExpressibleByArgument {}
