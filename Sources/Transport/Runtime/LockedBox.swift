#if canImport(Glibc)
    import Glibc
#endif

/// A value behind a `pthread_mutex_t`: the lock every piece of state shared between RecPool's
/// threads sits behind.
///
/// Why not `Synchronization.Mutex`: on Linux its contended path (`_MutexHandle._lockSlow`, a
/// priority-inheritance futex) lives in the uninstrumented `libswiftSynchronization.so`, so
/// ThreadSanitizer sees no acquire when a thread had to wait for the lock, and reports every
/// contended critical section as a data race (reproduced with four threads appending to one
/// `Mutex<[Int]>`, Swift 6.3.1). A false report on each lock would bury a true one, so shared
/// state uses this box instead: TSan intercepts `pthread_mutex_lock`, checks every access made
/// under it, and reports lock-order inversions too. Uncontended, it costs about what `Mutex` does.
///
/// Use it like `Mutex`: keep the state in one value (a struct or a state enum) and do all the
/// work on it inside ``withLock(_:)``; return what must happen afterwards (resume a continuation,
/// signal a thread) and do that after unlocking.
public final class LockedBox<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is read and written only between `pthread_mutex_lock` and
    // `pthread_mutex_unlock` of `mutex`, which the class allocates once and never moves.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Creates a box holding `value`.
    public init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed with \(status)")
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Do not call back into the same box from
    /// `body`: the lock is not recursive.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws.
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
