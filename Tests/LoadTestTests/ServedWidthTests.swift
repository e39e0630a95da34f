import Foundation
import RecWire
import Testing

@testable import RecLoad

@Suite("Rows for the served width, and runs that errors dominate")
struct ServedWidthTests {
    static func worker(_ id: String, width: Int, services: [String] = ["SCORE"]) -> StatusDocument.Worker {
        StatusDocument.Worker(
            id: id, address: "", slots: 1, inflight: 0, modelVersion: 0, inputWidth: width, heartbeatAgeMs: 0,
            services: services, completed: 0, errors: 0, pid: 1)
    }

    @Test("the served width comes from the SCORE workers in STATUS")
    func widthsFromStatus() {
        let status = StatusDocument(
            protocolVersion: 1, uptimeMs: 0,
            workers: [
                Self.worker("a", width: 153), Self.worker("b", width: 153),
                Self.worker("t", width: 7, services: ["TRAIN_ROUND"]),
            ], queues: [], inflight: 0, counters: [:])
        #expect(ServedWidth.widths(in: status) == [153])
    }

    @Test("random rows take the served width; a dataset of another width is refused before sending")
    func resolve() throws {
        #expect(try ServedWidth.resolve(served: [153], requested: nil, dataset: nil) == 153)
        #expect(try ServedWidth.resolve(served: [153], requested: 153, dataset: nil) == 153)
        #expect(try ServedWidth.resolve(served: [], requested: 12, dataset: nil) == 12)
        #expect(try ServedWidth.resolve(served: [153], requested: nil, dataset: ("mylogs.csv", 153)) == 153)
        #expect(throws: LoadSetupError.datasetWidth(dataset: "mylogs.csv", width: 154, served: [153])) {
            try ServedWidth.resolve(served: [153], requested: nil, dataset: ("mylogs.csv", 154))
        }
        #expect(throws: LoadSetupError.widthNotServed(requested: 106, served: [153])) {
            try ServedWidth.resolve(served: [153], requested: 106, dataset: nil)
        }
        #expect(throws: LoadSetupError.noScoringWorker) {
            try ServedWidth.resolve(served: [], requested: nil, dataset: nil)
        }
        #expect(throws: LoadSetupError.mixedWidths([106, 153])) {
            try ServedWidth.resolve(served: [106, 153], requested: nil, dataset: nil)
        }
        let message = LoadSetupError.datasetWidth(dataset: "mylogs.csv", width: 154, served: [153]).description
        #expect(message.contains("154") && message.contains("153") && message.contains("BAD_REQUEST"))
    }

    static func summary(sent: Int, completed: Int, errors: [String: Int], lost: Int) -> LoadSummary {
        LoadSummary(
            label: "concurrency 1", level: 1, batch: 1, durationS: 1, sent: sent, completed: completed, lost: lost,
            errors: errors, throughputRps: 0, rowsPerS: 0, goodputRps: 0, objectiveMs: 10, p50Ms: 0, p90Ms: 0,
            p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0,
            breakdown: .init(clientBrokerMs: 0, brokerQueueMs: 0, workerQueueMs: 0, computeMs: 0), distribution: [])
    }

    @Test("a run where every request failed is dominated by errors; a few errors are not")
    func errorsDominate() {
        let allBad = Self.summary(sent: 36_758, completed: 0, errors: ["BAD_REQUEST": 36_758], lost: 0)
        #expect(allBad.failureFraction == 1)
        #expect(allBad.errorsDominate(threshold: 0.5))
        let someBusy = Self.summary(sent: 100, completed: 90, errors: ["BUSY": 8], lost: 2)
        #expect(abs(someBusy.failureFraction - 0.1) < 1e-12)
        #expect(!someBusy.errorsDominate(threshold: 0.5))
        #expect(someBusy.errorsDominate(threshold: 0.05))
        let half = Self.summary(sent: 10, completed: 5, errors: ["EXPIRED": 5], lost: 0)
        #expect(!half.errorsDominate(threshold: 0.5))
        #expect(Self.summary(sent: 0, completed: 0, errors: [:], lost: 0).errorsDominate(threshold: 0.5))
    }

    @Test("a sweep whose later level sent nothing (windows of 1 µs) names that level as unmeasured, and it dominates")
    func unmeasuredLevel() {
        let measured = SweepLevel(
            summary: Self.summary(sent: 3, completed: 3, errors: [:], lost: 0), stable: false, stableThroughputRps: nil,
            windows: 3)
        var empty = Self.summary(sent: 0, completed: 0, errors: [:], lost: 0)
        empty.label = "concurrency 2"
        let unmeasured = SweepLevel(summary: empty, stable: false, stableThroughputRps: nil, windows: 1)
        #expect(SweepLevel.firstUnmeasured([measured]) == nil)
        #expect(SweepLevel.firstUnmeasured([measured, unmeasured])?.summary.label == "concurrency 2")
        #expect(empty.errorsDominate(threshold: 0.5))
    }

    @Test("with no OK reply the latencies are undefined: null in JSON, empty in CSV, 'undefined' in text, never 0 ms")
    func undefinedLatencies() throws {
        let allBad = Self.summary(sent: 10, completed: 0, errors: ["BAD_REQUEST": 10], lost: 0)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(allBad.json().utf8)) as? [String: Any])
        for key in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms", "breakdown"] {
            #expect(object.keys.contains(key), "missing \(key)")
            #expect(object[key] is NSNull, "\(key) is \(String(describing: object[key]))")
        }
        #expect(allBad.text.contains("latency    undefined (no OK reply)"))
        #expect(!allBad.text.contains("p50 0.000"))
        #expect(allBad.csvRow.hasSuffix(",,,,,,,,,"))
        let fine = Self.summary(sent: 1, completed: 1, errors: [:], lost: 0)
        let fineObject = try #require(
            try JSONSerialization.jsonObject(with: Data(fine.json().utf8)) as? [String: Any])
        #expect(fineObject["p50_ms"] as? Double == 0)
    }
}
