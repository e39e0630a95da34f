/// xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2018),
/// seeded through ``SplitMix64``.
///
/// This is RecPool's only source of randomness for models: initialisation, shuffling, sampling
/// and exploration all draw from it, so the same seed gives the same model and the same training
/// run on any machine. Floats are drawn from the top 24 bits (``nextFloat()``), never through
/// `Float.random(in:)`, whose algorithm the standard library does not promise to keep.
public struct Xoshiro256: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose state is four SplitMix64 outputs of `seed`.
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform float in `[0, 1)`: the top 24 bits times 2⁻²⁴.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform double in `[0, 1)`: the top 53 bits times 2⁻⁵³.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform float in `[lower, upper)`.
    public mutating func nextFloat(in lower: Float, _ upper: Float) -> Float {
        lower + (upper - lower) * nextFloat()
    }

    /// A uniform integer in `0..<bound` by Lemire's multiply-shift with rejection (unbiased).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "Xoshiro256.nextInt: bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// A standard normal draw by the Box–Muller transform.
    public mutating func nextGaussian() -> Float {
        let u1 = max(nextDouble(), 0x1p-53)
        let u2 = nextDouble()
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates, drawing with ``nextInt(below:)``).
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        if count < 2 { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            p.swapAt(i, nextInt(below: i + 1))
        }
        return p
    }
}
