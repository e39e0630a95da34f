import Synchronization
import RecTransport
import Testing

@testable import Broker

/// The control plane ran its timers on the wall clock: a step back stopped online syncs until the clock caught up,
/// a step forward timed out a training round that had finished.
@Suite("The control plane's clock is not moved by a step of the wall clock")
struct ControlClockTests {
    final class FakeHost: Sendable {
        let wall = Atomic<UInt64>(1_764_000_000_000)
        let monotonic = Atomic<UInt64>(5_000_000)
        func advance(ms: UInt64) {
            wall.add(ms, ordering: .relaxed)
            monotonic.add(ms * 1_000, ordering: .relaxed)
        }
    }

    @Test("it starts at the wall clock, advances with the monotonic one, and ignores steps either way")
    func steps() {
        let host = FakeHost()
        let clock = ControlClock(
            epochMillis: { host.wall.load(ordering: .relaxed) },
            monotonicMicros: { host.monotonic.load(ordering: .relaxed) })
        #expect(clock.nowMs() == 1_764_000_000_000)
        host.advance(ms: 2_500)
        #expect(clock.nowMs() == 1_764_000_002_500)
        host.wall.subtract(120_000, ordering: .relaxed)  // set back two minutes
        host.advance(ms: 1_000)
        #expect(clock.nowMs() == 1_764_000_003_500)
        host.wall.store(0, ordering: .relaxed)  // before 1970 (read as 0)
        host.advance(ms: 1_000)
        #expect(clock.nowMs() == 1_764_000_004_500)
        host.wall.add(7_200_000, ordering: .relaxed)  // two hours forward
        #expect(clock.nowMs() == 1_764_000_004_500)
    }

    @Test("the broker's own clock reads the host's wall clock while nobody steps it")
    func shared() {
        let control = ControlClock.shared.nowMs()
        let wall = Clocks.epochMillis()
        #expect(control > 1_700_000_000_000 && wall > 1_700_000_000_000)
        #expect(max(control, wall) - min(control, wall) < 5_000, "control \(control), wall \(wall)")
        #expect(ControlClock.shared.nowMs() >= control)
    }
}
