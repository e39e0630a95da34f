import Foundation
import Shared
import Testing

/// The protocol conformance suite (conformance/recpool_conformance.py, written from docs/PROTOCOL.md
/// alone, with pyzmq) against a live broker and worker: the broker as a client and as a fake worker
/// sees it, the real worker through the broker, and a second real worker with the suite as its broker.
///
/// Checks listed in conformance/pending.txt wait for behaviour changes not merged yet: the suite
/// reports them without failing. `RECPOOL_CONFORMANCE_STRICT=1` ignores that list.
@Suite("Protocol conformance", .serialized)
struct ConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let suite = root.appendingPathComponent("conformance/recpool_conformance.py").path
    static let pending = root.appendingPathComponent("conformance/pending.txt").path
    /// `RECPOOL_PYTHON` (scripts/test sets it), else the repository's `.venv`.
    static let python: String? = {
        if let configured = ProcessInfo.processInfo.environment["RECPOOL_PYTHON"] { return configured }
        let venv = root.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }()

    @Test(
        "a live broker and worker pass every check of the conformance suite that is not pending",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with pyzmq (scripts/requirements.txt)"))
    func conformance() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await cluster.startPool(
            brokerArguments: ["--state-dir", state.path, "--online"], workers: ["real-1"],
            workerArguments: ["--input-width", "5"])
        defer { client.close() }

        let report = state.appendingPathComponent("report.json")
        var arguments = [
            Self.suite, "--frontend", cluster.endpoints.frontend, "--backend", cluster.endpoints.backend,
            "--json", report.path,
            // The direct.* checks: the suite plays the broker to a second real worker it starts.
            "--worker-command",
            "\(ProcessCluster.executable("recpool-worker").path) --broker {endpoint} --id direct-1 --input-width 4 "
                + "--exit-with-parent --log-level warning",
        ]
        if ProcessInfo.processInfo.environment["RECPOOL_CONFORMANCE_STRICT"] != "1" {
            arguments += ["--pending", Self.pending]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.python))
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)\n\(errors)")

        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]
        let results = try #require(document?["results"] as? [[String: Any]])
        let outcomes = Dictionary(grouping: results) { $0["outcome"] as? String ?? "" }
        #expect(outcomes["fail"] == nil, "\(output)")
        // The online and stateful checks run here: the broker has --state-dir and --online.
        #expect(outcomes["skip"] == nil, "\(output)")
        #expect((outcomes["pass"]?.count ?? 0) >= 40, "\(output)")
    }
}
