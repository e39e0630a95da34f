import DequeModule

/// A dedicated thread that takes tasks from a mailbox one at a time, in the order they were posted,
/// and leaves each result in an outbox for the thread that owns it (signalling that thread's
/// wake-up pipe). The worker's compute and online-learning threads and the broker's guard are
/// each one of these: slow work runs here, never on a socket-owning thread or the cooperative pool.
public final class MailboxThread<Task: Sendable, Outcome: Sendable>: Sendable {
    private let inbox = LockedBox(Deque<Task>())
    private let outbox = LockedBox(Deque<Outcome>())
    private let wakeup = WakeupSignal()
    private let stopRequested = LockedBox(false)
    private let ownerWakeup: WakeupSignal?
    private let name: String

    /// Creates the mailbox; nothing runs until ``start(_:)``.
    /// - Parameters:
    ///   - name: the thread's name.
    ///   - ownerWakeup: signalled after each outcome is queued (nil when outcomes are delivered otherwise).
    public init(name: String, ownerWakeup: WakeupSignal?) {
        self.name = name
        self.ownerWakeup = ownerWakeup
    }

    /// Starts the thread: it runs `perform` on each task and queues what it returns.
    public func start(_ perform: @escaping @Sendable (Task) -> Outcome?) {
        DedicatedThread.start(name: name) { [self] in
            var poller = ZMQPoller([PollItem(fileDescriptor: wakeup.fileDescriptor)])
            while !stopRequested.withLock({ $0 }) {
                _ = try? poller.poll(timeoutMilliseconds: 500)
                wakeup.drain()
                while let task = inbox.withLock({ $0.popFirst() }) {
                    if let outcome = perform(task) {
                        outbox.withLock { $0.append(outcome) }
                        ownerWakeup?.signal()
                    }
                }
            }
        }
    }

    /// Posts a task. Safe from any thread.
    public func post(_ task: Task) {
        inbox.withLock { $0.append(task) }
        wakeup.signal()
    }

    /// Takes the queued outcomes, oldest first. Called by the owner.
    public func drain() -> [Outcome] {
        outbox.withLock { queue in
            // Nothing to take is the common case (every wake-up asks); `[]` also keeps TSan quiet
            // about the stdlib writing a zero count into the shared empty-array storage.
            guard !queue.isEmpty else { return [] }
            defer { queue.removeAll() }
            return Array(queue)
        }
    }

    /// Stops the thread after the task it is performing.
    public func stop() {
        stopRequested.withLock { $0 = true }
        wakeup.signal()
    }
}
