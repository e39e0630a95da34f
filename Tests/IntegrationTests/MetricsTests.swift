import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RecTestKit
import RecTransport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Scrapes the real `/metrics` endpoints of a running broker and worker and parses the exposition.
@Suite("Prometheus metrics", .serialized)
struct MetricsTests {
    /// A TCP port on 127.0.0.1 that is free now (RecTestKit).
    static func freePort() -> UInt16 { freeLoopbackPort() }

    /// Parses Prometheus text exposition into `series → value`, checking every line's shape.
    static func parse(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") { continue }
            guard let space = line.lastIndex(of: " ") else { throw ParseError(line: String(line)) }
            let series = String(line[..<space])
            guard let value = Double(line[line.index(after: space)...]) else { throw ParseError(line: String(line)) }
            let name = series.prefix { $0 != "{" }
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else { throw ParseError(line: String(line)) }
            samples[series] = value
        }
        return samples
    }

    struct ParseError: Error { var line: String }

    static func scrape(_ port: UInt16) async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return try parse(String(decoding: data, as: UTF8.self))
    }

    /// HEAD and every other method on `/metrics` were 404 with an empty body, which tells a user the path is wrong.
    @Test("HEAD /metrics is served as GET without a body; another method is 405 naming GET and HEAD")
    func methods() async throws {
        let port = Self.freePort()
        try await ProcessCluster.withPool(brokerArguments: ["--metrics", "127.0.0.1:\(port)"], workers: ["w1"]) {
            _, _ in
            let url = URL(string: "http://127.0.0.1:\(port)/metrics")!
            try await eventually(pollMs: 50, "the broker's metrics published") {
                let (_, response) = try await URLSession.shared.data(from: url)
                return (response as? HTTPURLResponse)?.statusCode == 200
            }
            var head = URLRequest(url: url)
            head.httpMethod = "HEAD"
            let (body, headResponse) = try await URLSession.shared.data(for: head)
            let headHTTP = try #require(headResponse as? HTTPURLResponse)
            #expect(headHTTP.statusCode == 200 && body.isEmpty)
            #expect(headHTTP.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain") == true)
            // The length GET's body has (it was `Content-Length: 0`): some hundreds of bytes of exposition.
            #expect((Int(headHTTP.value(forHTTPHeaderField: "Content-Length") ?? "") ?? 0) > 100, "\(headHTTP.allHeaderFields)")
            for method in ["POST", "PUT", "DELETE", "PATCH"] {
                var request = URLRequest(url: url)
                request.httpMethod = method
                let (_, response) = try await URLSession.shared.data(for: request)
                let http = try #require(response as? HTTPURLResponse)
                #expect(http.statusCode == 405, "\(method)")
                #expect(http.value(forHTTPHeaderField: "Allow") == "GET, HEAD", "\(method)")
            }
        }
    }

    /// An idle broker exported no counter until its first increment, so a first burst of BUSY appeared as a series
    /// born at 41,199 and `rate()` and `increase()` saw nothing of it.
    @Test("an idle broker exports every counter at 0, each label value of requests, replies and drops too")
    func countersFromZero() async throws {
        let brokerPort = Self.freePort()
        try await ProcessCluster.withPool(brokerArguments: ["--metrics", "127.0.0.1:\(brokerPort)"], workers: []) { _, _ in
            var broker: [String: Double] = [:]
            try await eventually(pollMs: 50, "the broker's metrics served") {
                broker = (try? await Self.scrape(brokerPort)) ?? [:]
                return broker["recpool_broker_live_workers"] != nil
            }
            for series in [
                "recpool_broker_requests_total{service=\"score\"}", "recpool_broker_requests_total{service=\"recommend\"}",
                "recpool_broker_replies_total{status=\"busy\"}", "recpool_broker_replies_total{status=\"worker_lost\"}",
                "recpool_broker_drops_total{reason=\"busy\"}", "recpool_broker_drops_total{reason=\"no_worker\"}",
                "recpool_broker_redispatches_total", "recpool_broker_dispatched_total", "recpool_broker_workers_expired_total",
                "recpool_broker_replies_dropped_hwm_total", "recpool_broker_training_rounds_total",
                "recpool_broker_durable_write_failures_total", "recpool_broker_policy_versions_pruned_total",
            ] {
                #expect(broker[series] == 0, "\(series): \(String(describing: broker[series]))")
            }
        }
    }

    @Test("the broker and the worker expose request, queue, worker and compute metrics that parse")
    func scrape() async throws {
        let brokerPort = Self.freePort(), workerPort = Self.freePort()
        try await ProcessCluster.withPool(brokerArguments: ["--metrics", "127.0.0.1:\(brokerPort)"], workers: ["w1"], workerArguments: ["--input-width", "4", "--metrics", "127.0.0.1:\(workerPort)"]) { cluster, client in
            for _ in 0..<5 { _ = try await client.score(rows: [[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]]) }
            // A BAD_REQUEST from the broker: rows of a width no live model takes never reach a worker (issue 13).
            _ = try? await client.score(rows: [[1, 2]])
            // A reactor tick publishes the counters: wait until the six SCORE requests show.
            try await eventually(pollMs: 50, "the broker's counters published") {
                (try? await Self.scrape(brokerPort))?["recpool_broker_requests_total{service=\"score\"}"] ?? 0 >= 6
            }

            let broker = try await Self.scrape(brokerPort)
            #expect(broker["recpool_broker_requests_total{service=\"score\"}"] == 6)
            #expect((broker["recpool_broker_replies_total{status=\"ok\"}"] ?? 0) >= 5)  // STATUS replies count too
            #expect(broker["recpool_broker_replies_total{status=\"bad_request\"}"] == 1)
            #expect(broker["recpool_broker_live_workers"] == 1)
            #expect(broker["recpool_broker_queue_depth{service=\"score\"}"] == 0)
            #expect(broker["recpool_broker_reply_latency_seconds_count"] == 5)  // dispatched requests only
            #expect(broker["recpool_broker_worker_model_version{worker=\"w1\"}"] == 0)
            // Without --online no online gauge exists: a policy version 0 here would read as a served version.
            #expect(broker.keys.filter { $0.hasPrefix("recpool_broker_online_") }.isEmpty, "\(broker.keys.sorted())")

            let worker = try await Self.scrape(workerPort)
            #expect(worker["recpool_worker_rows_total"] == 10)
            #expect((worker["recpool_worker_batches_total"] ?? 0) >= 1)
            #expect(worker["recpool_worker_error_replies_total"] == nil || worker["recpool_worker_error_replies_total"] == 0)
            #expect(worker["recpool_worker_compute_seconds_count"] != nil)
            #expect(worker["recpool_worker_model_version"] == 0)
        }
    }

    @Test("--metrics takes localhost:PORT and [::1]:PORT, like the ZeroMQ endpoints")
    func loopbackNames() async throws {
        let port = Self.freePort()
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--metrics", "localhost:\(port)"])
        let text = try await Self.scrapeText("http://127.0.0.1:\(port)/metrics")
        #expect(text.contains("recpool_broker"))
        // A client without CURVE pointed at that HTTP port: the server closes during the ZMTP greeting, which libzmq
        // reports as a handshake failure with no detail. Not "is --curve-server-key the broker's public key?" with
        // exit 17: the handshake did not complete (exit 7), and the message names both causes.
        let wrongPort = try runTool("recpool", ["status", "--broker", "tcp://127.0.0.1:\(port)", "--timeout-ms", "1500"])
        #expect(wrongPort.code == 7, "\(wrongPort.code): \(wrongPort.stderr)")
        #expect(wrongPort.stderr.contains("it is not a RecPool broker's frontend"), "\(wrongPort.stderr)")
        let ipv6Port = Self.freePort()
        try cluster.startWorker("w1", extra: ["--metrics", "[::1]:\(ipv6Port)"])
        // URLSession on Linux does not take [::1] URLs, so this one is a plain HTTP/1.1 GET (Connection: close) over a socket.
        var ipv6Text = ""
        try? await eventually(timeoutMs: 15_000, pollMs: 100) {
            ipv6Text = Self.getOverIPv6Loopback(port: ipv6Port, path: "/metrics")
            return ipv6Text.contains("recpool_worker")
        }
        #expect(ipv6Text.hasPrefix("HTTP/1.") && ipv6Text.contains("recpool_worker"))
    }

    /// Scrapes `url` until it answers (the endpoint starts with the process), for up to 15 s.
    static func scrapeText(_ url: String) async throws -> String {
        try await eventuallyValue(timeoutMs: 15_000, pollMs: 100, "\(url) answering") {
            guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!),
                (response as? HTTPURLResponse)?.statusCode == 200
            else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The whole response to `GET path` from `[::1]:port`, or "" when nothing answers.
    static func getOverIPv6Loopback(port: UInt16, path: String) -> String {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        address.sin6_addr = in6addr_loopback
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard connected == 0 else { return "" }
        // Never waits for ever: a server that keeps the connection open ends the read after 5 s.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return "" }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }
}
