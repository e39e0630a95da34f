import Foundation
import RecModel

/// The seed of a fuzz test, printed so that a failure replays.
///
/// A test takes its seeds from ``seeds(count:default:)``: normally `count` seeds derived from the
/// test's fixed default, so every run checks the same inputs; with `RECPOOL_FUZZ_SEED=<n>` set (decimal
/// or `0x` hex), only that one seed, so the run that failed can be repeated under a debugger.
public enum FuzzSeed {
    /// The environment variable that pins the seed.
    public static let environmentKey = "RECPOOL_FUZZ_SEED"

    /// The seed pinned by ``environmentKey``, if it is set and reads as a 64-bit integer.
    public static func pinned(environment: [String: String] = ProcessInfo.processInfo.environment) -> UInt64? {
        guard let text = environment[environmentKey]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return nil
        }
        if text.lowercased().hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }

    /// The seeds a fuzz test runs: the pinned one alone, or `count` seeds from `base` (`base`,
    /// `base + 1`, …). Each is printed with the variable that replays it.
    /// - Parameters:
    ///   - count: how many seeds without a pinned one.
    ///   - base: the test's fixed first seed.
    ///   - test: the test's name, for the printed line.
    ///   - environment: where to look for the pin (the process environment by default).
    public static func seeds(
        count: Int, base: UInt64, test: String = #function,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [UInt64] {
        let seeds = pinned(environment: environment).map { [$0] } ?? (0..<UInt64(max(count, 0))).map { base &+ $0 }
        if let first = seeds.first, let last = seeds.last {
            print("fuzz \(test): seeds \(first)…\(last); replay one with \(environmentKey)=<seed>")
        }
        return seeds
    }
}

/// A seeded source of fuzz input over ``SplitMix64``; a failing test reports its seed and replays
/// from it (``FuzzSeed``).
public struct FuzzRandom: Sendable {
    /// The generator.
    public var generator: SplitMix64

    /// The seed this stream started from.
    public let seed: UInt64

    /// Creates a stream from `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        generator = SplitMix64(seed: seed)
    }

    /// Creates a stream from `state` (the generator's starting state, i.e. the seed).
    public init(state: UInt64) { self.init(seed: state) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { generator.next() }

    /// A number in `0..<n` (`0` when `n` is not positive); modulo bias is irrelevant for fuzzing.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }

    /// A random byte.
    public mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }
}
