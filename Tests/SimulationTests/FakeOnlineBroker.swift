import RecClient
import RecData
import RecPolicy
import RecTestKit
import RecTransport
import RecWire
import Synchronization

/// A ROUTER on loopback that answers the client side of online learning the way the broker does, from a
/// ``LearnerBackend``: RECOMMEND, FEEDBACK and the CONTROL operations `online_policy` and `impressions`.
/// It checks the client's frames against the protocol, not the broker's internals.
final class FakeOnlineBroker: Sendable {
    /// The bound endpoint.
    var endpoint: String { peer.endpoint }
    private let peer: FakeRouterPeer

    /// Binds to a free loopback port and serves `backend` on a thread of its own.
    init(backend: LearnerBackend, pageLimit: Int = 64) async throws {
        peer = try await FakeRouterPeer(name: "fake-online-broker") { frames in
            guard let headerFrame = frames.first, let header = try? Header(decoding: headerFrame) else { return nil }
            return FakeOnlineBroker.answer(header, Array(frames.dropFirst()), backend, pageLimit).frames()
        }
    }

    func shutdown() { peer.stop() }

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
                return ok([WireJSON.encode(install), PolicyWeights.pack(backend.initial).encoded()])
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

