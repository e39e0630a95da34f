import RecTransport

/// The control plane's clock, in ms since the Unix epoch: the wall clock as read when the broker started, advanced by
/// the boot-time clock (`CLOCK_BOOTTIME`: NTP slews it as it slews the wall clock, a step never moves it, and it
/// counts a suspended host's or virtual machine's sleep, which `CLOCK_MONOTONIC` leaves out: after a night's suspend
/// every impression would have been stamped hours behind).
///
/// Its times are both stamps (an impression's `created_ms`, a feedback window's start) and timers (the online sync's
/// interval and timeout, a training round's timeout, a catalogue confirmation's timeout). On the wall clock itself, a
/// step back of two minutes stopped online syncs until the clock caught up (a step back of years, for good), and a
/// step forward timed out a training round that had finished. A step of the host's clock while the broker runs moves
/// none of them; a restart takes up the corrected clock (docs/OPERATIONS.md, "Clocks").
struct ControlClock: Sendable {
    private let startEpochMillis: UInt64
    private let startMonotonicMicros: UInt64
    private let monotonicMicros: @Sendable () -> UInt64

    /// The clock of this broker process, started at its first read.
    static let shared = ControlClock()

    /// A clock started now on the two given sources (tests give their own; the broker the host's).
    init(
        epochMillis: @Sendable () -> UInt64 = Clocks.epochMillis,
        monotonicMicros: @escaping @Sendable () -> UInt64 = Clocks.bootMicros
    ) {
        self.monotonicMicros = monotonicMicros
        startMonotonicMicros = monotonicMicros()
        startEpochMillis = epochMillis()
    }

    /// Now, in ms since the epoch (saturating).
    func nowMs() -> UInt64 {
        let now = monotonicMicros()
        let elapsed = now > startMonotonicMicros ? now - startMonotonicMicros : 0
        return startEpochMillis.addingReportingOverflow(elapsed / 1_000).overflow
            ? .max : startEpochMillis + elapsed / 1_000
    }
}
