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
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }

    /// Monotonic time in ns (`CLOCK_MONOTONIC`), for latency measurement.
    public static func monotonicNanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Wall-clock time in ms since the Unix epoch (`CLOCK_REALTIME`).
    public static func epochMillis() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }
}
