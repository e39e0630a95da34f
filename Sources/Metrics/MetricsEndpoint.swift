import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// Serves the process's metrics in the Prometheus text format at `GET /metrics`.
///
/// ``bootstrap()`` installs swift-prometheus as the swift-metrics backend, so every `Counter`,
/// `Gauge`, `Recorder` and `Timer` the broker or worker creates lands in one registry; this service
/// exposes it over HTTP (Hummingbird, on SwiftNIO's event loops) until graceful shutdown.
///
/// HTTP requests are parsed by SwiftNIO's parser on its own event-loop threads, in time linear in their size and
/// with its header limits: a client sending a huge header never occupies Swift's cooperative threads, which run the
/// process's signal handling (the server it replaced parsed headers there, in quadratic time: two requests with
/// 100 KB headers held both threads of a 2-core machine and SIGTERM went unanswered).
public struct MetricsEndpoint: Service {
    /// Why the endpoint could not start.
    public enum EndpointError: Error, CustomStringConvertible {
        /// The `--metrics` value is not `IPV4:PORT`, `localhost:PORT` or `[IPV6]:PORT` (a host name other than
        /// `localhost` is refused here, not resolved when the server binds: that would be exit 69, "worth
        /// restarting", for a configuration mistake).
        case badAddress(String)
        /// The HTTP server could not bind its address, or failed while serving.
        case serveFailed(address: String, reason: String)

        public var description: String {
            switch self {
            case .badAddress(let text):
                "--metrics takes IPV4:PORT, localhost:PORT or [IPV6]:PORT, such as 127.0.0.1:9100 (a host name is not "
                    + "resolved); got \(text)"
            case .serveFailed(let address, let reason): "metrics endpoint \(address): \(reason)"
            }
        }
    }

    private let registry: PrometheusCollectorRegistry
    private let host: String
    private let port: UInt16
    private let logger: Logger
    /// Settled `true` once the HTTP socket is bound, `false` when the endpoint stops without having bound it.
    public let listening = ListeningSignal()
    /// When set, the endpoint binds only once this settles `true`, and returns without binding when it settles
    /// `false` (or the group shuts down first): the broker opens its metrics port only after its state directory
    /// passed its checks and its endpoints bound, so a start refused for damaged state (exit 65) or a held directory
    /// (exit 73) never listens on it, nor logs a server it cancels at once.
    public var startGate: ListeningSignal? = nil

    /// Installs the Prometheus backend for swift-metrics. Call once per process, before creating metrics.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Creates the endpoint for `address`: `IPV4:PORT`, `localhost:PORT` (127.0.0.1, as for the
    /// ZeroMQ endpoints) or `[IPV6]:PORT` such as `[::1]:9100`.
    /// - Throws: ``EndpointError/badAddress(_:)`` when the address does not parse.
    public init(address: String, registry: PrometheusCollectorRegistry, logger: Logger) throws {
        guard let (host, port) = Self.parse(address) else { throw EndpointError.badAddress(address) }
        self.host = host
        self.port = port
        self.registry = registry
        self.logger = logger
    }

    /// Why `address` cannot be a `--metrics` address, or nil: the check a start makes, for a command's `validate()`
    /// (so that `--print-config` refuses what a start would).
    public static func addressProblem(_ address: String) -> String? {
        parse(address) == nil ? EndpointError.badAddress(address).description : nil
    }

    /// The host (an address literal; `localhost` is 127.0.0.1) and port of `IPV4:PORT`, `localhost:PORT` or
    /// `[IPV6]:PORT`, or nil.
    static func parse(_ address: String) -> (host: String, port: UInt16)? {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...])
        else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil  // an IPv6 address needs brackets: [::1]:9100
        }
        if host.lowercased() == "localhost" { host = "127.0.0.1" }
        guard isAddressLiteral(host) else { return nil }
        return (host, port)
    }

    /// Whether `host` is an IPv4 or IPv6 address as text (`inet_pton`), not a name to resolve.
    static func isAddressLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    public func run() async throws {
        if let startGate {
            let open = await withGracefulShutdownHandler {
                await withTaskCancellationHandler {
                    await startGate.wait()
                } onCancel: {
                    startGate.settle(false)
                }
            } onGracefulShutdown: {
                startGate.settle(false)
            }
            guard open else {
                listening.settle(false)
                return
            }
        }
        let registry = self.registry
        let router = Router()
        // The exposition, for GET and for HEAD, which is served wherever GET is (RFC 9110, 9.3.2): the server sends no
        // body after a HEAD's headers, and its Content-Length is the one GET's body has (an empty body here was
        // answered `Content-Length: 0`). The HTTP server can bind before the broker's reactor or the worker's session
        // has created its metrics: an empty 200 would read as "this process has no metrics". Say "not yet" instead, so
        // a scraper retries rather than records an empty target.
        @Sendable func exposition() -> Response {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            let exposition = registry.emitToBuffer()
            guard !exposition.isEmpty else {
                return Response(
                    status: .serviceUnavailable, headers: headers,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "metrics not yet published\n")))
            }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: exposition)))
        }
        router.get("metrics") { _, _ -> Response in exposition() }
        router.head("metrics") { _, _ -> Response in exposition() }
        // Another method on the path is 405 with the methods it takes (RFC 9110, 15.5.6), never a 404 that says the
        // path is wrong.
        for method in [HTTPRequest.Method.post, .put, .delete, .patch, .options] {
            router.on("metrics", method: method) { _, _ -> Response in
                var headers = HTTPFields()
                headers[.allow] = "GET, HEAD"
                return Response(status: .methodNotAllowed, headers: headers)
            }
        }
        // An IPv6 host in brackets (`[::1]:9090`): `::1:9090` cannot be read back into address and port.
        @Sendable func address(_ port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
        // Said once the socket is bound, never before: an address in use must not be logged as listening.
        let application = Application(
            router: router,
            // A scraper that keeps its connection open and idle (an HTTP/1.0 client, which Hummingbird does not close
            // after the response) holds it for 30 s at most.
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: Int(port)), serverName: nil),
            onServerRunning: { [logger, listening] channel in
                // The port bound: the system's choice for port 0, which the log said was 0.
                let bound = channel.localAddress?.port ?? Int(port) ?? 0
                logger.info("metrics endpoint listening", metadata: ["address": "\(address(bound))"])
                listening.settle(true)
            },
            logger: logger)
        defer { listening.settle(false) }  // no effect once it listened
        do {
            // Hummingbird's application is a ServiceLifecycle service: it stops serving on this task's graceful
            // shutdown.
            try await application.run()
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled || error is CancellationError { return }
            // NIO's error names its own call (`bind(descriptor:ptr:bytes:): … (errno: 98)`): say what failed instead.
            if let io = error as? IOError {
                throw EndpointError.serveFailed(
                    address: address(Int(port)),
                    reason: "cannot listen there: \(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))")
            }
            throw EndpointError.serveFailed(address: address(Int(port)), reason: "\(error)")
        }
    }
}
