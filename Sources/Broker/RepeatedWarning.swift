import Logging

/// A warning that may repeat thousands of times a second (a reply dropped because its client does
/// not read): the first occurrence is logged at once, later ones are counted and logged as one
/// summary line (the count) per interval. A flood therefore costs one log line per interval,
/// not one per event. Used from the reactor thread only.
final class RepeatedWarning {
    private let message: String
    private let intervalMicros: UInt64
    private var windowStartedAt: UInt64?
    private var suppressed = 0
    private var lastMetadata: Logger.Metadata = [:]

    /// Creates a warning logged as `message`, summarised once per `intervalMs`.
    init(_ message: String, intervalMs: UInt64 = 10_000) {
        self.message = message
        intervalMicros = intervalMs.multipliedSaturating(by: 1000)
    }

    /// Records one occurrence at `nowMicros` (monotonic): logged now if it is the first of a
    /// window, otherwise counted for the summary.
    func record(nowMicros: UInt64, metadata: Logger.Metadata, logger: Logger) {
        flush(nowMicros: nowMicros, logger: logger)
        if windowStartedAt == nil {
            windowStartedAt = nowMicros
            logger.warning("\(message)", metadata: metadata)
        } else {
            suppressed += 1
            lastMetadata = metadata
        }
    }

    /// Logs the summary of a window that has ended: how many occurrences were not logged, with
    /// the last one's metadata. Call it from the reactor's timer too, so a summary is not held back
    /// until the next occurrence.
    func flush(nowMicros: UInt64, logger: Logger) {
        guard let started = windowStartedAt, nowMicros >= started.addingSaturating(intervalMicros) else { return }
        if suppressed > 0 {
            var metadata = lastMetadata
            metadata["repeated"] = "\(suppressed)"
            metadata["interval_ms"] = "\(intervalMicros / 1000)"
            logger.warning("\(message) (repeated)", metadata: metadata)
            windowStartedAt = nowMicros
        } else {
            windowStartedAt = nil
        }
        suppressed = 0
    }
}
