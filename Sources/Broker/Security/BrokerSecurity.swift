import BrokerCore
import RecTransport

/// The broker's CurveZMQ configuration: its own key pair and who may connect as what.
public struct BrokerSecurity: Sendable {
    /// The broker's long-term key pair; both ROUTER sockets are CURVE servers with it.
    public var keyPair: CurveKeyPair
    /// Public keys (Z85) allowed on the frontend as clients.
    public var clients: Set<String>
    /// Public keys allowed on the frontend as trainers.
    public var trainers: Set<String>
    /// Public keys allowed on the backend as workers.
    public var workers: Set<String>

    /// The ZAP domain of the frontend socket.
    public static let frontendDomain = "recpool-frontend"
    /// The ZAP domain of the backend socket.
    public static let backendDomain = "recpool-backend"

    /// Creates a configuration.
    public init(keyPair: CurveKeyPair, clients: Set<String>, trainers: Set<String>, workers: Set<String>) {
        self.keyPair = keyPair
        self.clients = clients
        self.trainers = trainers
        self.workers = workers
    }

    /// The role a peer with `publicKey` gets in `domain`, or `nil` to refuse it (ZAP status 400).
    /// On the backend only worker keys are admitted; on the frontend trainer keys win over client keys.
    public func role(domain: String, publicKey: String) -> PeerRole? {
        switch domain {
        case Self.backendDomain:
            workers.contains(publicKey) ? .worker : nil
        case Self.frontendDomain:
            trainers.contains(publicKey) ? .trainer : clients.contains(publicKey) ? .client : nil
        default:
            nil
        }
    }
}
