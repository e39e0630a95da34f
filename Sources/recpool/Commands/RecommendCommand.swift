import ArgumentParser
import Foundation
import RecClient
import RecData
import RecModel
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
        name: .customLong("user-feature"),
        help: "One user feature as NAME=VALUE, the value taken whole (it may hold commas); repeat for more.")
    var userFeature: [String] = []

    // Read whatever follows the flag (`.unconditional`): `-1:5` was taken for a flag and refused as a missing value,
    // where the item it names is what is wrong.
    @Option(
        parsing: .unconditional,
        help:
            "Items the user viewed, as ITEM:SECONDS pairs, comma-separated (e.g. 1:30,2:10); read as interest in those items and ones like them (docs/DATA.md).")
    var events: String = ""

    @Option(parsing: .unconditional, help: "Only rank these items (catalogue rows), comma-separated (default: every item).")
    var candidates: String?

    @Option(help: "How many items to return (default: 10 from a trained model, the slate size from an online policy).")
    var top: Int?

    @Flag(
        name: .customLong("exclude-viewed"),
        help: "Leave the items in --events out of a trained model's answer (sends exclude_viewed: true); an online policy does not apply it, and the command warns when its slate holds a viewed item.")
    var excludeViewed = false

    @Flag(
        help: """
            Print one JSON object: {"items": [{"item", "score"}], "model_version", "source"}; a policy reply adds \
            "impression_id", "exploration" and per item "position" and "propensity".
            """)
    var json = false

    /// A policy reply as text: the impression id, the version, and the slate with propensities
    /// (``RecommendText/slate(_:)``).
    static func render(_ reply: PolicyRecommendation) -> String { RecommendText.slate(reply) }

    func run() async throws {
        try await reportingFailures {
            let query = try parseQuery()
            let client = try await connection.connect()
            defer { client.close() }
            let (document, version) = try await client.recommend(document: Self.encode(query, sendsTop: top != nil))
            if let policy = try RecPoolClient.policyRecommendation(from: document) {
                let viewed = Set(query.events.map(\.item))
                let shown = policy.items.map(\.item).filter(viewed.contains)
                if excludeViewed && !shown.isEmpty {
                    // An online policy draws its slate from every active item (its propensities say so): it does not
                    // apply exclude_viewed (docs/PROTOCOL.md), and the user is told rather than left to find out.
                    CommandOutput.printError(
                        "recpool: warning: an online policy does not apply --exclude-viewed; viewed items "
                            + "\(shown.map(String.init).joined(separator: ", ")) are in its slate")
                }
                CommandOutput.printLine(json ? try JSONOutput.encode(policy) : Self.render(policy))
                return
            }
            let answer: RecommendAnswer
            do {
                answer = try WireJSON.decode(RecommendAnswer.self, from: document)
            } catch {
                throw CommandFailure("the worker's answer did not decode: \(error)", exitCode: .protocolViolation)
            }
            // A model's score is a click probability and the fallback's a popularity prior: both lie in [0, 1].
            if let bad = answer.items.first(where: { !(0...1).contains($0.score) }) {
                throw CommandFailure(
                    "the \(answer.source) ranking gives item \(bad.item) the score \(bad.score), not a probability in [0, 1]",
                    exitCode: .protocolViolation)
            }
            if json {
                CommandOutput.printLine(try JSONOutput.encode(answer))
                return
            }
            CommandOutput.printLine("model version \(version), source \(answer.source)")
            for (rank, item) in answer.items.enumerated() {
                CommandOutput.printLine(RecommendText.rankedLine(rank: rank + 1, item: item.item, score: item.score))
            }
        }
    }

    /// The RECOMMEND document; without `sendsTop` the `top` key is left out, so the server's default applies (a
    /// policy serves its own slate size, docs/PROTOCOL.md).
    static func encode(_ query: RecommendQuery, sendsTop: Bool) throws -> [UInt8] {
        let bytes = WireJSON.encode(query)
        guard !sendsTop else { return bytes }
        guard var object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw CommandFailure("the RECOMMEND document did not encode as an object", exitCode: .failed)
        }
        object["top"] = nil
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// Checks the query as ``run()`` reads it (`--top`, the user features, `--events`, `--candidates`), so
    /// `--print-config` refuses what a run refuses.
    func validate() throws {
        do {
            _ = try parseQuery()
        } catch let failure as CommandFailure {
            throw ValidationError(failure.description)
        }
    }

    private func parseQuery() throws -> RecommendQuery {
        if let top, !(1...RecommendQuery.maximumTop).contains(top) {
            throw CommandFailure("--top must be 1…\(RecommendQuery.maximumTop), got \(top)", exitCode: .usage)
        }
        var features: [String: String] = [:]
        // Every entry of a list flag is checked, empty ones too: `a=1,,b=2`, `5,` and `,` are typos, refused here as
        // --events refuses `,,`, never read as fewer entries (or sent as an empty candidate list).
        let pairs =
            (userFeatures.isEmpty ? [] : userFeatures.split(separator: ",", omittingEmptySubsequences: false))
            .map { ("--user-features", String($0)) }
            + userFeature.map { ("--user-feature", $0) }
        for (option, pair) in pairs {
            // `NAME=` is the empty value, which RECOMMEND takes (the Python client sends it): not a missing one.
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw CommandFailure("\(option): \"\(pair)\" is not NAME=VALUE", exitCode: .usage)
            }
            guard features.updateValue(parts[1], forKey: parts[0]) == nil else {
                throw CommandFailure("\(option): \(parts[0]) is given twice", exitCode: .usage)
            }
        }
        var viewed: [ViewEvent] = []
        // Every entry of a non-empty list is a pair: `,,` or a trailing comma is a typo, never "no events".
        let entries = events.isEmpty ? [] : events.split(separator: ",", omittingEmptySubsequences: false)
        for pair in entries {
            let parts = pair.split(separator: ":", maxSplits: 1)
            if let item = parts.first, let problem = CatalogueRowText.leadingZerosProblem(item, option: "--events") {
                throw CommandFailure(problem, exitCode: .usage)
            }
            // The seconds read as a request's or a log's are (`CSVNumber.double`: decimal; `0x10` is no number there).
            // The item read as a log's `viewed` item is (`CSVNumber.wholeNumber`: ` 1`, `1.0` and `1e0` are item 1).
            guard parts.count == 2, let item = CSVNumber.wholeNumber(String(parts[0])), item >= 0,
                let seconds = CSVNumber.double(String(parts[1])),
                ViewEvent.admits(seconds: seconds)
            else {
                // An item that is no number at all is a catalogue's id (`SKU-9:30`): items here are rows.
                let named = parts.first.map { CSVNumber.double(String($0)) == nil } ?? false
                throw CommandFailure(
                    "--events: \"\(pair)\" is not ITEM:SECONDS with an item id of 0 or more and 0…1e9 seconds"
                        + (named ? "; items are \(CatalogueRowText.rowsHint)" : ""),
                    exitCode: .usage)
            }
            viewed.append(ViewEvent(item: item, seconds: seconds))
        }
        var list: [Int]? = nil
        if let candidates {
            list = try candidates.split(separator: ",", omittingEmptySubsequences: false).map { text in
                if let problem = CatalogueRowText.leadingZerosProblem(text, option: "--candidates") {
                    throw CommandFailure(problem, exitCode: .usage)
                }
                guard let item = CSVNumber.wholeNumber(String(text)), item >= 0 else {
                    // A number that is no row (`-3`, `2.5`) is named as before; text (`SKU-7`) is a catalogue's id.
                    if CSVNumber.double(String(text)) == nil {
                        throw CommandFailure(CatalogueRowText.notARow(text, option: "--candidates"), exitCode: .usage)
                    }
                    // 18446744073709551615 is 0 or more: it is past any whole number an item id holds.
                    let why =
                        text.first == "-" || CSVNumber.double(String(text)).map({ $0.rounded() != $0 }) == true
                        ? "is not an item id (a whole number, 0 or more)"
                        : "is more than any item id (at most \(Int.max))"
                    throw CommandFailure("--candidates: \"\(text)\" \(why)", exitCode: .usage)
                }
                return item
            }
        }
        return RecommendQuery(
            userFeatures: features, events: viewed, candidates: list, top: top ?? 10, excludeViewed: excludeViewed)
    }
}

/// The worker's RECOMMEND answer as the command line prints it.
struct RecommendAnswer: Codable {
    var items: [ScoredItem]
    var source: String
    var modelVersion: UInt64
}
