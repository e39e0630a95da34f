import Foundation
import RecWire
import RecTransport
import RecClient

/// Why ``eventually(timeoutMs:pollMs:_:_:)`` gave up.
public struct EventuallyTimeout: Error, CustomStringConvertible {
    /// What the test was waiting for.
    public var what: String
    /// How long it waited, in ms.
    public var timeoutMs: UInt64

    /// "… did not happen within N ms".
    public var description: String { "\(what) did not happen within \(timeoutMs) ms" }
}

/// Polls `condition` until it returns true, every `pollMs`, for at most `timeoutMs`.
///
/// Use it instead of a fixed sleep: the test waits only as long as the condition takes, and a
/// slow, shared machine only makes it slower, never wrong. The condition is checked once more
/// after the deadline, so a condition that holds at the deadline passes.
/// - Parameters:
///   - timeoutMs: the deadline, ms from the call (default 30 s, generous for a loaded machine).
///   - pollMs: the pause between two checks, ms.
///   - what: a description for the error, e.g. "two workers registered".
///   - condition: checked on the caller's task; an error it throws ends the wait at once.
/// - Throws: ``EventuallyTimeout`` when the deadline passes, or what `condition` throws.
public func eventually(
    timeoutMs: UInt64 = 30_000, pollMs: UInt64 = 20, _ what: String = "the condition",
    _ condition: () async throws -> Bool
) async throws {
    _ = try await eventuallyValue(timeoutMs: timeoutMs, pollMs: pollMs, what) { try await condition() ? () : nil }
}

/// Polls `produce` until it returns a value, every `pollMs`, for at most `timeoutMs`, and returns it.
/// - Parameters:
///   - timeoutMs: the deadline, ms from the call.
///   - pollMs: the pause between two attempts, ms.
///   - what: a description for the error.
///   - produce: returns `nil` while the awaited state has not arrived.
/// - Returns: the first non-nil value.
/// - Throws: ``EventuallyTimeout`` when the deadline passes, or what `produce` throws.
public func eventuallyValue<T>(
    timeoutMs: UInt64 = 30_000, pollMs: UInt64 = 20, _ what: String = "the condition",
    _ produce: () async throws -> T?
) async throws -> T {
    let deadline = Clocks.monotonicMicros() + timeoutMs * 1000
    while true {
        let expired = Clocks.monotonicMicros() >= deadline
        if let value = try await produce() { return value }
        if expired { throw EventuallyTimeout(what: what, timeoutMs: timeoutMs) }
        try await Task.sleep(for: .milliseconds(pollMs))
    }
}

/// The blocking form of ``eventually(timeoutMs:pollMs:_:_:)``, for code on a dedicated thread or in
/// a synchronous test. Never call it from Swift's cooperative pool.
/// - Returns: whether `condition` held before the deadline.
public func eventuallyBlocking(timeoutMs: UInt64 = 30_000, pollMs: UInt64 = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Clocks.monotonicMicros() + timeoutMs * 1000
    while true {
        let expired = Clocks.monotonicMicros() >= deadline
        if condition() { return true }
        if expired { return false }
        usleep(useconds_t(pollMs * 1000))
    }
}
