#if canImport(Glibc)
    import Glibc
#endif

/// Reads the two clocks RecPool uses: monotonic time for timers and intervals, and wall-clock time
/// for deadlines, which travel between hosts as ms since the Unix epoch.
public enum Clocks {
    /// Monotonic time in µs (`CLOCK_MONOTONIC`).
    public static func monotonicMicros() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return micros(spec)
    }

    /// Time since boot in µs (`CLOCK_BOOTTIME`): monotonic like `CLOCK_MONOTONIC`, and it also counts the time the
    /// host or virtual machine was suspended.
    public static func bootMicros() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return micros(spec)
    }

    /// Monotonic time in ns (`CLOCK_MONOTONIC`), for latency measurement.
    public static func monotonicNanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        guard spec.tv_sec >= 0, spec.tv_nsec >= 0 else { return 0 }
        let (ns, overflow) = UInt64(spec.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : ns.addingReportingOverflow(UInt64(spec.tv_nsec)).partialValue
    }

    /// `spec` in µs: 0 for a negative reading (no host gives one, but libfaketime shifts the monotonic clocks with the
    /// wall clock, and `UInt64(tv_sec)` trapped), saturated past 2⁶⁴ µs.
    static func micros(_ spec: timespec) -> UInt64 {
        guard spec.tv_sec >= 0, spec.tv_nsec >= 0 else { return 0 }
        let (us, overflow) = UInt64(spec.tv_sec).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? .max : us.addingReportingOverflow(UInt64(spec.tv_nsec) / 1000).partialValue
    }

    /// Wall-clock time in ms since the Unix epoch (`CLOCK_REALTIME`); 0 while the clock reads before 1970 (a host
    /// whose clock was never set, or was set back), where converting the negative seconds trapped and every process
    /// died; saturated at `UInt64.max`.
    public static func epochMillis() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return epochMillis(seconds: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }

    /// `seconds` and `nanoseconds` since the epoch as ms: 0 before the epoch, `UInt64.max` past what it holds.
    static func epochMillis(seconds: Int64, nanoseconds: Int64) -> UInt64 {
        guard seconds >= 0 else { return 0 }
        let (ms, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1000)
        guard !overflow else { return .max }
        return ms.addingReportingOverflow(UInt64(max(nanoseconds, 0)) / 1_000_000).overflow
            ? .max : ms + UInt64(max(nanoseconds, 0)) / 1_000_000
    }
}
