import Logging
import RecTransport
import ServiceLifecycle

/// The worker as a swift-service-lifecycle `Service`: runs the session on a dedicated thread and,
/// on graceful shutdown, leaves the broker (DISCONNECT) after answering what it holds.
public struct WorkerService: Service {
    /// The session, for swapping models from other services.
    public let session: WorkerSession

    /// Creates the service.
    public init(session: WorkerSession) {
        self.session = session
    }

    public func run() async throws {
        let session = self.session
        let result = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await DedicatedThread.run(name: "worker-session") { session.run() }
            } onGracefulShutdown: {
                session.stop()
            }
        } onCancel: {
            session.stop()
        }
        try result.get()
    }
}
