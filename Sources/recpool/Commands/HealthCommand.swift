import ArgumentParser
import Shared

/// `recpool health`: a probe for supervisors. Exit 0 when the broker answers and at least one live
/// worker offers the service; 1 when none does; 3 when the broker cannot be reached.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 if the broker is reachable and has a live worker for the service, non-zero otherwise.")

    @OptionGroup var connection: BrokerOptions

    @Option(help: "The service that must have a live worker (SCORE, RECOMMEND, TRAIN_ROUND).")
    var service = "SCORE"

    func validate() throws {
        guard ["SCORE", "RECOMMEND", "FEEDBACK", "TRAIN_ROUND"].contains(service) else {
            throw ValidationError("--service must be SCORE, RECOMMEND, FEEDBACK or TRAIN_ROUND, not \(service)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let status = try await client.status()
            let live = status.workers.filter { $0.services.contains(service) }
            guard !live.isEmpty else {
                throw CommandFailure("unhealthy: no live worker offers \(service) (\(status.workers.count) live worker(s))")
            }
            CommandOutput.printLine("healthy: \(live.count) live worker(s) offer \(service)")
        }
    }
}
