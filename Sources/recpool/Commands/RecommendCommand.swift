import ArgumentParser
import Foundation
import RecClient
import RecData
import RecTransport
import RecWire

/// `recpool recommend`: ranks items for a (new) user from raw context.
struct RecommendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Rank items for a user from raw context: user features and the few items viewed so far.",
        discussion: """
            A user with no events still gets a ranked list; `source` says whether it came from the model, the \
            cold-start fallback or an online policy. A policy reply (a broker run with --online) also carries the \
            impression id to give `recpool feedback` on, each item's propensity and the policy version.
            """)

    @OptionGroup var connection: BrokerOptions

    @Option(help: "User features as NAME=VALUE pairs, comma-separated (e.g. user_feature_0=81ce…).")
    var userFeatures: String = ""

    @Option(
        help:
            "Items the user viewed, as ITEM:SECONDS pairs, comma-separated (e.g. 1:30,2:10); read as interest in those items and ones like them (docs/DATA.md).")
    var events: String = ""

    @Option(help: "Only rank these item ids, comma-separated (default: every item).")
    var candidates: String?

    @Option(help: "How many items to return.")
    var top = 10

    @Flag(
        name: .customLong("exclude-viewed"),
        help: "Leave the items in --events out of the answer (sends exclude_viewed: true).")
    var excludeViewed = false

    @Flag(
        help: """
            Print one JSON object: {"items": [{"item", "score"}], "model_version", "source"}; a policy reply adds \
            "impression_id", "exploration" and per item "position" and "propensity".
            """)
    var json = false

    /// A policy reply as text: the impression id, the version, and the slate with propensities.
    static func render(_ reply: PolicyRecommendation) -> String {
        let rule =
            switch reply.exploration.kind {
            case .epsilonGreedy: "epsilon_greedy ε=\(reply.exploration.epsilon)"
            case .softmax: "softmax T=\(reply.exploration.temperature)"
            }
        var lines = [
            "impression \(reply.impressionId)",
            "policy version \(reply.modelVersion), source policy, exploration \(rule)",
        ]
        for item in reply.items {
            lines.append(
                String(
                    format: "%2d. item %d  score %.4f  propensity %.4f", item.position + 1, item.item, item.score,
                    item.propensity))
        }
        return lines.joined(separator: "\n")
    }

    func run() async throws {
        try await reportingFailures {
            let query = try parseQuery()
            let client = try await connection.connect()
            defer { client.close() }
            let (document, version) = try await client.recommend(document: WireJSON.encode(query))
            if let policy = try RecPoolClient.policyRecommendation(from: document) {
                CommandOutput.printLine(json ? try JSONOutput.encode(policy) : Self.render(policy))
                return
            }
            guard let answer = try? WireJSON.decode(RecommendAnswer.self, from: document) else {
                throw CommandFailure("the worker's answer did not decode", exitCode: .protocolViolation)
            }
            if json {
                CommandOutput.printLine(try JSONOutput.encode(answer))
                return
            }
            CommandOutput.printLine("model version \(version), source \(answer.source)")
            for (rank, item) in answer.items.enumerated() {
                CommandOutput.printLine(String(format: "%2d. item %d  %.4f", rank + 1, item.item, item.score))
            }
        }
    }

    private func parseQuery() throws -> RecommendQuery {
        guard top >= 1 else { throw CommandFailure("--top must be at least 1", exitCode: .usage) }
        var features: [String: String] = [:]
        for pair in userFeatures.split(separator: ",") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw CommandFailure("--user-features: \"\(pair)\" is not NAME=VALUE", exitCode: .usage)
            }
            features[parts[0]] = parts[1]
        }
        var viewed: [ViewEvent] = []
        for pair in events.split(separator: ",") where !pair.isEmpty {
            let parts = pair.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let item = Int(parts[0]), let seconds = Double(parts[1]), ViewEvent.admits(seconds: seconds) else {
                throw CommandFailure("--events: \"\(pair)\" is not ITEM:SECONDS with 0…1e9 seconds", exitCode: .usage)
            }
            viewed.append(ViewEvent(item: item, seconds: seconds))
        }
        var list: [Int]? = nil
        if let candidates {
            list = try candidates.split(separator: ",").map { text in
                guard let item = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw CommandFailure("--candidates: \"\(text)\" is not an item id", exitCode: .usage)
                }
                return item
            }
        }
        return RecommendQuery(
            userFeatures: features, events: viewed, candidates: list, top: top, excludeViewed: excludeViewed)
    }
}

/// The worker's RECOMMEND answer as the command line prints it.
struct RecommendAnswer: Codable {
    var items: [ScoredItem]
    var source: String
    var modelVersion: UInt64
}
