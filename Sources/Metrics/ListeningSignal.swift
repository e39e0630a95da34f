import Foundation

/// Says once whether a server bound its address: ``wait()`` suspends until ``settle(_:)`` is called (then returns
/// what it was given), and returns at once afterwards. The broker waits on its metrics endpoint's signal before it
/// announces its own endpoints, so a process that is about to exit because its metrics address is in use never
/// says it is listening.
public final class ListeningSignal: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Bool, Never>])
        case settled(Bool)
    }

    /// Read and written only under ``lock``: a pthread mutex (NSLock), which ThreadSanitizer sees, unlike
    /// `Synchronization.Mutex`, whose futex it does not (it reported this class's state as a race).
    nonisolated(unsafe) private var state = State.waiting([])
    private let lock = NSLock()

    /// A signal not settled yet.
    public init() {}

    /// Settles the signal: `true` when bound, `false` when the server will not listen. Later calls change nothing.
    public func settle(_ listening: Bool) {
        let waiting = lock.withLock { () -> [CheckedContinuation<Bool, Never>] in
            guard case .waiting(let continuations) = state else { return [] }
            state = .settled(listening)
            return continuations
        }
        for continuation in waiting { continuation.resume(returning: listening) }
    }

    /// Whether the server bound its address, once that is known.
    public func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let settled = lock.withLock { () -> Bool? in
                switch state {
                case .settled(let value): return value
                case .waiting(var continuations):
                    continuations.append(continuation)
                    state = .waiting(continuations)
                    return nil
                }
            }
            if let settled { continuation.resume(returning: settled) }
        }
    }
}
