import Foundation
import RecClient
import RecLoad
import RecTransport
import RecWire
import Testing

/// The load tester's arithmetic, checked against a fake server with a known 20 ms delay.
/// Assertions are about behaviour and counts; the only timing bounds are ones the delay forces
/// (nothing can answer sooner than 20 ms) and generous ceilings a busy machine cannot break.
@Suite("Load tester against a fake server", .serialized)
struct FakeServerTests {
    static let delayMs: UInt64 = 20

    /// Ten payloads used in turn: index % 10 == 0 is never answered, 1 and 2 get BUSY, the rest OK.
    static func payloads() -> [[UInt8]] {
        (0..<10).map { i in
            let first: Float = i == 0 ? FakeServer.silentMarker : (i <= 2 ? FakeServer.busyMarker : Float(i))
            return Tensor(rows: 2, cols: 3, values: [first, 0, 0, 0, 0, 0]).encoded()
        }
    }

    /// Runs `plan` against a fresh fake server with one client sending `payloads` (2 rows each, 30 s timeout).
    static func run(_ plan: LoadPlan, payloads: [[UInt8]] = payloads()) async throws -> LoadSummary {
        let server = try await FakeServer(delayMs: delayMs)
        defer { server.stop() }
        let client = try await RecPoolClient(endpoint: server.endpoint)
        defer { client.close() }
        let target = RecPoolTarget(
            clients: [client], command: .score, payloads: payloads, rowsPerRequest: 2, timeoutMs: 30_000)
        return await LoadRunner.run(target: target, plan: plan)
    }

    /// A ticker late by a window (a loaded machine) found the open loop's run already stopped by its generator and
    /// never closed the last window: a sweep level of `--max-windows 3` recorded 2 windows in 0.3 s.
    @Test("an open loop's last window is closed even when the ticker runs a window late")
    func lateTickerClosesTheLastWindow() async throws {
        let server = try await FakeServer(delayMs: Self.delayMs)
        defer { server.stop() }
        let client = try await RecPoolClient(endpoint: server.endpoint)
        defer { client.close() }
        let target = RecPoolTarget(
            clients: [client], command: .score, payloads: [Tensor(rows: 2, cols: 3, values: [9, 0, 0, 0, 0, 0]).encoded()],
            rowsPerRequest: 2, timeoutMs: 30_000)
        let plan = LoadPlan(
            mode: .open(rate: 0.01, poisson: false), durationMicros: 300_000, drainMicros: 500_000,
            objectiveMicros: 10_000_000, batch: 2)
        let windows = LockedBox(0)
        let s = await LoadRunner.run(target: target, plan: plan, windowMicros: 100_000) { _ in
            let count = windows.withLock { count in
                count += 1
                return count
            }
            // The second window's handler holds the ticker past the run's end.
            if count == 2 { Thread.sleep(forTimeInterval: 0.25) }
            return true
        }
        #expect(windows.withLock { $0 } == 3)
        #expect(s.sent == 1 && s.isConsistent)
    }

    @Test("an open loop counts OK, BUSY and unanswered requests exactly, and p50 sits at the delay")
    func openLoopCounts() async throws {
        let server = try await FakeServer(delayMs: Self.delayMs)
        defer { server.stop() }
        let client = try await RecPoolClient(endpoint: server.endpoint)
        defer { client.close() }
        let target = RecPoolTarget(
            clients: [client], command: .score, payloads: Self.payloads(), rowsPerRequest: 2, timeoutMs: 30_000)
        // 200 requests/s for 1 s, constant spacing: exactly 200 requests (offsets 0, 5, …, 995 ms).
        let plan = LoadPlan(
            mode: .open(rate: 200, poisson: false), durationMicros: 1_000_000, drainMicros: 500_000,
            objectiveMicros: 10_000_000, batch: 2)
        let s = await LoadRunner.run(target: target, plan: plan)

        #expect(s.sent == 200)
        #expect(s.completed == 140)
        #expect(s.errors == ["BUSY": 40])
        #expect(s.lost == 20)
        #expect(s.isConsistent)
        // Nothing is answered sooner than the injected delay; the ceiling is 10× and then some.
        #expect(s.p50Ms >= Double(Self.delayMs) * 0.99)
        #expect(s.p50Ms < 250)
        #expect(s.p50Ms <= s.p90Ms && s.p90Ms <= s.p99Ms && s.p99Ms <= s.p999Ms && s.p999Ms <= s.maxMs)
        // Arithmetic of the rates.
        #expect(abs(s.throughputRps * s.durationS - 140) < 1e-6)
        #expect(abs(s.rowsPerS - 2 * s.throughputRps) < 1e-6)
        #expect(abs(s.goodputRps - s.throughputRps) < 1e-6)  // objective 10 s: every OK reply is good
        // The breakdown reproduces the injected timing fields exactly, and the rest is transport.
        #expect(abs(s.breakdown.brokerQueueMs - 1) < 1e-9)
        #expect(abs(s.breakdown.workerQueueMs - 2) < 1e-9)
        #expect(abs(s.breakdown.computeMs - 3) < 1e-9)
        // `meanMs` is the HdrHistogram's mean (3 significant digits: within 0.1% of the exact mean), the breakdown
        // uses exact sums, so they agree to the histogram's resolution, however slow a starved machine makes them.
        #expect(abs(s.breakdown.clientBrokerMs - (s.meanMs - 6)) < max(0.01, s.meanMs * 1e-3))
        #expect(s.breakdown.clientBrokerMs >= Double(Self.delayMs) - 6 - 0.1)
    }

    @Test("an open loop holds at most --max-in-flight requests: later arrivals are counted as IN_FLIGHT_LIMIT, never queued")
    func inFlightBound() async throws {
        // A rate nobody answers: the backlog grew without bound (about 5 KB a request; 10M/s for 1 s reached 22 GB and
        // the kernel killed the load generator).
        let silent = [Tensor(rows: 2, cols: 3, values: [FakeServer.silentMarker, 0, 0, 0, 0, 0]).encoded()]
        let s = try await Self.run(
            LoadPlan(
                mode: .open(rate: 1_000, poisson: false), durationMicros: 200_000, drainMicros: 0,
                objectiveMicros: 10_000, batch: 2, maxInFlight: 5),
            payloads: silent)
        #expect(s.sent == 200)
        #expect(s.completed == 0)
        #expect(s.lost == 5, "outstanding when the run ended: exactly the bound")
        #expect(s.errors == [LoadPlan.inFlightLimitError: 195])
        // Its first message is kept as every error's is (`error_messages` held every kind but this one).
        #expect(s.errorMessages[LoadPlan.inFlightLimitError]?.contains("5 requests were already in flight (--max-in-flight)") == true)
        #expect(s.isConsistent)
    }

    @Test("an open loop below one request per run lasts its duration and reports its fractional rate")
    func lowRateLastsItsDuration() async throws {
        let server = try await FakeServer(delayMs: Self.delayMs)
        defer { server.stop() }
        let client = try await RecPoolClient(endpoint: server.endpoint)
        defer { client.close() }
        let target = RecPoolTarget(
            clients: [client], command: .score, payloads: [Self.payloads()[5]], rowsPerRequest: 2, timeoutMs: 30_000)
        // 0.5 requests/s for 1 s: one request, at 0 s; the run still lasts 1 s.
        let plan = LoadPlan(mode: .open(rate: 0.5, poisson: false), durationMicros: 1_000_000, drainMicros: 500_000, batch: 2)
        let s = await LoadRunner.run(target: target, plan: plan)
        #expect(s.sent == 1 && s.completed == 1)
        #expect(s.label == "rate 0.5/s")
        #expect(s.durationS >= 1.0, "\(s.durationS)")
        #expect(s.throughputRps <= 1.0, "\(s.throughputRps)")
        #expect(LoadMode.open(rate: 200, poisson: true).label == "rate 200/s poisson")
    }

    @Test("a closed loop keeps every request accounted for and cannot beat concurrency ÷ delay")
    func closedLoopBound() async throws {
        let server = try await FakeServer(delayMs: Self.delayMs)
        defer { server.stop() }
        let client = try await RecPoolClient(endpoint: server.endpoint)
        defer { client.close() }
        let ok = [Tensor(rows: 1, cols: 3, values: [1, 2, 3]).encoded()]
        let target = RecPoolTarget(
            clients: [client], command: .score, payloads: ok, rowsPerRequest: 1, timeoutMs: 30_000)
        let plan = LoadPlan(mode: .closed(concurrency: 4), durationMicros: 600_000, drainMicros: 2_000_000, batch: 1)
        let s = await LoadRunner.run(target: target, plan: plan)

        #expect(s.sent > 0)
        #expect(s.sent == s.completed)
        #expect(s.lost == 0 && s.errors.isEmpty)
        #expect(s.p50Ms >= Double(Self.delayMs) * 0.99)
        // 4 loops of ≥ 20 ms each: at most 4 / 0.02 = 200 req/s, whatever the machine.
        #expect(s.throughputRps <= 4 / (Double(Self.delayMs) / 1000) * 1.01)
    }

    @Test("a request never answered within its timeout is a TIMEOUT error, not lost")
    func timeoutsAreErrors() async throws {
        let server = try await FakeServer(delayMs: Self.delayMs)
        defer { server.stop() }
        let client = try await RecPoolClient(endpoint: server.endpoint)
        defer { client.close() }
        let silent = [Tensor(rows: 1, cols: 3, values: [FakeServer.silentMarker, 0, 0]).encoded()]
        let target = RecPoolTarget(
            clients: [client], command: .score, payloads: silent, rowsPerRequest: 1, timeoutMs: 50)
        let plan = LoadPlan(mode: .open(rate: 20, poisson: false), durationMicros: 200_000, drainMicros: 3_000_000)
        let s = await LoadRunner.run(target: target, plan: plan)

        #expect(s.sent == 4)
        #expect(s.errors == ["TIMEOUT": 4])
        #expect(s.lost == 0 && s.completed == 0)
    }
}
