import Logging
import RecTransport
import RecWire
import ServiceLifecycle

/// The broker as a swift-service-lifecycle `Service`: it runs the reactor on a dedicated thread and
/// stops it on graceful shutdown (SIGTERM or SIGINT through the `ServiceGroup`).
public struct BrokerService: Service {
    private let reactor: BrokerReactor
    private let onBound: @Sendable (Result<BrokerEndpoints, BrokerError>) -> Void

    /// Creates the service.
    /// - Parameters:
    ///   - context: the ZeroMQ context (see ``BrokerReactor/init(settings:logger:context:)``).
    ///   - onBound: called once with the bound endpoints, or with the bind error.
    public init(
        settings: BrokerReactor.Settings, logger: Logger, context: ZMQContext = ZMQContext(),
        onBound: @escaping @Sendable (Result<BrokerEndpoints, BrokerError>) -> Void
    ) {
        reactor = BrokerReactor(settings: settings, logger: logger, context: context)
        self.onBound = onBound
    }

    /// Replaces the allow-lists of the running broker; see ``BrokerReactor/replaceAllowLists(_:)``.
    /// - Returns: how many admitted peers the new lists no longer allow, or `nil` without CURVE.
    public func replaceAllowLists(_ lists: AllowLists) -> Int? { reactor.replaceAllowLists(lists) }

    public func run() async throws {
        let reactor = self.reactor
        let onBound = self.onBound
        let result = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await DedicatedThread.run(name: "broker-reactor") { reactor.run(onBound: onBound) }
            } onGracefulShutdown: {
                reactor.stop()
            }
        } onCancel: {
            reactor.stop()
        }
        try result.get()
    }
}
