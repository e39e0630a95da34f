/// The one reader of a load test's durations (`--duration`, `--drain`, `--window`, `--slo-p99`): a number ≥ 0 with
/// `us`, `ms`, `s` or `m`, or bare seconds, counted in whole microseconds, at most a day.
///
/// Each bound is said in its own words for every flag: `--duration 9223372036854775807` said "cannot read" where the
/// value was read and too long, and `--drain 1e-9` or `--drain 0.0001ms` silently became 0 where `--duration 1e-9`
/// was refused.
public enum LoadDuration {
    /// The longest duration: one day, in µs.
    public static let longestMicros: UInt64 = 86_400_000_000

    /// The duration `text` names, in µs.
    /// - Parameters:
    ///   - flag: the flag it was given to, for the message.
    ///   - allowsZero: whether exactly 0 is a value (`--drain 0`: no drain).
    /// - Throws: ``LoadDurationError`` naming the flag and the text: unreadable, longer than a day, or above 0 but
    ///   below the 1 µs resolution (or 0 where it is not allowed).
    public static func micros(_ text: String, flag: String, allowsZero: Bool = false) throws(LoadDurationError) -> UInt64 {
        let units: [(String, Double)] = [("us", 1), ("µs", 1), ("ms", 1e3), ("s", 1e6), ("m", 60e6)]
        var number = Substring(text)
        var scale = 1e6
        if let (suffix, unitScale) = units.first(where: { text.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count)
            scale = unitScale
        }
        // Decimal only, as every other number option: Swift's `Double(_:)` reads `0x1p-1` as 0.5 and `0x10` as 16.
        guard !number.contains(where: { $0 == "x" || $0 == "X" }), let value = Double(number), value >= 0, !value.isNaN
        else {
            throw LoadDurationError(flag: flag, text: text, problem: .unreadable)
        }
        let exact = value * scale
        guard exact <= Double(longestMicros) else { throw LoadDurationError(flag: flag, text: text, problem: .tooLong) }
        let micros = UInt64(exact.rounded(.down))
        if micros == 0 && !(allowsZero && value == 0) {
            throw LoadDurationError(flag: flag, text: text, problem: .belowResolution)
        }
        return micros
    }
}

/// A load-test duration that cannot be used (``LoadDuration``).
public struct LoadDurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with it.
    public enum Problem: Sendable, Hashable {
        /// No number ≥ 0 with a known unit.
        case unreadable
        /// More than a day.
        case tooLong
        /// Above 0 but below 1 µs, or 0 where a duration must pass.
        case belowResolution
    }

    /// The flag.
    public var flag: String
    /// The value as typed.
    public var text: String
    /// What is wrong.
    public var problem: Problem

    /// Creates the error.
    public init(flag: String, text: String, problem: Problem) {
        self.flag = flag
        self.text = text
        self.problem = problem
    }

    /// The message, naming the flag and the value.
    public var description: String {
        switch problem {
        case .unreadable:
            // Only --drain takes 0; every other duration is at least 1us (``belowResolution``).
            "\(flag): cannot read \"\(text)\": a duration is a number \(flag == "--drain" ? "≥ 0" : "> 0") with us, ms, s or "
                + "m (10s, 250ms, 2m), or bare seconds"
        case .tooLong:
            // Said in the units a duration is read in: "24h" itself is not one of them.
            "\(flag) must be at most 1440m (a day), got \(text)"
        case .belowResolution:
            "\(flag) must be at least 1us (durations are counted in whole µs)\(flag == "--drain" ? ", or 0" : ""), got \(text)"
        }
    }
}
