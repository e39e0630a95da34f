import Foundation
import RecClient
import RecTransport
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

    /// SIGTERM under load left accepted requests with no reply at all (3 of 9 runs, 50–180 requests): the sockets closed
    /// with a linger of 0 as soon as nothing was outstanding, discarding replies libzmq had not sent yet (the control
    /// plane's last answers), and requests still in the frontend's queue were never read, so not even BUSY came back.
    @Test("SIGTERM under load: every request a client sent before it was told the broker is shutting down is answered")
    func everyRequestAnsweredAtShutdown() async throws {
        let folder = try TemporaryDirectory("broker-shutdown-load")
        defer { folder.remove() }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", folder.path + "/state", "--online"], workers: ["w1", "w2"]
        ) { cluster, client in
            try await eventually(timeoutMs: 30_000, pollMs: 100, "both replicas serve the policy") {
                let view = try await client.online()
                return view.replicas.count == 2 && view.replicas.allSatisfy { $0.version == view.version }
            }
            let broker = try #require(cluster.pid("broker"))
            let context = ZMQContext()
            let socket = try ZMQSocket(context, type: .dealer)
            defer { socket.close() }
            try socket.connect(cluster.endpoints.frontend)
            var outstanding: [UInt64: Command] = [:]
            var impressions: [(id: String, item: Int)] = []
            var next: UInt64 = 1
            var stopSending = false
            var signalled = false
            let started = Clocks.monotonicMicros()
            var lastReply = started
            var poller = ZMQPoller([PollItem(socket: socket)])
            while true {
                let now = Clocks.monotonicMicros()
                if !signalled && now - started > 1_500_000 {
                    kill(broker, SIGTERM)
                    signalled = true
                }
                if !stopSending && outstanding.count < 200 {
                    let header: Header
                    var payload: [[UInt8]] = []
                    switch next % 4 {
                    case 0:
                        header = Header(command: .status, requestId: next)
                    case 1:
                        header = Header(command: .control, requestId: next)
                        payload = [Array(#"{"op":"models"}"#.utf8)]
                    case 2 where !impressions.isEmpty:
                        let shown = impressions.removeLast()
                        header = Header(command: .feedback, requestId: next)
                        payload = [WireJSON.encode(FeedbackRequest(impressionId: shown.id, item: shown.item, click: 1))]
                    default:
                        header = Header(command: .recommend, requestId: next)
                        payload = [Array("{}".utf8)]
                    }
                    _ = try socket.send(WireMessage(header: header, payload: payload).frames())
                    outstanding[next] = header.command
                    next += 1
                } else if stopSending && (outstanding.isEmpty || now - lastReply > 8_000_000) {
                    break
                }
                try poller.poll(timeoutMilliseconds: stopSending || outstanding.count >= 200 ? 50 : 0)
                while let received = try socket.receive(dontWait: true) {
                    let reply = try WireMessage(decoding: received.frames)
                    lastReply = Clocks.monotonicMicros()
                    #expect(outstanding.removeValue(forKey: reply.header.requestId) != nil, "a reply to nothing sent")
                    if reply.header.status == .busy, reply.errorText?.contains("shutting down") == true {
                        stopSending = true
                    }
                    if reply.header.command == .recommend, reply.header.status == .ok,
                        let slate = try? WireJSON.decode(PolicyRecommendation.self, from: reply.frame(0)),
                        let first = slate.items.first
                    {
                        impressions.append((slate.impressionId, first.item))
                    }
                }
                if signalled && !stopSending && Clocks.monotonicMicros() - started > 30_000_000 { break }
            }
            #expect(stopSending, "no BUSY 'shutting down' came back")
            #expect(outstanding.isEmpty, "\(outstanding.count) requests got no reply: \(outstanding.values.map(\.name))")
            #expect(cluster.waitForExit("broker", timeoutMs: 20_000) == 0)
        }
    }
}
