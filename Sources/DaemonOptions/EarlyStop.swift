import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The SIGTERM or SIGINT that arrived before the service group trapped them, or 0.
private let earlyStopSignal = Atomic<Int32>(0)

/// Catches SIGTERM and SIGINT from the first line of a daemon's `main` until its service group traps them, and sends
/// the one that came to the process again once the group does: a stop sent while the daemon was still starting
/// (reading its configuration, opening its state directory) killed it by the signal's default action, where a stop
/// drains and exits 0 (docs/OPERATIONS.md, exit codes). A signal that arrives before `main` runs (while the binary is
/// still being loaded) still has its default action.
public enum EarlyStop {
    /// Installs the recording handler for SIGTERM and SIGINT. Call it on the first line of `main`.
    public static func recordUntilTrapped() {
        // The global is initialised here, on the main thread, never for the first time inside the handler (a lazy
        // global's initialisation is not async-signal-safe).
        _ = earlyStopSignal.load(ordering: .relaxed)
        let record: @convention(c) (Int32) -> Void = { signal in
            // An atomic store is async-signal-safe; the first stop wins.
            _ = earlyStopSignal.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
        }
        signal(SIGTERM, record)
        signal(SIGINT, record)
    }

    /// Sends the recorded signal to the process again, if one came: call it once the service group traps SIGTERM and
    /// SIGINT (from a service the group runs), so the group drains as for a stop sent then.
    public static func resendIfReceived() {
        let received = earlyStopSignal.exchange(0, ordering: .relaxed)
        if received != 0 { kill(getpid(), received) }
    }
}
