import BrokerCore
import RecTransport
import RecWire

/// Gives memory back to the system after a burst: glibc keeps freed blocks in its arenas, so a
/// flood of large requests would otherwise leave the broker's resident set at its peak.
struct MemoryReturn {
    /// Bytes received from libzmq since the last burst was noticed.
    private var receivedSinceBurst = 0
    private var lastTrimAt: UInt64 = 0
    /// Returns still owed to the last burst: one as soon as the broker holds little again, and
    /// one more a second later, for what libzmq and the queues freed after the first.
    private var trimsOwed = 0
    /// A burst: this many bytes received, or held at once.
    private static let burstBytes = 64 << 20

    mutating func received(_ bytes: Int) {
        receivedSinceBurst = receivedSinceBurst.addingSaturating(bytes)
    }

    /// Once the broker holds little again after a burst, returns free memory (`malloc_trim(0)`),
    /// at most once a second.
    mutating func returnAfterBurst(core: inout BrokerCore, nowMicros: UInt64) {
        if receivedSinceBurst >= Self.burstBytes || core.peakHeldBytes >= Self.burstBytes {
            trimsOwed = 2
            receivedSinceBurst = 0
            core.resetPeakHeldBytes()
        }
        guard trimsOwed > 0, core.heldBytes < Self.burstBytes / 8,
            nowMicros >= lastTrimAt.addingSaturating(1_000_000)
        else { return }
        FreeMemory.returnToSystem()
        lastTrimAt = nowMicros
        trimsOwed -= 1
    }
}
