import ArgumentParser
import RecTransport
import RecWire

/// `recpool feedback`: reports a user's reaction to one item of a policy recommendation.
struct FeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Report a click (1) or a view without a click (0) on one item of a policy recommendation.",
        discussion: """
            Report every shown item of a slate: --click 1 for the clicked one, --click 0 for the others. The broker \
            answers once the event is durable. An unknown impression exits 20 (NOT_FOUND), one older than the \
            feedback window 14 (EXPIRED), an item outside the slate 11 (BAD_REQUEST); a repeated event is \
            acknowledged as a duplicate and ignored.
            """)

    @OptionGroup var connection: BrokerOptions

    // Unconditional: a value that starts with `-` (`--click -1`) is read as the value and refused by name, not taken
    // for a flag ("Missing value for '--click <click>'").
    @Option(name: .customLong("impression"), parsing: .unconditional, help: "The impression id `recpool recommend` printed.")
    var impressionId: String

    @Option(
        parsing: .unconditional, help: "The shown item: its catalogue row, as the slate names it.",
        transform: CatalogueRowText.parseItem)
    var item: Int

    @Option(parsing: .unconditional, help: "1 for a click, 0 for a view without one.")
    var click: Int

    @Option(parsing: .unconditional, help: "How long the user looked at the item, seconds.")
    var dwell: Double?

    @Flag(help: "Print one JSON object: {\"impression_id\", \"item\", \"duplicate\"}.")
    var json = false

    func validate() throws {
        let request = FeedbackRequest(impressionId: impressionId, item: item, click: click, dwellSeconds: dwell)
        let flags = FeedbackRequest.FieldNames(
            impressionId: "--impression", item: "--item", click: "--click", dwellSeconds: "--dwell")
        if let problem = request.problem(names: flags) { throw ValidationError(problem) }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let reply = try await client.feedback(
                impressionId: impressionId, item: item, click: click, dwellSeconds: dwell)
            if json {
                CommandOutput.printLine(try JSONOutput.encode(reply))
            } else if reply.duplicate {
                CommandOutput.printLine(
                    "item \(reply.item) of \(reply.impressionId): already recorded (duplicate ignored)")
            } else {
                CommandOutput.printLine("item \(reply.item) of \(reply.impressionId): click \(click) recorded")
            }
        }
    }
}
