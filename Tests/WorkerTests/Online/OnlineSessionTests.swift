import Logging
import RecData
import RecPolicy
import RecTransport
import RecWire
import Testing

@testable import Worker

/// A broker stand-in: a ROUTER on a loopback port that a test script drives from a dedicated thread.
private struct ScriptedBroker {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let socket: ZMQSocket
    var worker: [UInt8] = []

    /// The next message of `command` from the worker (heartbeats and others are skipped), within 30 s.
    mutating func next(_ command: Command) throws -> (header: Header, payload: [[UInt8]]) {
        var poller = ZMQPoller([PollItem(socket: socket)])
        let giveUp = Clocks.monotonicMicros() + 30_000_000
        while Clocks.monotonicMicros() < giveUp {
            try poller.poll(timeoutMilliseconds: 100)
            while let message = try socket.receive(dontWait: true) {
                let header = try Header(decoding: message.frames[1])
                worker = message.frames[0]
                if header.command == command { return (header, Array(message.frames.dropFirst(2))) }
            }
        }
        throw Failure(description: "no \(command.name) from the worker")
    }

    func send(_ header: Header, _ payload: [[UInt8]]) throws {
        _ = try socket.send(to: worker, [header.encoded()] + payload)
    }
}

/// What the worker answered, for the assertions.
private struct Exchange: Sendable {
    var services: [String] = []
    var installed: PolicyStateReport?
    var recommendHeader: Header?
    var recommendFrames = 0
    var recommendation: PolicyRecommendation?
    var record: ImpressionRecord?
    var sync: (header: Header, report: PolicyStateReport, pack: ParameterPack)?
}

@Suite("A worker session speaking the online-learning protocol to a broker")
struct OnlineSessionTests {
    @Test("READY offers POLICY; POLICY, RECOMMEND, LEARN and POLICY_PULL are answered as the design says")
    func onlineRoundTrip() async throws {
        let spec = onlineSpec(updateEvery: 4)
        let policyPayload = try policyPayload(spec: spec, version: 1)
        let events = learnEvents(8, spec: spec)
        let user = onlineUser(1, spec: spec)

        let result: Result<Exchange, ScriptedBroker.Failure> = await DedicatedThread.run(name: "fake-broker") {
            let context = ZMQContext()
            defer { context.shutdown() }
            do {
                let router = try ZMQSocket(context, type: .router)
                defer { router.close() }
                try router.set(.linger(milliseconds: 0))
                try router.bind("tcp://127.0.0.1:*")
                var configuration = WorkerConfiguration(broker: try router.lastEndpoint(), workerId: "online-test")
                configuration.heartbeatIntervalMs = 60_000
                let session = WorkerSession(
                    configuration: configuration, replica: .seeded(inputWidth: 4, seed: 1),
                    logger: Logger(label: "online-test"))
                let ended = WakeupSignal()
                DedicatedThread.start(name: "worker-session-test") {
                    _ = session.run()
                    ended.signal()
                }
                defer {
                    session.stop()
                    var poller = ZMQPoller([PollItem(fileDescriptor: ended.fileDescriptor)])
                    _ = try? poller.poll(timeoutMilliseconds: 30_000)
                }

                var broker = ScriptedBroker(socket: router)
                var exchange = Exchange()
                let ready = try broker.next(.ready)
                exchange.services = try WireJSON.decode(WorkerHello.self, from: ready.payload[0]).services

                try broker.send(Header(command: .policy, modelVersion: 1), policyPayload)
                let installed = try broker.next(.policyState)
                exchange.installed = try WireJSON.decode(PolicyStateReport.self, from: installed.payload[0])

                let query = RecommendQuery(userFeatures: user, top: 3)
                try broker.send(Header(command: .recommend, requestId: 5, attempt: 1), [WireJSON.encode(query)])
                let reply = try broker.next(.recommend)
                exchange.recommendHeader = reply.header
                exchange.recommendFrames = reply.payload.count
                exchange.recommendation = try WireJSON.decode(PolicyRecommendation.self, from: reply.payload[0])
                exchange.record = try WireJSON.decode(ImpressionRecord.self, from: reply.payload[1])

                try broker.send(Header(command: .learn), [WireJSON.encode(LearnBatch(events: events))])
                try broker.send(Header(command: .policyPull, requestId: 42), [])
                let sync = try broker.next(.policyState)
                exchange.sync = (
                    sync.header, try WireJSON.decode(PolicyStateReport.self, from: sync.payload[0]),
                    try wholePack(
                        sync.payload[1],
                        base: InstalledBase(
                            version: 1, sha256: exchange.installed?.weightsSha256 ?? "",
                            pack: PolicyWeights.pack(try OnlinePolicy.initial(spec: spec))))
                )
                return .success(exchange)
            } catch let failure as ScriptedBroker.Failure {
                return .failure(failure)
            } catch {
                return .failure(ScriptedBroker.Failure(description: "\(error)"))
            }
        }
        let exchange = try result.get()

        #expect(Set(["SCORE", "RECOMMEND", "POLICY"]).isSubset(of: Set(exchange.services)))
        let installed = try #require(exchange.installed)
        #expect(installed.kind == .installed && installed.version == 1)
        #expect(installed.weightsSha256 == PolicyWeights.sha256(try OnlinePolicy.initial(spec: spec)))

        let header = try #require(exchange.recommendHeader)
        #expect(header.isReply && header.status == .ok && header.requestId == 5 && header.modelVersion == 1)
        #expect(exchange.recommendFrames == 2)
        let recommendation = try #require(exchange.recommendation)
        let record = try #require(exchange.record)
        #expect(recommendation.items.count == 3)
        #expect(record.problem == nil && record.impressionId == recommendation.impressionId)
        #expect(record.slate == recommendation.items.map(\.item) && record.userFeatures == user)

        let sync = try #require(exchange.sync)
        #expect(sync.header.command == .policyState && sync.header.requestId == 42 && sync.header.status == .ok)
        #expect(sync.report.kind == .sync && sync.report.sync == 42 && sync.report.version == 1)
        #expect(sync.report.events == 8 && sync.report.updates == 2)
        #expect(sync.report.weightsSha256 == PolicyWeights.sha256(of: sync.pack.encoded()))
        #expect(sync.report.weightsSha256 != installed.weightsSha256)
    }
}
