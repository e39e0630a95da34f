import ArgumentParser
import RecConfig

/// The `recpool` command line: a client of a running pool, and local tools that need no pool.
///
/// Each subcommand lives in its own file under `Commands/`.
@main
struct RecPool: AsyncParsableCommand {
    /// Reads `RECPOOL_*` variables and the [client] table of the configuration file before parsing; every error a
    /// subcommand throws leaves through ``ExitStatus/report(_:)``, the one table of exit statuses.
    static func main() async { await runConfigured(table: "client", translateError: ExitStatus.report) }

    static let configuration = CommandConfiguration(
        commandName: "recpool",
        abstract: "Serve, train and load-test cold-start recommendation models on a ZeroMQ worker pool.",
        subcommands: [
            // Pool commands (foundation).
            LocalCommand.self, ScoreCommand.self, RecommendCommand.self, StatusCommand.self, HealthCommand.self,
            TrainCommand.self, JobsCommand.self, JobCommand.self, CancelCommand.self,
            ModelsCommand.self, PromoteCommand.self, RollbackCommand.self, ImportCommand.self, PullCommand.self,
            // Model commands.
            FitCommand.self,
            PredictCommand.self,
            ExportCommand.self,
            BenchModelCommand.self,
            // Data commands.
            DataCommand.self, EvalCommand.self, CatalogueCommand.self,
            // Load testing.
            LoadTestCommand.self,
            // Online learning.
            FeedbackCommand.self, OnlineCommand.self, PolicyCommand.self, LogsCommand.self, SimulateCommand.self,
            // Security.
            KeygenCommand.self, DrainCommand.self,
            // Operations.
            ConfigCommand.self,
        ]
    )
}
