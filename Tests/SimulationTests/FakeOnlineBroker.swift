import RecClient
import RecData
import RecPolicy
import RecTransport
import RecWire
import Synchronization

/// A ROUTER on loopback that answers the client side of online learning the way the broker does, from a
/// ``LearnerBackend``: RECOMMEND, FEEDBACK and the CONTROL operations `online_policy` and `impressions`.
/// It checks the client's frames against the protocol, not the broker's internals.
final class FakeOnlineBroker: Sendable {
    let endpoint: String
    private let stop = StopSignal()

    /// Binds to a free loopback port and serves `backend` on a thread of its own.
    init(backend: LearnerBackend, pageLimit: Int = 64) async throws {
        let context = ZMQContext()
        let stop = self.stop
        let bound: Result<String, ZMQError> = await withCheckedContinuation { continuation in
            DedicatedThread.start(name: "fake-online-broker") {
                let socket: ZMQSocket
                do throws(ZMQError) {
                    socket = try ZMQSocket(context, type: .router)
                    try socket.set(.linger(milliseconds: 0))
                    try socket.bind("tcp://127.0.0.1:*")
                    continuation.resume(returning: .success(try socket.lastEndpoint()))
                } catch {
                    continuation.resume(returning: .failure(error))
                    return
                }
                var poller = ZMQPoller([PollItem(socket: socket)])
                while !stop.flag.load(ordering: .acquiring) {
                    _ = try? poller.poll(timeoutMilliseconds: 10)
                    while let message = try? socket.receive(dontWait: true) {
                        let frames = message.frames
                        guard frames.count >= 2, let header = try? Header(decoding: frames[1]) else { continue }
                        let reply = Self.answer(header, Array(frames.dropFirst(2)), backend, pageLimit)
                        _ = try? socket.send(to: frames[0], reply.frames())
                    }
                }
                socket.close()
                context.shutdown()
            }
        }
        endpoint = try bound.get()
    }

    func shutdown() { stop.flag.store(true, ordering: .releasing) }

    private static func answer(_ header: Header, _ payload: [[UInt8]], _ backend: LearnerBackend, _ pageLimit: Int)
        -> WireMessage
    {
        func refuse(_ error: ClientError) -> WireMessage {
            guard case .server(let status, let message, _) = error else {
                return .errorReply(to: header, status: .internal, message: "\(error)")
            }
            return .errorReply(to: header, status: status, message: message)
        }
        func ok(_ frames: [[UInt8]], version: UInt64 = 0) -> WireMessage {
            WireMessage(header: header.reply(status: .ok, modelVersion: version), payload: frames)
        }
        guard let document = payload.first else {
            return .errorReply(to: header, status: .badRequest, message: "missing document")
        }
        switch header.command {
        case .recommend:
            guard let query = try? WireJSON.decode(RecommendQuery.self, from: document) else {
                return .errorReply(to: header, status: .badRequest, message: "bad query")
            }
            switch backend.handleRecommend(query) {
            case .success(let slate): return ok([WireJSON.encode(slate)], version: slate.modelVersion)
            case .failure(let error): return refuse(error)
            }
        case .feedback:
            guard let request = try? WireJSON.decode(FeedbackRequest.self, from: document) else {
                return .errorReply(to: header, status: .badRequest, message: "bad feedback")
            }
            switch backend.handleFeedback(request) {
            case .success(let reply): return ok([WireJSON.encode(reply)])
            case .failure(let error): return refuse(error)
            }
        case .control:
            guard let request = try? WireJSON.decode(ControlRequest.self, from: document) else {
                return .errorReply(to: header, status: .badRequest, message: "bad control request")
            }
            switch request.operation {
            case .onlinePolicy?:
                let install = PolicyInstall(version: 1, spec: backend.spec, learningEnabled: true)
                return ok([WireJSON.encode(install), PolicyWeights.pack(backend.initial.network).encoded()])
            case .impressions?:
                let after = request.after ?? 0
                let limit = min(request.limit ?? pageLimit, pageLimit)
                let rest = backend.impressions.filter { $0.seq > after }
                let page = Array(rest.prefix(limit))
                let next = rest.count > limit ? page.last?.seq : nil
                return ok([WireJSON.encode(ImpressionPage(impressions: page, nextAfter: next, spec: backend.spec))])
            default:
                return .errorReply(to: header, status: .badRequest, message: "unknown op \(request.op)")
            }
        default:
            return .errorReply(
                to: header, status: .badRequest, message: "\(header.command.name) is not a client command")
        }
    }
}

/// The stop flag the test and the fake's thread share.
final class StopSignal: Sendable {
    let flag = Atomic<Bool>(false)
}
