import Foundation
import RecLoad
import Testing

/// A target whose every send holds its thread for `holdMicros` before answering, the way a starved machine delays
/// the generator: with two cooperative threads, 30 ms a send caps the sends at about 66/s.
private struct ThreadHoldingTarget: LoadTarget {
    let holdMicros: UInt32

    func send(index: Int) async -> LoadOutcome {
        usleep(holdMicros)
        return .ok(rows: 1, timings: ServerTimings(brokerQueueMicros: 0, workerQueueMicros: 0, computeMicros: 0))
    }
}

/// An open loop sends its whole schedule, however far the generator lags behind it.
@Suite("Open loop that lags its schedule")
struct OpenLoopLagTests {
    @Test("a generator that falls behind still sends every arrival scheduled before the end, and each completes")
    func lateArrivalsAreSent() async {
        // 100/s for 200 ms: 20 arrivals (offsets 0, 10, …, 190 ms). The target holds a thread for 30 ms a send, so
        // at the end of the window the generator is well behind; the arrivals still due are sent late, not dropped.
        // The drain ends as soon as nothing is outstanding, so its deadline only bounds a failure: 5 s was too short
        // beside the parallel unit suites, which held the cooperative threads for minutes (this test took 208 s in
        // CI) and lost the last send to the drain, not to the generator this test is about.
        let plan = LoadPlan(
            mode: .open(rate: 100, poisson: false), durationMicros: 200_000, drainMicros: 600_000_000,
            objectiveMicros: 10_000_000, batch: 1)
        let s = await LoadRunner.run(target: ThreadHoldingTarget(holdMicros: 30_000), plan: plan)
        #expect(s.sent == 20)
        #expect(s.completed == 20)
        #expect(s.lost == 0)
        #expect(s.isConsistent)
    }
}
