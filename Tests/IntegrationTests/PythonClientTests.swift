import Foundation
import Testing

/// A client written in Python from docs/PROTOCOL.md alone talks to a live broker.
@Suite("Protocol from another language", .serialized)
struct PythonClientTests {
    static let python = ProcessInfo.processInfo.environment["RECPOOL_PYTHON"]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Python/protocol_client.py").path

    @Test(
        "a pyzmq client built from the spec scores, gets typed errors and reads the status",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON (scripts/test sets it up with pyzmq)"))
    func pythonClient() async throws {
        try await ProcessCluster.withPool(workers: ["w1"], workerArguments: ["--input-width", "5"]) { cluster, client in

            let process = Process()
            process.executableURL = URL(fileURLWithPath: try #require(Self.python))
            process.arguments = [Self.script, cluster.endpoints.frontend, "5"]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let output = out.fileHandleForReading.readDataToEndOfFile()
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(errors)")
            let seen = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
            #expect((seen["scores"] as? [Double])?.count == 2)
            #expect(seen["workers"] as? Int == 1)
            #expect((seen["wrong_width_error"] as? String)?.contains("expects 5") == true)
        }
    }
}
