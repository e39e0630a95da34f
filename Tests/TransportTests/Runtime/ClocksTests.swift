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
}
