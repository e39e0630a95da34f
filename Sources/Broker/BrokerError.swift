import RecStore
import Shared

/// Why the broker could not start or had to stop.
public enum BrokerError: Error, Sendable, CustomStringConvertible {
    /// A socket could not bind its endpoint.
    case bindFailed(endpoint: String, ZMQError)
    /// A ZeroMQ call failed unexpectedly while running.
    case socketFailed(ZMQError)
    /// The durable store could not be opened.
    case store(StoreError)

    public var description: String {
        switch self {
        case .bindFailed(let endpoint, let error): "cannot bind \(endpoint): \(error.message)"
        case .socketFailed(let error): "socket failure: \(error)"
        case .store(let error): "cannot open the state directory: \(error)"
        }
    }
}
