import RecLoad
import Testing

/// One reader of load-test durations, with the same bounds and words for every flag.
@Suite("Load-test durations")
struct LoadDurationTests {
    @Test("durations read in their units, in whole µs", arguments: [
        ("10s", UInt64(10_000_000)), ("250ms", 250_000), ("500us", 500), ("2m", 120_000_000), ("1.5", 1_500_000),
        ("1440m", 86_400_000_000), ("1us", 1),
    ])
    func readable(text: String, micros: UInt64) throws {
        #expect(try LoadDuration.micros(text, flag: "--duration") == micros)
    }

    /// `--duration 0x1p-1` ran half a second and `0x10` sixteen, where every other number option refuses hexadecimal.
    @Test("a hexadecimal duration is unreadable for every flag", arguments: ["0x1p-1", "0x10", "0X10s", "0x1p0ms"])
    func hexadecimal(text: String) {
        for flag in ["--duration", "--drain", "--window", "--slo-p99"] {
            let error = #expect(throws: LoadDurationError.self) { try LoadDuration.micros(text, flag: flag) }
            #expect(error?.problem == .unreadable, "\(flag) \(text)")
        }
    }

    /// `--duration 9223372036854775807` said "cannot read"; the real problem is its length.
    @Test("a duration beyond a day is too long, whatever its size", arguments: ["9223372036854775807", "1441m", "1e300s", "inf"])
    func tooLong(text: String) {
        let error = #expect(throws: LoadDurationError.self) { try LoadDuration.micros(text, flag: "--duration") }
        #expect(error?.description == "--duration must be at most 1440m (a day), got \(text)")
    }

    /// `--drain 1e-9` and `--drain 0.0001ms` silently became 0 while `--duration 1e-9` was refused.
    @Test("a duration above 0 but below 1 µs is refused for every flag, the drain too", arguments: ["1e-9", "0.0001ms", "0.5us"])
    func belowResolution(text: String) {
        for flag in ["--duration", "--drain", "--window", "--slo-p99"] {
            let error = #expect(throws: LoadDurationError.self) {
                try LoadDuration.micros(text, flag: flag, allowsZero: flag == "--drain")
            }
            #expect(error?.problem == .belowResolution, "\(flag) \(text)")
            #expect(error?.description.hasPrefix("\(flag) must be at least 1us") == true)
        }
    }

    @Test("exactly 0 is a drain, never a run")
    func zero() throws {
        #expect(try LoadDuration.micros("0", flag: "--drain", allowsZero: true) == 0)
        #expect(try LoadDuration.micros("0s", flag: "--drain", allowsZero: true) == 0)
        #expect(throws: LoadDurationError.self) { try LoadDuration.micros("0", flag: "--duration") }
    }

    @Test("text that is no duration cannot be read", arguments: ["", "abc", "-1s", "nan", "10h", "s"])
    func unreadable(text: String) {
        let error = #expect(throws: LoadDurationError.self) { try LoadDuration.micros(text, flag: "--drain", allowsZero: true) }
        #expect(error?.problem == .unreadable, "\(text)")
        #expect(error?.description.hasPrefix("--drain: cannot read \"\(text)\"") == true)
    }

    /// `--duration -1s` said "a duration is a number ≥ 0", and `--duration 0` was then refused as below 1us.
    @Test("the unreadable message gives the bound the flag takes: ≥ 0 for the drain, > 0 for the rest")
    func unreadableBound() {
        for flag in ["--duration", "--window", "--slo-p99", "--drain"] {
            let error = #expect(throws: LoadDurationError.self) {
                try LoadDuration.micros("-1s", flag: flag, allowsZero: flag == "--drain")
            }
            let bound = flag == "--drain" ? "a duration is a number ≥ 0 with" : "a duration is a number > 0 with"
            #expect(error?.description.contains(bound) == true, "\(error?.description ?? "")")
        }
    }
}
