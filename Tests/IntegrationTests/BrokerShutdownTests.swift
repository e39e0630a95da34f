import Foundation
import RecClient
import RecTestKit
import RecWire
import Testing

/// A broker stopped by SIGTERM answers every request it was handed, also those its control plane still held: a
/// CONTROL request waiting when the shutdown bound runs out is answered BUSY, never left without a reply.
@Suite("Broker shutdown and the control plane", .serialized)
struct BrokerShutdownTests {
    @Test(
        "SIGTERM while a catalogue upload waits for a replica's confirmation: the client gets BUSY, the broker exits 0",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func controlRequestAnsweredAtShutdown() async throws {
        let folder = try TemporaryDirectory("broker-shutdown")
        defer { folder.remove() }
        let schema = try CatalogueRegistryTests.schema(in: folder.path)
        // A 20 s heartbeat keeps the stopped replica live (60 s after it was last heard) past the time the upload
        // takes to be stored on a loaded machine plus the 5 s shutdown bound (a replica declared dead would leave
        // no one to confirm, and the upload would be answered as confirmed), and the upload waits up to a minute
        // for its confirmation: only the shutdown can end the wait.
        try await ProcessCluster.withPool(
            brokerArguments: [
                "--state-dir", folder.path + "/state", "--online", "--heartbeat-ms", "20000",
                "--catalogue-confirm-timeout-ms", "60000",
            ],
            workers: ["w1"]
        ) { cluster, client in
            let worker = try #require(cluster.pid("w1"))
            kill(worker, SIGSTOP)
            defer { kill(worker, SIGCONT) }
            let upload = Process()
            upload.executableURL = ProcessCluster.executable("recpool")
            upload.arguments = [
                "catalogue", "upload", "--schema", schema, "--broker", cluster.endpoints.frontend, "--timeout-ms",
                "60000",
            ]
            let stderr = Pipe()
            upload.standardError = stderr
            upload.standardOutput = Pipe()
            try upload.run()
            defer { if upload.isRunning { kill(upload.processIdentifier, SIGKILL) } }
            // The version is stored and sent; the upload now waits for the stopped replica.
            try await eventually(timeoutMs: 60_000, pollMs: 100, "the catalogue version is stored") {
                let list = try? await client.control(ControlRequest(op: "catalogues"), as: CatalogueList.self)
                return list?.catalogues.count == 1
            }
            #expect(upload.isRunning)
            #expect(cluster.kill("broker", signal: SIGTERM) == 0)
            let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            upload.waitUntilExit()
            #expect(upload.terminationStatus == 13, "\(text)")
            #expect(text.contains("BUSY") && text.contains("shut down before the control plane answered"), "\(text)")
        }
    }
}
