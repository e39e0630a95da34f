import ArgumentParser
import RecTransport

/// `recpool health`: a probe for supervisors. Exit 0 when the broker answers and at least one live
/// worker serves the service (offers it and is not waiting for the promoted model version; for FEEDBACK,
/// when a replica serves the online policy); 1 when none does; 3 when the broker cannot be reached.
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
            if service == "FEEDBACK" {
                // FEEDBACK is answered by the broker's control plane: healthy when online learning runs and a
                // replica serves its policy (so slates carry impressions that feedback can be about).
                guard let online = status.online, online.enabled, !online.replicas.isEmpty else {
                    throw CommandFailure("unhealthy: no replica serves an online policy, so FEEDBACK has nothing to be about")
                }
                CommandOutput.printLine("healthy: online policy version \(online.version) on \(online.replicas.count) replica(s)")
                return
            }
            let offering = status.workers.filter { $0.services.contains(service) }
            guard !offering.isEmpty else {
                throw CommandFailure("unhealthy: no live worker offers \(service) (\(status.workers.count) live worker(s))")
            }
            // A worker still waiting for the promoted version takes no work: requests would end in CONFLICT.
            let serving = offering.filter { $0.waitingForVersion == nil }
            guard !serving.isEmpty else {
                let version = offering.compactMap(\.waitingForVersion).max() ?? 0
                throw CommandFailure(
                    "unhealthy: \(offering.count) live worker(s) offer \(service), but none has the promoted model "
                        + "version \(version) yet (see `recpool status`; a corrupt checkpoint is repaired by importing it again)")
            }
            CommandOutput.printLine("healthy: \(serving.count) live worker(s) serve \(service)")
        }
    }
}
