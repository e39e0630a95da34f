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
    /// The security handshake with the broker failed (libzmq's socket monitor says how): every call waiting on
    /// that connection fails with it at once instead of timing out, and the client opens a new connection for
    /// its next call, at most once a second, so a key admitted later (SIGHUP) is used without a restart.
    case handshakeFailed(endpoint: String, HandshakeFailure)
    /// RECOMMEND was answered by another recommender than the online policy (`source` names it, such as
    /// `model` or `fallback`): the pool serves no online policy.
    case notAPolicyReply(source: String)

    public var description: String {
        switch self {
        case .timedOut(let id, let ms): "request \(id) timed out after \(ms) ms"
        case .server(let status, let message, let retry):
            // What the reply carried, escaped (a reply's text prints on a terminal), and said when it carried none: a
            // bare "BAD_REQUEST: " explained nothing.
            Self.serverText(status, message) + (retry > 0 ? " (retry after \(retry) ms)" : "")
        case .closed: "the client was closed"
        case .cancelled: "the request was cancelled"
        case .badEndpoint(let endpoint, let error): "cannot connect to \(endpoint): \(error.message)"
        case .protocolViolation(let error): "protocol violation in reply: \(error)"
        case .invalidRequest(let why): "invalid request: \(why)"
        case .handshakeFailed(let endpoint, let failure): failure.explanation(endpoint: endpoint)
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
        case .handshakeFailed: "HANDSHAKE"
        case .notAPolicyReply: "NOT_A_POLICY_REPLY"
        }
    }
}

/// Why a security handshake with the broker failed, as libzmq's socket monitor reports it
/// (`zmq_socket_monitor(3)`; the mechanisms are ZMTP 3.1's, RFC 23, and CURVE's, RFC 26; the refusal is ZAP's, RFC 27).
public enum HandshakeFailure: Sendable, Hashable {
    /// The broker's ZAP handler refused this client's key: `zapStatus` is ZAP's status code, 400 for a key on
    /// none of the allow-lists the endpoint admits. libzmq does not reconnect after it.
    case refused(zapStatus: UInt32)
    /// The handshake broke the ZMTP or CURVE protocol: `code` is a `ZMQ_PROTOCOL_ERROR_*` value, such as
    /// ``ZMQMonitorEvent/mechanismMismatch`` when only one side uses CURVE. libzmq does not reconnect after it.
    case protocolError(code: UInt32)
    /// The broker closed the connection during the handshake (`errno` is the error libzmq saw), as it does when
    /// it cannot open a CURVE HELLO: the client's `--curve-server-key` is not the broker's public key. libzmq
    /// keeps reconnecting; calls that time out meanwhile fail with this instead of a bare timeout.
    case closedDuringHandshake(errno: UInt32)
    /// The peer closed the connection during the ZMTP greeting of a client without CURVE (`errno` is the error libzmq
    /// saw): a CURVE broker does so when it sees the other mechanism first, and so does a port that is not a broker's
    /// (an HTTP server). Reported, as ``closedDuringHandshake(errno:)``, when a call's time runs out.
    case closedDuringGreeting(errno: UInt32)

    /// A sentence for an operator: what failed and the usual cause.
    func explanation(endpoint: String) -> String {
        switch self {
        case .refused(let status):
            "the broker at \(endpoint) refused this client's CURVE key (ZAP status \(status)): is its public key on "
                + "the broker's clients or trainers allow-list, and is --broker the broker's client (frontend) endpoint, "
                + "not its worker (backend) one? (the broker re-reads the lists on SIGHUP)"
        case .protocolError(ZMQMonitorEvent.mechanismMismatch):
            "the security handshake with \(endpoint) failed: only one side uses CURVE (give --curve-server-key and "
                + "--curve-key exactly when the broker has --curve-key)"
        case .protocolError(ZMQMonitorEvent.cryptographic):
            "the security handshake with \(endpoint) failed: a CURVE message did not open (is --curve-server-key "
                + "the broker's public key?)"
        case .protocolError(let code):
            "the security handshake with \(endpoint) failed: ZMTP protocol error 0x\(String(code, radix: 16))"
        case .closedDuringGreeting(let errno):
            "the peer at \(endpoint) closed the connection during the ZMTP handshake (errno \(errno)): it requires CURVE "
                + "(give --curve-server-key and --curve-key), or it is not a RecPool broker's frontend, or it stopped "
                + "during the handshake (killed or restarting: retry)"
        case .closedDuringHandshake(let errno):
            "the broker at \(endpoint) closed the connection during the security handshake (errno \(errno)): is "
                + "--curve-server-key the broker's public key?"
        }
    }
}

extension ClientError {
    /// `STATUS: message` for a reply's status and text: the text with its control characters escaped
    /// (``WireText/escapingControls(_:)``), or a note when the reply carried none.
    static func serverText(_ status: Status, _ message: String) -> String {
        message.isEmpty
            ? "\(status.name) (the reply carried no message)" : "\(status.name): \(WireText.escapingControls(message))"
    }
}
