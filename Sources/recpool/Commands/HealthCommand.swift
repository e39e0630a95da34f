import ArgumentParser
import RecClient
import RecTransport
import RecWire

/// `recpool health`: a probe for supervisors. Exit 0 when the broker answers and at least one live
/// worker serves the service (offers it and, for SCORE and RECOMMEND, is not waiting for the promoted model
/// version and holds the registry's weights for the version it claims; for FEEDBACK, when a replica serves the
/// online policy); 1 when none does; 3 when the broker cannot be reached. RECOMMEND is served by the online policy
/// when it runs, else by the model from raw context, which needs a feature specification: without online learning
/// a RECOMMEND for one item is sent, and health is its answer (a model trained on numeric CSV rows answers every
/// RECOMMEND BAD_REQUEST).
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 if the broker is reachable and has a live worker for the service, non-zero otherwise.")

    @OptionGroup var connection: BrokerOptions

    @Option(help: "A service with a live worker: SCORE, RECOMMEND, TRAIN_ROUND, or FEEDBACK (an online replica).")
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
            // Training rounds go to every live worker that trains, whatever model it serves (the round carries
            // its weights); scoring goes only to a worker holding the registry's weights under the version it
            // claims and, while a version is promoted, holding that version, and not one that another model's
            // worker keeps from this service under the same version number (`idle_reason`).
            // A draining worker takes no new request of any kind (`draining`), nor does one that reports 0 slots (no
            // credit: a paused worker, which the broker sends nothing).
            let serving =
                service == "TRAIN_ROUND"
                ? offering.filter { !$0.draining }
                : offering.filter {
                    !$0.draining && $0.slots > 0 && Self.takesScoringWork($0)
                        && !StatusTable.idleServices($0).contains(service)
                }
            guard !serving.isEmpty else {
                throw CommandFailure("unhealthy: \(offering.count) live worker(s) offer \(service), but none takes work: "
                    + Self.whyNoScoringWork(offering))
            }
            if service == "RECOMMEND" {
                try await Self.probeRecommend(client, status: status, timeoutMs: connection.timeoutMs)
            }
            CommandOutput.printLine("healthy: \(serving.count) live worker(s) serve \(service)")
        }
    }

    /// Checks that RECOMMEND is answered: by the online policy's replicas when it runs (no request is sent, since
    /// a policy slate is logged as an impression), else by one RECOMMEND of one item with no context.
    /// - Throws: a ``CommandFailure`` (exit 1) naming why RECOMMEND is not served.
    static func probeRecommend(_ client: RecPoolClient, status: StatusDocument, timeoutMs: UInt64?) async throws {
        if let online = status.online, online.enabled {
            guard !online.replicas.isEmpty else {
                throw CommandFailure("unhealthy: RECOMMEND goes to the online policy, and no replica serves it")
            }
            // A policy over a shop's catalogue whose every item is retired answers every RECOMMEND CONFLICT: it was
            // reported healthy. Read from the registry (no RECOMMEND is sent: it would be logged as an impression).
            if let version = online.catalogueVersion {
                let show = try await client.control(
                    ControlRequest(.catalogue, version: version, after: -1, limit: 0), as: CatalogueShow.self,
                    timeoutMs: timeoutMs)
                guard show.catalogue.active > 0 else {
                    throw CommandFailure(
                        "unhealthy: the online policy serves catalogue version \(version), whose every item is retired "
                            + "(\(show.catalogue.items) items, 0 active): every RECOMMEND is refused until an item is "
                            + "added or a catalogue uploaded")
                }
            }
            return
        }
        do {
            // One candidate, so the probe scores one item however large the catalogue.
            _ = try await client.recommend(document: Array(#"{"candidates":[0],"top":1}"#.utf8), timeoutMs: timeoutMs)
        } catch {
            guard case .server(let status, let message, _) = error else { throw error }
            throw CommandFailure("unhealthy: RECOMMEND is answered \(status.name): \(message)")
        }
    }

    /// Whether the broker dispatches SCORE and RECOMMEND to a worker: it is not waiting for the promoted version
    /// and the version it claims is the registry's (status `model_source` is not `unverified`).
    static func takesScoringWork(_ worker: StatusDocument.Worker) -> Bool {
        worker.waitingForVersion == nil && worker.modelSource != "unverified"
    }

    /// Why none of `offering` takes scoring work, for the unhealthy message.
    static func whyNoScoringWork(_ offering: [StatusDocument.Worker]) -> String {
        if offering.allSatisfy(\.draining) {
            return "every one is draining (\(offering.map(\.id).joined(separator: ", ")))"
        }
        let offering = offering.filter { !$0.draining }
        if !offering.isEmpty, offering.allSatisfy({ $0.slots == 0 }) {
            return "every one that is not draining reports 0 slots (\(offering.map(\.id).joined(separator: ", "))): a "
                + "paused worker is sent nothing"
        }
        if let idle = offering.first(where: { takesScoringWork($0) }), let reason = idle.idleReason {
            return "\(idle.id) \(reason)"
        }
        if let version = offering.compactMap(\.waitingForVersion).max() {
            return "none has the promoted model version \(version) yet (see `recpool status`; a corrupt checkpoint "
                + "is repaired by importing it again)"
        }
        let claimed = offering.map { "\($0.id) claims version \($0.modelVersion)" }.joined(separator: ", ")
        return "each claims a model version this broker's registry does not hold with those weights (\(claimed); "
            + "model_source unverified in `recpool status`); restart the workers or promote a version so they load it"
    }
}
