/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014): a
/// small, fast, seedable generator.
///
/// RecPool's one SplitMix64. It expands a 64-bit seed into ``Xoshiro256``'s 256-bit state, as
/// xoshiro's authors recommend, and drives everything that must replay from a seed on every
/// platform: simulated worlds and logs, bootstrap resamples, load-test payloads and the tests'
/// fuzzers.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's state; advances by the golden-ratio increment on every draw.
    public var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in `[0, 1)`: the top 53 bits times 2⁻⁵³.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform double in `[a, b)`.
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// A uniform integer in `0..<n` by Lemire's multiply-shift on the top 32 bits (bias below 2⁻³²
    /// for the sizes RecPool draws; ``Xoshiro256/nextInt(below:)`` is the unbiased one).
    public mutating func index(_ n: Int) -> Int { Int(((next() >> 32) &* UInt64(n)) >> 32) }

    /// A standard normal draw by the Box–Muller transform.
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 0x1.0p-53)
        let u2 = uniform()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}
