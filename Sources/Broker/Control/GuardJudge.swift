import RecPolicy
import RecTransport
import RecWire

/// Runs the off-policy guard on its own thread, so reading and evaluating a candidate on thousands of logged
/// impressions never delays the control plane's feedback acknowledgements: the thread reads its evidence from the store
/// itself (reading and decoding 3,000 stored impressions on the control plane's thread held every slate and FEEDBACK
/// for up to seconds at each sync). Verdicts come back through the closure it was given (the control plane's inbox).
final class GuardJudge: Sendable {
    /// The guard's evidence: the impressions it judges on, and how many with feedback it left out because retrieval
    /// served them (the candidate's probability of their slates cannot be computed).
    typealias Evidence = (impressions: [GuardImpression], leftOut: Int)

    /// One evaluation.
    struct Case: Sendable {
        var sync: UInt64
        var candidate: OnlinePolicy
        var current: OnlinePolicy
        /// Reads the evidence, on the guard's thread; a failure rejects the candidate, naming it.
        var evidence: @Sendable () throws -> Evidence
        var margin: Double
        var minimumRows: Int
        var nowMs: UInt64
    }

    private let mailbox = MailboxThread<Case, Never>(name: "broker-guard", ownerWakeup: nil)

    /// Starts the thread; verdicts go to `deliver`.
    init(deliver: @escaping @Sendable (_ sync: UInt64, _ decision: GuardDecision) -> Void) {
        mailbox.start { c in
            deliver(c.sync, Self.decide(c))
            return nil
        }
    }

    /// Reads a case's evidence and judges its candidate on it (on the calling thread).
    static func decide(_ c: Case) -> GuardDecision {
        do {
            let evidence = try c.evidence()
            return PolicyGuard.decide(
                candidate: c.candidate, current: c.current, on: evidence.impressions, margin: c.margin,
                minimumRows: c.minimumRows, leftOut: evidence.leftOut, nowMs: c.nowMs)
        } catch {
            // Without its evidence the candidate cannot be judged: the sync ends rejected, saying why (logged when the
            // verdict arrives).
            return GuardDecision(
                accepted: false, reason: "\(unreadableEvidence): \(error)", candidateValue: nil, currentValue: nil,
                margin: c.margin, rows: 0, atMs: c.nowMs)
        }
    }

    /// How a verdict's reason starts when the evidence could not be read.
    static let unreadableEvidence = "rejected: the guard's evidence cannot be read"

    /// Queues a case.
    func judge(_ c: Case) { mailbox.post(c) }

    /// Stops the thread after the case it is judging.
    func stop() { mailbox.stop() }
}
