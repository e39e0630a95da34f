import Foundation
import RecModel

/// The intended send times of an open loop, as offsets from the start of the run.
///
/// A constant schedule sends request i at i / rate. A Poisson schedule draws exponential gaps of
/// mean 1 / rate by inversion, −ln(U) / rate (Knuth, TAOCP vol. 2, §3.4.1), from a seeded
/// SplitMix64, so a run can be repeated exactly.
public struct ArrivalSchedule: Sendable {
    private let rate: Double
    private let poisson: Bool
    private var random: SplitMix64
    private var next: Double = 0
    private var index: UInt64 = 0

    /// Creates a schedule of `rate` requests per second.
    public init(rate: Double, poisson: Bool, seed: UInt64 = 1) {
        precondition(rate > 0, "the rate must be positive, got \(rate)")
        self.rate = rate
        self.poisson = poisson
        self.random = SplitMix64(seed: seed)
    }

    /// The offset in µs of the next request's intended send time.
    public mutating func nextOffsetMicros() -> UInt64 {
        let offset: Double
        if poisson {
            offset = next
            let u = random.uniform()  // [0, 1)
            next += -log(1 - u) / rate * 1e6
        } else {
            offset = Double(index) / rate * 1e6
        }
        index += 1
        // Down, to the µs (the 1e-6 absorbs a quotient's last-bit error): rounded to nearest, the arrivals within half
        // a µs of the end fell past it, and 10,000,000/s for 1 s scheduled 9,999,995.
        return UInt64((offset + 1e-6).rounded(.down))
    }
}
