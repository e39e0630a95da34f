import DequeModule
import RecPolicy
import Shared

/// Runs the off-policy guard on its own thread, so evaluating a candidate on thousands of logged
/// impressions never delays the control plane's feedback acknowledgements. Verdicts come back
/// through the closure it was given (the control plane's inbox).
final class GuardJudge: Sendable {
    /// One evaluation.
    struct Case: Sendable {
        var sync: UInt64
        var candidate: OnlinePolicy
        var current: OnlinePolicy
        var evidence: [GuardImpression]
        var margin: Double
        var minimumRows: Int
        var nowMs: UInt64
    }

    private let inbox = LockedBox(Deque<Case>())
    private let wakeup = WakeupSignal()
    private let stopRequested = LockedBox(false)
    private let deliver: @Sendable (_ sync: UInt64, _ decision: GuardDecision) -> Void

    /// Starts the thread; verdicts go to `deliver`.
    init(deliver: @escaping @Sendable (_ sync: UInt64, _ decision: GuardDecision) -> Void) {
        self.deliver = deliver
        DedicatedThread.start(name: "broker-guard") { [self] in self.loop() }
    }

    /// Queues a case.
    func judge(_ c: Case) {
        inbox.withLock { $0.append(c) }
        wakeup.signal()
    }

    /// Stops the thread after the case it is judging.
    func stop() {
        stopRequested.withLock { $0 = true }
        wakeup.signal()
    }

    private func loop() {
        var poller = ZMQPoller([PollItem(fileDescriptor: wakeup.fileDescriptor)])
        while !stopRequested.withLock({ $0 }) {
            _ = try? poller.poll(timeoutMilliseconds: 500)
            wakeup.drain()
            while let c = inbox.withLock({ $0.popFirst() }) {
                let decision = PolicyGuard.decide(
                    candidate: c.candidate, current: c.current, on: c.evidence, margin: c.margin,
                    minimumRows: c.minimumRows, nowMs: c.nowMs)
                deliver(c.sync, decision)
            }
        }
    }
}
