import RecWire

@testable import Worker

extension PolicyRecommendHandler {
    /// ``answer(_:served:modelVersion:sampler:nowEpochMillis:onTruncatedRetrieval:)`` on a worker serving model
    /// version 0, for the tests whose requests pin no version.
    static func answer(
        _ message: WireMessage, served: ServedPolicy, sampler: inout PolicySampler, nowEpochMillis: UInt64
    ) -> WireMessage {
        answer(message, served: served, modelVersion: 0, sampler: &sampler, nowEpochMillis: nowEpochMillis)
    }
}
