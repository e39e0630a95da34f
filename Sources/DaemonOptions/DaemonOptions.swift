import ArgumentParser
import Logging
import RecMetrics
import Shared

/// The flags every long-running RecPool process shares (`recpool-broker`, `recpool-worker`):
/// logging, metrics and supervision by a parent process.
public struct DaemonOptions: ParsableArguments {
    @Flag(help: "Exit when the parent process exits (used by `recpool local`).")
    public var exitWithParent = false

    @Option(help: "Serve Prometheus metrics at http://ADDRESS:PORT/metrics (off unless given).")
    public var metrics: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel: Logger.Level = .info

    @Option(help: "Log format: text or json.")
    public var logFormat: LogFormat = .text

    /// Creates the defaults.
    public init() {}

    /// Bootstraps logging and, with `--metrics`, the Prometheus backend; call first thing in `run()`.
    /// - Returns: the metrics endpoint service to run, if asked for.
    /// - Throws: `ExitCode(2)` after printing why, when `--metrics` does not parse.
    public func start(commandName: String) throws -> MetricsEndpoint? {
        LogSetup.bootstrap(level: logLevel, format: logFormat)
        guard let metrics else { return nil }
        do {
            return try MetricsEndpoint(
                address: metrics, registry: MetricsEndpoint.bootstrap(), logger: Logger(label: "recpool.metrics"))
        } catch {
            CommandOutput.printError("\(commandName): \(error)")
            throw ExitCode(2)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
