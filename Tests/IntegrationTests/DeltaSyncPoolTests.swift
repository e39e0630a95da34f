import Crypto
import Foundation
import RecClient
import RecTransport
import RecWire
import Testing

/// The `key=value` fields of the log lines of `file` that contain `message`.
private func logFields(_ file: URL, _ message: String) -> [[String: String]] {
    let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").filter { $0.contains(message) }.map { line in
        var fields: [String: String] = [:]
        for token in line.split(separator: " ") {
            let parts = token.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }
}

/// Weight syncs over real broker and worker processes ship statistics deltas both ways.
@Suite("Online weight sync by deltas over the pool", .serialized)
struct DeltaSyncPoolTests {
    @Test("after several syncs both replicas hold the stored weights, syncs were deltas, a restarted replica got one whole pack")
    func syncsAreDeltas() async throws {
        let folder = try TemporaryDirectory("online-delta")
        defer { folder.remove() }
        let state = folder.path + "/state"
        try await ProcessCluster.with { cluster in
            try cluster.startBroker(
                extra: ["--state-dir", state, "--online", "--online-sync-interval-ms", "300"] + OnlinePoolTests.guardAcceptsAll)
            var logs: [String: URL] = [:]
            for name in ["a", "b"] {
                let log = folder.file("\(name).log")
                logs[name] = log
                cluster.workerLogs[name] = log
                try cluster.startWorker(
                    name,
                    arguments: [
                        "--broker", cluster.endpoints.backend, "--id", name, "--exit-with-parent", "--log-level",
                        "info",
                    ])
            }
            let client = try await cluster.client()
            defer { client.close() }
            let first = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 2) }
            var driver = OnlineDriver(client: client, seed: 11)
            var version = first.version
            for _ in 0..<3 {
                try await driver.users(100)
                let view = try await OnlinePoolTests.waitForOnline(client, timeoutMs: 60_000) {
                    $0.version > version && OnlinePoolTests.converged($0, replicas: 2)
                }
                version = view.version
            }
            // A fresh snapshot may land mid-sync (the broker holds a version its replicas have not installed yet),
            // so wait for a converged one rather than read once.
            let view = try await OnlinePoolTests.waitForOnline(client, timeoutMs: 60_000) {
                OnlinePoolTests.converged($0, replicas: 2)
            }
            #expect(view.version >= 4)
            // The broker's stored version is the blob named by that SHA-256, and its bytes hash to it.
            let blob = try [UInt8](Data(contentsOf: URL(fileURLWithPath: state + "/blobs/" + view.weightsSha256)))
            let digest = SHA256.hash(data: blob).map { String(format: "%02x", $0) }.joined()
            #expect(digest == view.weightsSha256)
            #expect(view.replicas.allSatisfy { $0.weightsSha256 == digest })

            for (name, log) in logs.sorted(by: { $0.key < $1.key }) {
                Self.expectDeltas(log, name, after: first.version, installs: 3)
            }

            // A restarted replica holds nothing: it gets the served version whole, then deltas again.
            _ = cluster.kill("b", signal: SIGKILL)
            let restarted = folder.file("b-restarted.log")
            cluster.workerLogs["b"] = restarted
            try cluster.startWorker(
                "b",
                arguments: [
                    "--broker", cluster.endpoints.backend, "--id", "b", "--exit-with-parent", "--log-level", "info",
                ])
            let rejoined = try await OnlinePoolTests.waitForOnline(client) {
                OnlinePoolTests.converged($0, replicas: 2)
            }
            version = rejoined.version
            // Until the restarted replica has answered a sync with events of its own (it must serve some users).
            for _ in 0..<8 {
                try await driver.users(50)
                if logFields(restarted, "answered online sync").contains(where: { $0["events"] != "0" }) { break }
            }
            // Its first POLICY is whole. A POLICY the broker sends before it has the replica's `installed` report
            // (the replica joined during a sync) is whole too; from the first delta on, every POLICY is a delta.
            try await eventually(timeoutMs: 60_000, pollMs: 100, "the restarted replica installs a delta") {
                logFields(restarted, "installed online policy").contains { $0["pack_form"] == "delta" }
            }
            let after = try await OnlinePoolTests.waitForOnline(client, timeoutMs: 60_000) {
                $0.version > version && OnlinePoolTests.converged($0, replicas: 2)
            }
            #expect(after.replicas.allSatisfy { $0.weightsSha256 == after.weightsSha256 })
            let installs = logFields(restarted, "installed online policy")
            #expect(installs.first?["pack_form"] == "full", "\(installs)")
            let fromDelta = installs.drop { $0["pack_form"] != "delta" }
            #expect(!fromDelta.isEmpty && fromDelta.allSatisfy { $0["pack_form"] == "delta" }, "\(installs)")
            Self.expectDeltas(restarted, "b (restarted)", after: .max, installs: 0)
        }
    }

    /// Expects the worker log `log` to show: a first install whole, at least `installs` installs of versions after
    /// `after`, each a delta of fewer than all 1,024 bucket rows and under half the whole pack's bytes, and every
    /// sync answer with events a delta under half the whole pack's bytes.
    static func expectDeltas(_ log: URL, _ name: String, after: UInt64, installs minimum: Int) {
        let installs = logFields(log, "installed online policy")
        let later = installs.filter { (UInt64($0["policy_version"] ?? "") ?? 0) > after }
        #expect(installs.first?["pack_form"] == "full", "\(name): \(installs)")
        #expect(later.count >= minimum, "\(name): \(installs)")
        let whole = Int(installs.first?["pack_bytes"] ?? "") ?? 0
        for install in later {
            #expect(install["pack_form"] == "delta", "\(name): \(install)")
            let rows = Int(install["delta_rows"] ?? "") ?? -1
            #expect(rows >= 0 && rows < 1_024, "\(name): \(install)")
            let bytes = Int(install["pack_bytes"] ?? "") ?? .max
            #expect(bytes < whole / 2, "\(name): \(install)")
        }
        let syncs = logFields(log, "answered online sync").filter { $0["events"] != "0" }
        #expect(!syncs.isEmpty, "\(name): no sync answered with events")
        for sync in syncs {
            #expect(sync["pack_form"] == "delta", "\(name): \(sync)")
            let bytes = Int(sync["state_bytes"] ?? "") ?? .max
            #expect(bytes < whole / 2, "\(name): \(sync)")
        }
    }
}
