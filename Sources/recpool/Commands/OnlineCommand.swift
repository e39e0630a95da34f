import ArgumentParser
import Foundation
import RecClient
import RecTransport
import RecWire

/// `recpool online status|freeze|unfreeze|sync`: the broker's online learning.
struct OnlineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "online",
        abstract: "Inspect and steer online learning: status, freeze, unfreeze, sync.",
        subcommands: [
            OnlineStatusCommand.self, OnlineFreezeCommand.self, OnlineUnfreezeCommand.self, OnlineSyncCommand.self,
        ],
        defaultSubcommand: OnlineStatusCommand.self)
}

/// Options of every `recpool online` subcommand.
struct OnlineOutputOptions: ParsableArguments {
    @OptionGroup var connection: BrokerOptions

    @Flag(help: "Print the online view as one JSON object (keys as in docs/ONLINE.md).")
    var json = false

    /// Connects, runs one CONTROL call and prints the view it returns.
    func show(_ call: (RecPoolClient) async throws(ClientError) -> OnlineView) async throws {
        let client = try await connection.connect()
        defer { client.close() }
        let view = try await call(client)
        CommandOutput.printLine(json ? try JSONOutput.encode(view) : OnlineViewText.render(view))
    }
}

/// `recpool online status`.
struct OnlineStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the served policy version, syncs, the guard's last decision and replicas.")

    @OptionGroup var options: OnlineOutputOptions

    func run() async throws {
        try await reportingFailures {
            try await options.show { client throws(ClientError) in try await client.online() }
        }
    }
}

/// `recpool online freeze`.
struct OnlineFreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze",
        abstract: "Pause learning; replicas keep serving the current version.",
        discussion: "Feedback that arrives while frozen is stored and exported but never learnt, even after unfreeze "
            + "(counted in unlearnt_events). A freeze waits for a sync under way, so the command waits at least 150 s "
            + "for it, whatever --timeout-ms says.")

    @OptionGroup var options: OnlineOutputOptions

    func run() async throws {
        try await reportingFailures {
            try await options.show { client throws(ClientError) in try await client.onlineFreeze(timeoutMs: RecPoolClient.onlineSyncTimeout(requested: options.connection.timeoutOption)) }
        }
    }
}

/// `recpool online unfreeze`.
struct OnlineUnfreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unfreeze", abstract: "Resume learning.")

    @OptionGroup var options: OnlineOutputOptions

    func run() async throws {
        try await reportingFailures {
            try await options.show { client throws(ClientError) in try await client.onlineUnfreeze() }
        }
    }
}

/// `recpool online sync`.
struct OnlineSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Sync now: merge the replicas' learning, run the guard, and serve the result if it passes.",
        discussion: """
            A sync pulls every replica (waiting up to 12 sync timeouts for a live replica behind on learning) and \
            judges the candidate on the logged impressions, so the command waits at least 150 s for it, whatever \
            --timeout-ms says (a shorter wait would report a sync the broker goes on to finish as a failure); a \
            broker with a longer --online-sync-timeout-ms needs a longer --timeout-ms.
            """)

    @OptionGroup var options: OnlineOutputOptions

    @Option(
        help: ArgumentHelp(
            "Fault injection: `noise` replaces the averaged candidate, to see the guard reject it (only with "
                + "recpool-broker --allow-fault-injection; docs/ONLINE.md)."))
    var corrupt: String?

    func validate() throws {
        if let corrupt, corrupt != "noise" { throw ValidationError("--corrupt: only `noise` is known, got \(corrupt)") }
    }

    func run() async throws {
        try await reportingFailures {
            try await options.show { client throws(ClientError) in
                try await client.onlineSync(
                    corrupt: corrupt, timeoutMs: RecPoolClient.onlineSyncTimeout(requested: options.connection.timeoutOption))
            }
        }
    }
}

/// Renders an ``OnlineView`` as text.
enum OnlineViewText {
    /// When the next sync runs: none while learning is frozen (it waits for `unfreeze`); once feedback is pending, and
    /// then after the interval or the event count.
    static func nextSync(_ view: OnlineView) -> String {
        // While frozen the replicas hold their events (`pending_events` reads 0): they go out after an unfreeze.
        if view.frozen { return "none while frozen (the replicas hold their feedback until `recpool online unfreeze`)" }
        // A sync starts only once feedback is pending: with none, "next after 3000 ms" read as a stalled timer.
        return (view.pendingEvents == 0 ? "once feedback arrives, then " : "")
            + "after "
            + (view.syncIntervalMs > 0 ? "\(view.syncIntervalMs) ms or " : "")  // 0: no sync by time
            + "\(view.syncEvents) event\(view.syncEvents == 1 ? "" : "s") (\(view.pendingEvents) pending)"
    }

    static func render(_ view: OnlineView, nowMs: UInt64 = Clocks.epochMillis()) -> String {
        guard view.enabled else { return "online learning is not enabled (start recpool-broker with --online)" }
        let hash = String(view.weightsSha256.prefix(12))
        let lastSync =
            view.lastSyncMs == 0
            ? "none since the broker started"
            : nowMs >= view.lastSyncMs
                ? String(format: "%.1f s ago", Double(nowMs - view.lastSyncMs) / 1000)
                // The broker's clock is ahead of this host's: the difference would wrap to 1.8e16 s.
                : String(format: "%.1f s ahead of this host's clock (the clocks differ)", Double(view.lastSyncMs - nowMs) / 1000)
        var lines = [
            "online learning \(view.frozen ? "FROZEN (serving, not learning)" : "on"), version \(view.version), weights \(hash)…, "
                + (view.catalogueVersion.map { "catalogue version \($0)" } ?? "the simulator world's catalogue"),
            "syncs \(view.syncs) accepted, \(view.rejected) rejected, \(view.emptySyncs) with nothing to merge; last sync "
                + "\(lastSync); next "
                + Self.nextSync(view),
            // The duplicates are counted by this broker process; impressions and feedback are the store's.
            "impressions \(view.impressions), feedback \(view.feedback) (duplicates since the broker started "
                + "\(view.duplicates)"
                + (view.unlearntEvents > 0 ? ", \(view.unlearntEvents) consumed without being learnt" : "") + ")",
        ]
        if let decision = view.lastDecision { lines.append("last guard decision: \(decision.reason)") }
        if view.replicas.isEmpty {
            lines.append("no replica serves the policy yet")
        } else {
            lines.append("REPLICA               VERSION  WEIGHTS")
            for replica in view.replicas.sorted(by: { $0.worker < $1.worker }) {
                // Only an older version is behind: the same number with other weights, or a newer one (another
                // lineage), is named as what it is.
                let state =
                    replica.version == view.version
                    ? (replica.weightsSha256 == view.weightsSha256 ? "in sync" : "other weights")
                    : (replica.version < view.version ? "behind" : "ahead (not this broker's version)")
                lines.append(
                    replica.worker.padding(toLength: max(22, replica.worker.count + 1), withPad: " ", startingAt: 0)
                        + "\(replica.version)".padding(toLength: 9, withPad: " ", startingAt: 0)
                        + "\(replica.weightsSha256.prefix(12))…  \(state)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
