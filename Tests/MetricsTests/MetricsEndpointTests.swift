import Foundation
import Logging
import Prometheus
import RecMetrics
import RecTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `GET /metrics` on a real socket: never an empty 200.
@Suite("Metrics endpoint")
struct MetricsEndpointTests {
    /// A TCP port on 127.0.0.1 that is free now (RecTestKit).
    static func freePort() -> UInt16 { freeLoopbackPort() }

    /// The status and body of `GET /metrics`, retried until the server answers (it binds as the task starts).
    static func get(_ port: UInt16) async throws -> (Int, String) {
        let url = URL(string: "http://127.0.0.1:\(port)/metrics")!
        for _ in 0..<150 {
            if let (data, response) = try? await URLSession.shared.data(from: url),
                let http = response as? HTTPURLResponse
            {
                return (http.statusCode, String(decoding: data, as: UTF8.self))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CancellationError()
    }

    @Test("before the process has created a metric the endpoint answers 503, not an empty 200; then the exposition")
    func notYetPublished() async throws {
        let registry = PrometheusCollectorRegistry()
        let port = Self.freePort()
        let endpoint = try MetricsEndpoint(
            address: "127.0.0.1:\(port)", registry: registry, logger: Logger(label: "test"))
        let server = Task { try await endpoint.run() }
        defer { server.cancel() }

        let (before, body) = try await Self.get(port)
        #expect(before == 503)
        #expect(body.contains("not yet published"))

        registry.makeGauge(name: "recpool_test_gauge").set(to: 3)
        let (after, exposition) = try await Self.get(port)
        #expect(after == 200)
        #expect(exposition.contains("recpool_test_gauge 3"))
    }

    /// Under FlyingFox a request with a 100 KB header took minutes of CPU on a cooperative thread (its header
    /// parsing was quadratic): two of them held both threads of a 2-core machine, the endpoint stopped answering and
    /// SIGTERM went unhandled. SwiftNIO refuses an oversized header on its own event loop.
    @Test("requests with huge headers are refused, and the endpoint still answers the next scrape and stops on cancel")
    func hugeHeaders() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeGauge(name: "recpool_test_gauge").set(to: 1)
        let port = Self.freePort()
        let endpoint = try MetricsEndpoint(
            address: "127.0.0.1:\(port)", registry: registry, logger: Logger(label: "test"))
        let server = Task { try await endpoint.run() }
        #expect(try await Self.get(port).0 == 200)
        var huge = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        huge.setValue(String(repeating: "a", count: 100_000), forHTTPHeaderField: "X-Big")
        for _ in 0..<2 {
            let answer = try? await URLSession.shared.data(for: huge)
            if let http = answer?.1 as? HTTPURLResponse { #expect(http.statusCode != 200) }
        }
        let (status, body) = try await Self.get(port)
        #expect(status == 200 && body.contains("recpool_test_gauge 1"))
        server.cancel()
        _ = await server.result
    }

    @Test(
        "an address the endpoint cannot take is a typed error naming it, a host name too (it is not resolved at bind)",
        arguments: ["9100", "::1:9100", ":9100", "host:port", "myhost.invalid:9100", "example.com:9100", "[nope]:9100"])
    func badAddress(_ address: String) {
        #expect {
            _ = try MetricsEndpoint(address: address, registry: PrometheusCollectorRegistry(), logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("got \(address)") && "\(error)".contains("[IPV6]:PORT")
        }
    }

    @Test("IPv4, localhost and bracketed IPv6 addresses are taken", arguments: ["127.0.0.1:9100", "localhost:9100", "[::1]:9100", "0.0.0.0:0"])
    func goodAddress(_ address: String) throws {
        _ = try MetricsEndpoint(address: address, registry: PrometheusCollectorRegistry(), logger: Logger(label: "test"))
    }
}
