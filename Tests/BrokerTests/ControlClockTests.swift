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

    /// A fresh clock on the host's sources reads the wall clock it started on. `ControlClock.shared` is not compared
    /// with the wall clock: it started at this process's first read, and a step of the host's clock since (an NTP step
    /// on a machine that booted minutes ago) rightly leaves it behind, which is what the test above asserts.
    @Test("a clock on the host's sources starts at the host's wall clock and never goes back")
    func hostSources() {
        let before = Clocks.epochMillis()
        let clock = ControlClock()
        let first = clock.nowMs()
        let after = Clocks.epochMillis()
        #expect(before > 1_700_000_000_000)
        // A step of the wall clock between the three reads would break this; the reads are microseconds apart.
        #expect(first + 1 >= before && first <= after + 1, "before \(before), clock \(first), after \(after)")
        #expect(clock.nowMs() >= first)
        #expect(ControlClock.shared.nowMs() > 1_700_000_000_000)
    }
}
