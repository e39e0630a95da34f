import ArgumentParser
import Broker
import OnlineFlags
import RecWire

extension OnlineOptions {
    /// The broker's online settings, or `nil` without `--online`.
    /// - Throws: `ValidationError` naming the flag or the problem.
    func settings() throws -> OnlineSettings? {
        guard online else { return nil }
        var s = OnlineSettings()
        s.syncIntervalMs = onlineSyncIntervalMs
        s.syncEvents = onlineSyncEvents
        s.syncTimeoutMs = onlineSyncTimeoutMs
        s.guardMargin = onlineGuardMargin
        s.guardMinimumRows = onlineGuardMinRows
        s.impressionLogSize = impressionLogSize
        s.keepVersions = onlineKeepVersions
        s.feedbackWindowMs = feedbackWindowS.multipliedSaturating(by: 1000)
        s.exploration = ExplorationSpec(kind: try explorationKind(), epsilon: epsilon, temperature: temperature)
        // Both learners are closed-form (no step size, no gradient steps): the spec's `steps_per_update` and
        // `learning_rate` keep their defaults and no flag sets them.
        s.learning = OnlineLearningSpec(
            updateEvery: onlineUpdateEvery, batchSize: 64, learner: try learnerKind(), gamma: onlineGamma,
            targetUpdateEvery: onlineTargetUpdateEvery)
        s.world.seed = onlineWorldSeed
        s.allowFaultInjection = allowFaultInjection
        // Checked when parsed (``VersionNumber/parseOrLatest(_:)``): `0`, `+1` and `01` passed here and turned online
        // learning off at start.
        if let onlineCatalogue { s.catalogue = onlineCatalogue }
        if let problem = s.problem { throw ValidationError("online learning: \(Self.flagNames(problem))") }
        return s
    }
}
