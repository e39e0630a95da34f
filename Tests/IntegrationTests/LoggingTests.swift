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
