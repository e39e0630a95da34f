import Foundation
import RecClient
import RecWire
import Testing

/// What the daemons write to stderr: JSON lines whose request-level lines carry the request id.
@Suite("Request ids in the logs", .serialized)
struct LoggingTests {
    @Test("at debug, the broker logs each error reply as one JSON line with request_id and status")
    func errorReplyCarriesRequestId() async throws {
        let broker = Process()
        broker.executableURL = ProcessCluster.executable("recpool-broker")
        broker.arguments = [
            "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--no-worker-timeout-ms", "50",
            "--exit-with-parent", "--log-level", "debug", "--log-format", "json",
        ]
        let out = Pipe()
        let err = Pipe()
        broker.standardOutput = out
        broker.standardError = err
        try broker.run()
        defer { if broker.isRunning { kill(broker.processIdentifier, SIGKILL) } }
        var buffer = Data()
        while !buffer.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw ClusterError.brokerDidNotStart }
            buffer.append(chunk)
        }
        let endpoints = try WireJSON.decode(BrokerEndpoints.self, from: Array(buffer.prefix { $0 != 0x0A }))
        let client = try await RecPoolClient(endpoint: endpoints.frontend)
        // No worker: the broker answers NO_WORKER itself.
        await #expect(throws: ClientError.self) { _ = try await client.score(rows: [[1, 2, 3]]) }
        client.close()
        kill(broker.processIdentifier, SIGTERM)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        broker.waitUntilExit()
        #expect(broker.terminationStatus == 0)
        let lines = log.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let reply = lines.first { ($0["message"] as? String) == "request answered with an error" }
        #expect(reply != nil, "\(log)")
        #expect(UInt64(reply?["request_id"] as? String ?? "") != nil, "\(String(describing: reply))")
        #expect((reply?["status"] as? String)?.isEmpty == false)
    }
}

/// With `--log-format json` a start that failed wrote its reason as a plain text line (a key file, a model that does
/// not load), or a JSON line and the same reason again as text (a damaged state directory): a log shipper lost it.
@Suite("A failed start in JSON logs")
struct FailedStartLogTests {
    @Test("every stderr line of a daemon that cannot start is JSON, and the reason is one critical line")
    func failedStartIsJSON() throws {
        let temporary = try TemporaryDirectory("json-start")
        defer { temporary.remove() }
        let state = temporary.file("bad-state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: state + "/recpool.sqlite"))
        let ipc = "ipc://" + temporary.file("b.ipc").path
        let cases: [(String, [String], Int32, String)] = [
            ("recpool-broker", ["--curve-key", "/nonexistent/broker.key", "--frontend", "ipc://" + temporary.file("f.ipc").path,
                                "--backend", ipc], 66, "/nonexistent/broker.key"),
            ("recpool-worker", ["--model", "/nonexistent/m.ckpt", "--broker", ipc], 66, "cannot load model"),
            ("recpool-broker", ["--state-dir", state, "--frontend", "ipc://" + temporary.file("g.ipc").path,
                                "--backend", "ipc://" + temporary.file("h.ipc").path], 65, "damaged state directory"),
        ]
        for (tool, arguments, code, says) in cases {
            let run = try runTool(tool, arguments + ["--log-format", "json"])
            #expect(run.code == code, "\(tool) \(arguments): \(run.code) \(run.stderr)")
            let lines = run.stderr.split(separator: "\n")
            let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(!lines.isEmpty && objects.count == lines.count, "not JSON: \(run.stderr)")
            let reasons = objects.filter { $0["level"] as? String == "critical" && ($0["message"] as? String)?.contains(says) == true }
            #expect(reasons.count == 1, "\(tool): \(run.stderr)")
        }
    }
}
