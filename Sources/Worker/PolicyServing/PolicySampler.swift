import Foundation
import RecModel
import RecTransport

/// Names impressions: 16 hex digits of a random 64-bit prefix drawn once per process, `-`, and a counter.
/// The prefix makes ids unique across workers and restarts; the counter, within one process.
struct ImpressionIds: Sendable {
    /// The per-process prefix.
    let prefix: UInt64
    private var counter: UInt64 = 0

    /// Creates a generator with a given prefix (tests) or one from the system's random source.
    init(prefix: UInt64 = UInt64.random(in: .min ... .max)) {
        self.prefix = prefix
    }

    /// The next id, such as `3fa1c2d49b0e7788-42`.
    mutating func next() -> String {
        counter += 1
        let hex = String(prefix, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + "-\(counter)"
    }
}

/// The session thread's exploration state: the random stream slates are drawn from, and the impression ids.
/// Owned by one thread; each worker has its own stream.
struct PolicySampler: Sendable {
    /// The exploration stream.
    var rng: Xoshiro256
    /// The impression id generator.
    var ids: ImpressionIds

    /// Creates a sampler from an explicit seed and prefix (tests).
    init(seed: UInt64, prefix: UInt64) {
        rng = Xoshiro256(seed: seed)
        ids = ImpressionIds(prefix: prefix)
    }

    /// Creates a worker's sampler: the stream is seeded from its id, process id and the time, so that
    /// replicas (and restarts of one replica) explore independently.
    init(
        workerId: String, pid: Int32 = getpid(),
        nowNanos: UInt64 = Clocks.epochMillis() &* 1_000_000 ^ Clocks.monotonicNanos()
    ) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the id
        for byte in workerId.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let seed = hash ^ (UInt64(UInt32(bitPattern: pid)) << 32) ^ nowNanos
        rng = Xoshiro256(seed: seed)
        ids = ImpressionIds()
    }
}
