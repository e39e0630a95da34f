#if canImport(Glibc)
    import Glibc
#endif
import Testing

@testable import RecTransport

/// A host clock before 1970 (never set, or set back) made `UInt64(tv_sec)` trap: the broker died at start, a running
/// broker and worker within a second, and every `recpool` command in its first request.
@Suite("Wall-clock milliseconds never trap")
struct ClocksTests {
    static let cases: [(Int64, Int64, UInt64)] = [
        (-1, 999_999_999, 0), (Int64.min, 0, 0), (0, 0, 0), (0, 999_999_999, 999),
        (1_764_000_000, 123_456_789, 1_764_000_000_123), (Int64.max, 0, UInt64.max),
        (Int64(UInt64.max / 1000), 999_999_999, UInt64.max),
    ]

    @Test("before the epoch reads 0, past what 64 bits hold reads the largest value, otherwise ms", arguments: cases)
    func epochMillis(seconds: Int64, nanoseconds: Int64, expected: UInt64) {
        #expect(Clocks.epochMillis(seconds: seconds, nanoseconds: nanoseconds) == expected)
    }

    /// Under libfaketime the monotonic clocks move back with the wall clock (to −3e8 s for 1960), and every
    /// `recpool` command and the broker trapped converting them.
    @Test("a negative monotonic reading is 0 µs, never a trap")
    func negativeMonotonic() {
        #expect(Clocks.micros(timespec(tv_sec: -315_619_199, tv_nsec: 5)) == 0)
        #expect(Clocks.micros(timespec(tv_sec: 3, tv_nsec: 2_500)) == 3_000_002)
        #expect(Clocks.micros(timespec(tv_sec: Int.max, tv_nsec: 0)) == UInt64.max)
    }
}
