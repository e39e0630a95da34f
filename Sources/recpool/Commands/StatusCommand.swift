import ArgumentParser
import Foundation
import Shared

/// `recpool status`: the broker's live workers, queues and counters.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the broker's live workers, queues and counters.")

    @OptionGroup var connection: BrokerOptions

    @Flag(help: "Print the status document as one JSON object.")
    var json = false

    @Flag(help: "Refresh every second in the terminal (with --json: one object per second); Ctrl-C exits.")
    var watch = false

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            if watch {
                try await StatusWatch.run(client: client, json: json)
                return
            }
            let status = try await client.status()
            if json {
                CommandOutput.printLine(JSONOutput.encode(status))
            } else {
                CommandOutput.printLine(StatusTable.render(status))
            }
        }
    }
}

/// Renders a status document as text tables.
enum StatusTable {
    static func render(_ status: StatusDocument) -> String {
        var lines: [String] = []
        lines.append("broker up \(status.uptimeMs / 1000) s, protocol v\(status.protocolVersion), \(status.workers.count) live worker(s), \(status.inflight) in flight")
        if let online = status.online, online.enabled {
            lines.append(
                "online learning \(online.frozen ? "frozen" : "on"): policy version \(online.version), \(online.syncs) syncs "
                    + "(\(online.rejected) rejected), \(online.feedback) feedback events; see `recpool online status`")
        }
        lines.append("")
        lines.append(row(["WORKER", "ADDRESS", "SLOTS", "INFLIGHT", "VERSION", "WIDTH", "DONE", "ERRORS", "HEARTBEAT"]))
        for w in status.workers {
            lines.append(row([
                w.id, w.address, "\(w.slots)", "\(w.inflight)", "\(w.modelVersion)", "\(w.inputWidth)", "\(w.completed)",
                "\(w.errors)", "\(w.heartbeatAgeMs) ms",
            ]))
        }
        lines.append("")
        lines.append(row(["QUEUE", "DEPTH", "CAPACITY"]))
        for q in status.queues { lines.append(row([q.service, "\(q.depth)", "\(q.capacity)"])) }
        let interesting = status.counters.filter { $0.key.hasPrefix("dropped") || $0.key.hasPrefix("replies") || $0.key == "redispatched" }
        if !interesting.isEmpty {
            lines.append("")
            lines.append(row(["COUNTER", "VALUE"]))
            for (key, value) in interesting.sorted(by: { $0.key < $1.key }) { lines.append(row([key, "\(value)"])) }
        }
        return lines.joined(separator: "\n")
    }

    private static func row(_ cells: [String]) -> String {
        let widths = [22, 18, 6, 9, 8, 6, 9, 7, 10]
        return cells.enumerated().map { index, cell in
            index < widths.count ? cell.padding(toLength: max(widths[index], cell.count + 1), withPad: " ", startingAt: 0) : cell
        }.joined().trimmingCharacters(in: .whitespaces)
    }
}
