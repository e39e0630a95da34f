import Foundation
import Testing

/// A worker that claims a version number the registry holds other weights under (or none) is not serving that
/// version: `recpool status` says so in text, not only in `--json`, and the broker's version gauge reads −2.
@Suite("status of a worker claiming a version that is not the registry's", .serialized)
struct UnverifiedVersionStatusTests {
    @Test("the VERSION column reads '1 (unverified)', never a bare 1 that reads as the registry's version 1")
    func unverifiedClaimIsLabelled() async throws {
        let directory = try TrainingTests.makeDirectory("unverified-status")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("train.csv")
        try TrainingTests.writeCSV(data, rows: 100)
        let model = directory.appendingPathComponent("m.ckpt").path
        #expect(try runTool("recpool", ["fit", "--dataset", data.path, "--out", model, "--epochs", "1"]).code == 0)
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", directory.appendingPathComponent("first").path])
        try cluster.startWorker("w1", extra: ["--input-width", "3"])
        var client = try await cluster.client()
        let imported = try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", model, "--promote"])
        #expect(imported.code == 0, "\(imported.stderr)")
        _ = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 1 }
        // Another broker on the same endpoints with an empty registry: the worker still claims version 1.
        _ = cluster.kill("broker", signal: SIGKILL)
        let endpoints = cluster.endpoints
        let metricsPort = MetricsTests.freePort()
        try cluster.startBroker(
            frontend: endpoints.frontend, backend: endpoints.backend,
            extra: ["--state-dir", directory.appendingPathComponent("second").path, "--metrics", "127.0.0.1:\(metricsPort)"])
        client = try await cluster.client()
        let status = try await cluster.waitForStatus(client) { $0.workers.first?.modelVersion == 1 }
        #expect(status.workers.first?.modelSource == "unverified" && status.promotedVersion == nil)
        let text = try runTool("recpool", ["status", "--broker", cluster.endpoints.frontend])
        #expect(text.code == 0, "\(text.stderr)")
        let row = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("w1") })
        #expect(row.contains("1 (unverified)"), "\(row)")
        // The rollout gauge does not count it as serving version 1 either: −2 while it is unverified.
        let gauge = "recpool_broker_worker_model_version{worker=\"w1\"}"
        let scraped = try await eventuallyValue(pollMs: 50, "the worker's version gauge published") {
            (try? await MetricsTests.scrape(metricsPort))?[gauge]
        }
        #expect(scraped == -2)
    }
}
