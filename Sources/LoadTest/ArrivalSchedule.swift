import Foundation

/// The intended send times of an open loop, as offsets from the start of the run.
///
/// A constant schedule sends request i at i / rate. A Poisson schedule draws exponential gaps of
/// mean 1 / rate by inversion, −ln(U) / rate (Knuth, TAOCP vol. 2, §3.4.1), from a seeded
/// SplitMix64, so a run can be repeated exactly.
public struct ArrivalSchedule: Sendable {
    private let rate: Double
    private let poisson: Bool
    private var state: UInt64
    private var next: Double = 0
    private var index: UInt64 = 0

    /// Creates a schedule of `rate` requests per second.
    public init(rate: Double, poisson: Bool, seed: UInt64 = 1) {
        precondition(rate > 0, "the rate must be positive, got \(rate)")
        self.rate = rate
        self.poisson = poisson
        self.state = seed
    }

    /// The offset in µs of the next request's intended send time.
    public mutating func nextOffsetMicros() -> UInt64 {
        let offset: Double
        if poisson {
            offset = next
            let u = Double(splitMix() >> 11) * 0x1.0p-53  // [0, 1)
            next += -log(1 - u) / rate * 1e6
        } else {
            offset = Double(index) / rate * 1e6
        }
        index += 1
        return UInt64(offset.rounded())
    }

    private mutating func splitMix() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
