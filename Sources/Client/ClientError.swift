import RecTransport
import RecWire
/// Why a client call failed. Every failure is one of these; none is a bare string.
public enum ClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No reply arrived before the call's timeout (which was also sent to the broker as the deadline).
    case timedOut(requestId: UInt64, afterMs: UInt64)
    /// The broker or a worker answered with an error status.
    case server(status: Status, message: String, retryAfterMs: UInt32)
    /// The client was closed before the reply arrived.
    case closed
    /// The calling task was cancelled; a CANCEL was sent to the broker.
    case cancelled
    /// The endpoint could not be used.
    case badEndpoint(String, ZMQError)
    /// The reply violated the protocol.
    case protocolViolation(WireError)
    /// The request was refused before sending, such as an empty or ragged batch.
    case invalidRequest(String)
    /// RECOMMEND was answered by another recommender than the online policy (`source` names it, such as
    /// `model` or `fallback`): the pool serves no online policy.
    case notAPolicyReply(source: String)

    public var description: String {
        switch self {
        case .timedOut(let id, let ms): "request \(id) timed out after \(ms) ms"
        case .server(let status, let message, let retry):
            retry > 0 ? "\(status.name): \(message) (retry after \(retry) ms)" : "\(status.name): \(message)"
        case .closed: "the client was closed"
        case .cancelled: "the request was cancelled"
        case .badEndpoint(let endpoint, let error): "cannot connect to \(endpoint): \(error.message)"
        case .protocolViolation(let error): "protocol violation in reply: \(error)"
        case .invalidRequest(let why): "invalid request: \(why)"
        case .notAPolicyReply(let source):
            "the pool answered RECOMMEND from '\(source)', not an online policy (is the broker started with --online?)"
        }
    }

    /// The status that names this error on the wire, for counting errors by type.
    public var statusName: String {
        switch self {
        case .timedOut: "TIMEOUT"
        case .server(let status, _, _): status.name
        case .closed: "CLOSED"
        case .cancelled: "CANCELLED"
        case .badEndpoint: "BAD_ENDPOINT"
        case .protocolViolation: "PROTOCOL"
        case .invalidRequest: "INVALID_REQUEST"
        case .notAPolicyReply: "NOT_A_POLICY_REPLY"
        }
    }
}
