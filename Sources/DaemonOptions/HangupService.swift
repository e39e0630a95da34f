import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// Traps SIGHUP for the life of a daemon and calls a handler on each one, instead of letting the
/// default action end the process (exit 129, no drain, no log line). The broker reloads its
/// allow-lists; the worker logs that it has nothing to reload.
///
/// Create it before the service group runs (``trap(onHangup:)``), so the signal is caught from then
/// on; it ends on graceful shutdown.
public struct HangupService: Service {
    private let signals: UnixSignalsSequence
    private let onHangup: @Sendable () -> Void

    private init(signals: UnixSignalsSequence, onHangup: @escaping @Sendable () -> Void) {
        self.signals = signals
        self.onHangup = onHangup
    }

    /// Ignores SIGHUP from the first line of `main` until ``trap(onHangup:)`` traps it: a reload sent in the first
    /// ~100 ms of a start (`systemctl start` then `reload`) ended the daemon with exit 129 (docs/SECURITY.md: SIGHUP
    /// never ends a RecPool daemon).
    public static func ignoreUntilTrapped() {
        signal(SIGHUP, SIG_IGN)
    }

    /// Starts trapping SIGHUP now; `onHangup` runs once per signal while the service runs.
    public static func trap(onHangup: @escaping @Sendable () -> Void) async -> HangupService {
        HangupService(signals: await UnixSignalsSequence(trapping: .sighup), onHangup: onHangup)
    }

    /// Calls the handler for each SIGHUP until graceful shutdown. It first sends again a SIGTERM or SIGINT that came
    /// while the daemon was starting (``EarlyStop``): the group that runs this service traps them by now.
    public func run() async throws {
        EarlyStop.resendIfReceived()
        for await _ in signals.cancelOnGracefulShutdown() { onHangup() }
    }
}
