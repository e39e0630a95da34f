import Testing

@testable import Broker

/// `--online-sync-interval-ms 0`: syncs by event count only (what `recpool simulate --deterministic` needs).
@Suite struct OnlineSyncTriggerTests {
    /// One feedback event on item `item` of a fresh impression, committed.
    static func event(_ m: inout OnlineMachine, _ id: String, item: Int = 3) {
        _ = m.feed(.impression(worker: "w-a", record: m.record(id), reply: nil))
        _ = m.feed(.feedback(identity: [9], message: OnlineMachine.feedback(id, item: item)))
        _ = m.feed(.flush)
        _ = m.feed(.committed(.success(.init(feedbackNew: [true]))))
    }

    @Test func anIntervalOfZeroNeverSyncsByTimeOnlyByEventCount() throws {
        var settings = OnlineSettings()
        settings.syncIntervalMs = 0
        settings.syncEvents = 2
        #expect(settings.problem == nil)
        var m = try OnlineMachine(settings: settings)
        _ = m.feed(.workers([m.workerA]))
        Self.event(&m, "one")
        // A day later, one event pending: no pull.
        #expect(m.feed(.tick, nowMs: 86_400_000).toWorkers(.policyPull).isEmpty)
        #expect(!m.core.syncing)
        Self.event(&m, "two")
        #expect(m.feed(.tick, nowMs: 86_400_001).toWorkers(.policyPull).map(\.identity) == [m.workerA.identity])
    }

    /// A margin of 1e3 was taken: SNIPW is a click rate in [0, 1], so it rejected nothing, with no word.
    @Test("a guard margin outside 0…1 (not finite, negative, or past what a click rate can differ by) is refused naming the value")
    func guardMarginMustBeFinite() {
        for margin in [Double.infinity, -Double.infinity, .nan, -0.5, 1.5, 1e3, 18446744073709551616] {
            var settings = OnlineSettings()
            settings.guardMargin = margin
            #expect(settings.problem?.hasPrefix("online guard margin must be 0…1") == true, "\(margin)")
            #expect(settings.problem?.hasSuffix("got \(margin)") == true)
        }
        for margin in [0, 0.01, 1.0] {
            var settings = OnlineSettings()
            settings.guardMargin = margin
            #expect(settings.problem == nil, "\(margin)")
        }
    }

    @Test func aNonZeroIntervalStillSyncsByTime() throws {
        var settings = OnlineSettings()
        settings.syncIntervalMs = 1_000
        settings.syncEvents = 500
        var m = try OnlineMachine(settings: settings)
        _ = m.feed(.workers([m.workerA]))
        Self.event(&m, "one")
        #expect(m.feed(.tick, nowMs: 1_500).toWorkers(.policyPull).isEmpty)
        #expect(m.feed(.tick, nowMs: 2_001).toWorkers(.policyPull).count == 1)
    }
}
