import ArgumentParser
import Foundation
import RecTransport
import RecWire

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
                CommandOutput.printLine(try JSONOutput.encode(status))
            } else {
                CommandOutput.printLine(StatusTable.render(status))
            }
        }
    }
}

/// Renders a status document as text tables.
enum StatusTable {
    /// A worker's model as the VERSION column shows it: the registry's number, `0 (file SHA…)` / `0 (seeded N)` for
    /// an unregistered model, or `N (unverified)` for a number the worker claims whose checkpoint is not the
    /// registry's version N, `N (unchecked: no registry)` on a broker without one, with `, waiting for vN` while it
    /// takes no work.
    static func version(_ w: StatusDocument.Worker) -> String {
        var text = "\(w.modelVersion)"
        switch w.modelSource {
        case "file": text += " (file \(w.modelSha256.map { String($0.prefix(12)) } ?? "?"))"
        case "seeded": text += w.modelSeed.map { " (seeded \($0))" } ?? " (seeded)"
        // Not the registry's version N, whatever the number says.
        case "unverified": text += " (unverified)"
        // A broker without a registry reports the number the worker claims, checked against nothing.
        case "unchecked": text += " (unchecked: no registry)"
        default: break
        }
        if let waiting = w.waitingForVersion { text += ", waiting for v\(waiting)" }
        if w.draining { text += ", draining" }
        let idle = idleServices(w)
        if !idle.isEmpty {
            text += ", no \(idle.joined(separator: " or ")): another model holds v\(w.modelVersion)"
        }
        return text
    }

    /// The services a worker offers but takes none of while another model serves its version number for them, read
    /// from its `idle_reason` (`takes no SCORE or RECOMMEND: …`, docs/PROTOCOL.md, "Status document"); empty when it
    /// takes every kind it offers.
    static func idleServices(_ w: StatusDocument.Worker) -> [String] {
        guard let idle = w.idleReason, let kinds = idle.split(separator: ":").first, kinds.hasPrefix("takes no ") else {
            return []
        }
        return kinds.dropFirst("takes no ".count).components(separatedBy: " or ")
    }

    /// The tables; with `rates` (from `--watch`), the worker table shows requests/s per worker.
    static func render(_ status: StatusDocument, rates: [String: Double]? = nil) -> String {
        var lines: [String] = []
        lines.append(
            "broker up \(status.uptimeMs / 1000) s, protocol v\(status.protocolVersion), \(status.workers.count) live worker(s), \(status.inflight) in flight"
        )
        if let why = status.onlineOff {
            lines.append("online learning is off: \(cell(why))")
        }
        if let online = status.online, online.enabled {
            lines.append(
                "online learning \(online.frozen ? "frozen" : "on"): policy version \(online.version)"
                    + (online.catalogueVersion.map { " on catalogue version \($0)" } ?? "") + ", syncs \(online.syncs) accepted, "
                    + "\(online.rejected) rejected, \(online.feedback) feedback events; see `recpool online status`")
        }
        if let promoted = status.promotedVersion { lines.append("promoted model version \(promoted)") }
        lines.append("")
        var workerRows: [[String]]
        if let rates {
            workerRows = [["WORKER", "HOST", "SLOTS", "INFLIGHT", "VERSION", "REQ/S", "ERRORS", "HEARTBEAT"]]
            for w in status.workers {
                workerRows.append([
                    w.id, w.host.isEmpty ? "-" : w.host, "\(w.slots)", "\(w.inflight)", version(w),
                    rates[w.id].map { String(format: "%.0f", $0) } ?? "-", "\(w.errors)", "\(w.heartbeatAgeMs) ms",
                ])
            }
        } else {
            workerRows = [
                ["WORKER", "HOST", "ADDRESS", "SLOTS", "INFLIGHT", "VERSION", "WIDTH", "DONE", "ERRORS", "HEARTBEAT"]
            ]
            for w in status.workers {
                workerRows.append([
                    w.id, w.host.isEmpty ? "-" : w.host, w.address, "\(w.slots)", "\(w.inflight)", version(w),
                    "\(w.inputWidth)", "\(w.completed)", "\(w.errors)", "\(w.heartbeatAgeMs) ms",
                ])
            }
        }
        lines += aligned(workerRows)
        lines.append("")
        lines += aligned(
            [["QUEUE", "DEPTH", "CAPACITY"]] + status.queues.map { [$0.service, "\($0.depth)", "\($0.capacity)"] })
        // Every counter that moved (an expired worker, an invalid request, a cancel): the drop and reply counters
        // alone hid them from an operator reading the text; `--json` gives every counter.
        let interesting = status.counters.filter { $0.value != 0 }
        if !interesting.isEmpty {
            lines.append("")
            lines += aligned(
                [["COUNTER", "VALUE"]] + interesting.sorted(by: { $0.key < $1.key }).map { [$0.key, "\($0.value)"] })
        }
        return lines.joined(separator: "\n")
    }

    /// `text` for one cell of a table: every control character (line feeds and tabs too) and every bidirectional or
    /// line-layout control written as `\u{XX}`, so a cell can neither act on a terminal nor break the table's lines.
    static func cell(_ text: String) -> String {
        WireText.escaping(text) { $0.properties.generalCategory == .control || WireText.isLayoutControl($0) }
    }

    /// Rows padded into columns as wide as their widest cell, two spaces apart. A cell's control and layout characters
    /// are written as `\u{XX}` (``cell(_:)``): the table prints what a broker reported, and a worker id holding an
    /// escape sequence was printed raw to the terminal.
    static func aligned(_ rows: [[String]]) -> [String] {
        let rows = rows.map { $0.map(cell) }
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }.joined()
        }
    }
}
