import Foundation
import RecLoad
import RecWire
import Testing

@Suite("Schedules, recorder, sweep and report")
struct LoadArithmeticTests {
    @Test("a constant schedule spaces requests exactly 1 / rate apart")
    func constantSchedule() {
        var s = ArrivalSchedule(rate: 4000, poisson: false)
        let offsets = (0..<5).map { _ in s.nextOffsetMicros() }
        #expect(offsets == [0, 250, 500, 750, 1000])
    }

    @Test("Poisson gaps average 1 / rate, and a seed repeats the schedule")
    func poissonSchedule() {
        var a = ArrivalSchedule(rate: 1000, poisson: true, seed: 42)
        var b = ArrivalSchedule(rate: 1000, poisson: true, seed: 42)
        var last: UInt64 = 0
        for _ in 0..<20_000 {
            last = a.nextOffsetMicros()
            #expect(b.nextOffsetMicros() == last)
        }
        // 20,000 gaps of mean 1 ms: the sum is 20 s ± a few standard deviations (0.14 s each).
        #expect(abs(Double(last) / 1e6 - 20) < 0.8)
    }

    @Test("the recorder's percentiles, goodput and breakdown follow from known latencies")
    func recorderArithmetic() {
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 5_000)
        let t = ServerTimings(brokerQueueMicros: 100, workerQueueMicros: 200, computeMicros: 300)
        for i in 0..<100 {
            r.sent(i)
            // Latencies 1, 2, …, 100 ms.
            r.finished(i, intendedMicros: 1_000, at: 1_000 + UInt64(i + 1) * 1_000, outcome: .ok(rows: 4, timings: t))
        }
        r.sent(100)
        r.finished(100, intendedMicros: 0, at: 10, outcome: .failed("EXPIRED"))
        r.sent(101)
        r.close(at: 2_000_000)
        r.finished(101, intendedMicros: 0, at: 2_000_001, outcome: .ok(rows: 4, timings: t))  // too late: lost
        let s = r.summary(label: "x", level: 1, batch: 4, sendEndMicros: 1_000_000)
        #expect(s.sent == 102 && s.completed == 100 && s.errors == ["EXPIRED": 1] && s.lost == 1)
        #expect(s.isConsistent)
        #expect(abs(s.p50Ms - 50) < 0.1)
        #expect(abs(s.p99Ms - 99) < 0.1)
        #expect(abs(s.maxMs - 100) < 0.1)
        // Measured over max(send end 1 s, last reply 101 ms) = 1 s.
        #expect(abs(s.throughputRps - 100) < 1e-9)
        #expect(abs(s.rowsPerS - 400) < 1e-9)
        #expect(abs(s.goodputRps - 5) < 1e-9)  // 1…5 ms are within 5 ms
        #expect(abs(s.breakdown.computeMs - 0.3) < 1e-9)
        #expect(abs(s.breakdown.clientBrokerMs - (50.5 - 0.6)) < 1e-9)
    }

    /// The histogram's `max`, `mean` and percentile iterator read bucket edges: one reply of 5.144 ms gave a max of
    /// 5.147 ms and a curve starting above its own p50.
    @Test("with few replies the max, the mean, every percentile and the curve are the latencies recorded")
    func exactAtFewReplies() {
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 50_000)
        let t = ServerTimings(brokerQueueMicros: 0, workerQueueMicros: 0, computeMicros: 0)
        r.sent(0)
        r.finished(0, intendedMicros: 0, at: 5_144, outcome: .ok(rows: 1, timings: t))
        let one = r.summary(label: "x", level: 1, batch: 1, sendEndMicros: 1_000_000)
        for figure in [one.p50Ms, one.p999Ms, one.maxMs, one.meanMs] + one.distribution.map(\.ms) {
            #expect(figure == 5.144, "\(one)")
        }
        r.sent(1)
        r.finished(1, intendedMicros: 0, at: 7_777, outcome: .ok(rows: 1, timings: t))
        let two = r.summary(label: "x", level: 1, batch: 1, sendEndMicros: 1_000_000)
        #expect(two.maxMs == 7.777 && abs(two.meanMs - (5.144 + 7.777) / 2) < 1e-12)
        #expect(two.distribution.allSatisfy { $0.ms >= 5.144 && $0.ms <= 7.777 }, "\(two.distribution)")
        let window = r.closeWindow(at: 1_000_000)
        #expect(window.meanMicros == 6_460.5)
    }

    @Test("the JSON summary carries the documented keys")
    func jsonKeys() throws {
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 1_000)
        let s = r.summary(label: "x", level: 1, batch: 1, sendEndMicros: 1_000_000)
        let object = try JSONSerialization.jsonObject(with: Data(s.json().utf8)) as? [String: Any]
        for key in [
            "sent", "completed", "lost", "errors", "throughput_rps", "rows_per_s", "p50_ms", "p99_ms", "p999_ms",
            "max_ms",
        ] {
            #expect(object?[key] != nil, "missing \(key)")
        }
        #expect(
            LoadSummary.csvHeader.split(separator: ",").count
                == s.csvRow.split(separator: ",", omittingEmptySubsequences: false).count)
    }

    /// `loadtest --dataset` printed `errors BAD_REQUEST 1568` and exited 5 without saying which value was refused.
    @Test("the first message of each kind of error is kept, printed and in the JSON")
    func errorMessages() throws {
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 1_000)
        for (i, outcome) in [
            LoadOutcome.failed("BAD_REQUEST", message: "row 0, column 3 is not a finite number (inf)"),
            .failed("BAD_REQUEST", message: "row 1, column 3 is not a finite number (inf)"),
            .failed("EXPIRED"), .failed("TIMEOUT", message: ""),
        ].enumerated() {
            r.sent(i)
            r.finished(i, intendedMicros: 0, at: 10, outcome: outcome)
        }
        let s = r.summary(label: "x", level: 1, batch: 1, sendEndMicros: 1_000_000)
        #expect(s.errors == ["BAD_REQUEST": 2, "EXPIRED": 1, "TIMEOUT": 1])
        #expect(s.errorMessages == ["BAD_REQUEST": "row 0, column 3 is not a finite number (inf)"])
        #expect(s.text.contains("  first BAD_REQUEST: row 0, column 3 is not a finite number (inf)"), "\(s.text)")
        let object = try JSONSerialization.jsonObject(with: Data(s.json().utf8)) as? [String: Any]
        #expect((object?["error_messages"] as? [String: String])?["BAD_REQUEST"] == "row 0, column 3 is not a finite number (inf)")
    }

    /// `loadtest --rate 1 --duration 1s` printed a p99.9 and a throughput from one reply as if they were a tail and a
    /// rate.
    @Test("percentiles and throughput from too few OK replies carry notes, in text and JSON", arguments: [
        (1, ["throughput and goodput rest on 1 OK reply", "p99 and p99.9 rest on 1 OK reply"]),
        (50, ["p99 and p99.9 rest on 50 OK replies (fewer than 100)"]), (500, ["p99.9 rests on 500 OK replies"]),
        (1_000, []),
    ])
    func fewRepliesNoted(replies: Int, says: [String]) throws {
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 1_000)
        for i in 0..<replies {
            r.sent(i)
            r.finished(i, intendedMicros: 0, at: 10 + UInt64(i), outcome: .ok(rows: 1, timings: ServerTimings(brokerQueueMicros: 0, workerQueueMicros: 0, computeMicros: 0)))
        }
        let s = r.summary(label: "x", level: 1, batch: 1, sendEndMicros: 1_000_000)
        #expect(s.latencyNotes.count == says.count, "\(s.latencyNotes)")
        for (note, expected) in zip(s.latencyNotes, says) { #expect(note.hasPrefix(expected), "\(note)") }
        for note in s.latencyNotes { #expect(s.text.contains("  note: \(note)")) }
        let object = try JSONSerialization.jsonObject(with: Data(s.json().utf8)) as? [String: Any]
        #expect((object?["latency_notes"] as? [String]) == s.latencyNotes)
    }

    static func window(_ throughput: Double, _ mean: Double) -> WindowStats {
        WindowStats(
            elapsedMicros: 0, lengthMicros: 1_000_000, sent: 0, completed: 0, errors: 0, windowCompleted: 0,
            throughput: throughput, meanMicros: mean, p99Micros: 0)
    }

    @Test("a level is stable only when the last 3 windows agree within 10%")
    func stability() {
        let plan = SweepPlan(start: .closed(concurrency: 1))
        #expect(!plan.isStable([Self.window(100, 10), Self.window(100, 10)]))
        #expect(
            plan.isStable([Self.window(50, 10), Self.window(100, 10), Self.window(105, 10.5), Self.window(96, 9.6)]))
        #expect(!plan.isStable([Self.window(100, 10), Self.window(125, 10), Self.window(100, 10)]))
        #expect(!plan.isStable([Self.window(100, 10), Self.window(100, 13), Self.window(100, 10)]))
    }

    @Test("a level that was not stable has no stable throughput: null in the sweep JSON, not its last windows' mean")
    func unstableLevelHasNoStableThroughput() throws {
        let plan = SweepPlan(start: .closed(concurrency: 1))
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 10_000)
        r.sent(0)
        r.finished(
            0, intendedMicros: 0, at: 100,
            outcome: .ok(rows: 1, timings: ServerTimings(brokerQueueMicros: 0, workerQueueMicros: 0, computeMicros: 0)))
        let s = r.summary(label: "concurrency 1", level: 1, batch: 1, sendEndMicros: 100_000)
        let unstable = SweepLevel(summary: s, windows: [Self.window(958.7, 10)], plan: plan)
        #expect(!unstable.stable && unstable.stableThroughputRps == nil && unstable.windows == 1)
        let none = SweepLevel(summary: s, windows: [], plan: plan)
        #expect(!none.stable && none.stableThroughputRps == nil && none.windows == 0)
        let windows = [Self.window(50, 10), Self.window(100, 10), Self.window(105, 10.5), Self.window(96, 9.6)]
        let stable = SweepLevel(summary: s, windows: windows, plan: plan)
        #expect(stable.stable && stable.stableThroughputRps == (100 + 105 + 96) / 3.0)
        // The sweep's JSON document: every key, the unstable level's throughput null, no distribution.
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let data = try NullEncoding.encode(SweepDocument(levels: [unstable, stable]), with: encoder)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let levels = try #require(object["levels"] as? [[String: Any]])
        #expect(levels.count == 2)
        #expect(levels[0]["stable"] as? Bool == false && levels[0]["stable_throughput_rps"] is NSNull)
        #expect(levels[1]["stable_throughput_rps"] as? Double == (100 + 105 + 96) / 3.0)
        #expect(levels[0]["windows"] as? Int == 1)
        let summary = try #require(levels[0]["summary"] as? [String: Any])
        #expect(summary["throughput_rps"] != nil && summary["distribution"] == nil, "\(summary)")
    }

    @Test(
        "sweep levels grow by the factor",
        arguments: [
            (LoadMode.closed(concurrency: 1), [1.0, 2, 4, 8]),
            (.open(rate: 100, poisson: false), [100, 150, 225, 337.5]),
        ])
    func levels(start: LoadMode, expected: [Double]) {
        let plan = SweepPlan(start: start, factor: start.level == 1 ? 2 : 1.5)
        #expect((0..<4).map { plan.mode(level: $0).level } == expected)
    }

    @Test("the HTML report is self-contained and draws both charts as inline SVG")
    func report() {
        let r = LoadRecorder(startMicros: 0, objectiveMicros: 10_000)
        for i in 0..<50 {
            r.sent(i)
            r.finished(
                i, intendedMicros: 0, at: UInt64(i + 1) * 100,
                outcome: .ok(
                    rows: 1, timings: ServerTimings(brokerQueueMicros: 0, workerQueueMicros: 0, computeMicros: 0)))
        }
        let s = r.summary(label: "concurrency 1", level: 1, batch: 1, sendEndMicros: 1_000_000)
        let level = SweepLevel(summary: s, stable: true, stableThroughputRps: 50, windows: 3)
        let html = LoadReport(title: "t <x>", command: "recpool loadtest", levels: [level, level], runs: [s]).html()
        #expect(html.components(separatedBy: "<svg").count - 1 == 2)
        #expect(!html.contains("<script") && !html.contains("http://") || html.contains("http://www.w3.org/2000/svg"))
        #expect(html.contains("t &lt;x&gt;"))
        #expect(!s.distribution.isEmpty)
    }

    @Test("a sweep level with no OK reply is left off the latency curve, never drawn at 0 ms")
    func reportLeavesUnmeasuredLevelsOff() {
        let ok = LoadRecorder(startMicros: 0, objectiveMicros: 10_000)
        for i in 0..<20 {
            ok.sent(i)
            ok.finished(
                i, intendedMicros: 0, at: UInt64(i + 1) * 100,
                outcome: .ok(
                    rows: 1, timings: ServerTimings(brokerQueueMicros: 0, workerQueueMicros: 0, computeMicros: 0)))
        }
        let measured = ok.summary(label: "concurrency 1", level: 1, batch: 1, sendEndMicros: 1_000_000)
        let silent = LoadRecorder(startMicros: 0, objectiveMicros: 10_000)
        for i in 0..<20 { silent.sent(i) }
        let unmeasured = silent.summary(label: "concurrency 2", level: 2, batch: 1, sendEndMicros: 1_000_000)
        #expect(measured.hasLatencies && !unmeasured.hasLatencies)
        let levels = [
            SweepLevel(summary: measured, stable: true, stableThroughputRps: 20, windows: 3),
            SweepLevel(summary: unmeasured, stable: false, stableThroughputRps: 0, windows: 3),
        ]
        let html = LoadReport(title: "t", command: "recpool loadtest --sweep", levels: levels, runs: [measured]).html()
        // One p50 marker and one p99 marker: the measured level's.
        #expect(html.components(separatedBy: "<circle").count - 1 == 2)
        #expect(html.contains("undefined"))
        #expect(html.contains("1 of 2 levels had no OK reply and are left off the curve"), "\(html)")
        // A helper's sweep against no broker: no level had an OK reply, and the page drew an empty chart with a
        // p50/p99 legend and no word why.
        let none = LoadReport(
            title: "t", command: "recpool loadtest --sweep", levels: [levels[1], levels[1]], runs: [unmeasured]
        ).html()
        #expect(!none.contains("<svg"), "\(none)")
        #expect(none.contains("No level had an OK reply, so there is no latency to draw"))
    }
}
