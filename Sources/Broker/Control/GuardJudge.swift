import RecPolicy
import RecTransport
import RecWire

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
        /// Impressions with feedback left out of `evidence` because retrieval served them (the candidate's probability of their slates cannot be computed).
        var leftOut: Int = 0
        var margin: Double
        var minimumRows: Int
        var nowMs: UInt64
    }

    private let mailbox = MailboxThread<Case, Never>(name: "broker-guard", ownerWakeup: nil)

    /// Starts the thread; verdicts go to `deliver`.
    init(deliver: @escaping @Sendable (_ sync: UInt64, _ decision: GuardDecision) -> Void) {
        mailbox.start { c in
            let decision = PolicyGuard.decide(
                candidate: c.candidate, current: c.current, on: c.evidence, margin: c.margin,
                minimumRows: c.minimumRows, leftOut: c.leftOut, nowMs: c.nowMs)
            deliver(c.sync, decision)
            return nil
        }
    }

    /// Queues a case.
    func judge(_ c: Case) { mailbox.post(c) }

    /// Stops the thread after the case it is judging.
    func stop() { mailbox.stop() }
}
