import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// (The worker's side is `OnlineMachineTests.loggedAtBrokerTime`.) An impression is logged at the broker's time, whatever the worker's clock wrote (docs/PROTOCOL.md). The record was
/// checked with the worker's time and then stamped with the broker's, unchecked: a worker whose clock read past 9999
/// had every slate refused as malformed, and a broker whose clock did stored a row the log could not read back (every
/// FEEDBACK on it INTERNAL, `logs export` refused for the whole log).
@Suite("An impression's time is the broker's, and always one the log can hold")
struct ImpressionClockTests {
    static let year10000Ms: UInt64 = ImpressionRecord.maximumCreatedMs + 1_000

    @Test("a broker clock past 9999 refuses the slate naming the broker's clock, and stores nothing")
    func brokerClockPast9999() throws {
        var m = try OnlineMachine()
        let record = UntrustedSlateTests.record(m)
        let actions = m.feed(
            .impression(
                worker: "w-a", record: WireJSON.encode(record),
                reply: HeldSlate(client: [9], frames: HeldSlateFixtures.frames(for: record, requestId: 41))),
            nowMs: Self.year10000Ms)
        let reply = try #require(actions.heldReplies.first)
        #expect(reply.header.status == .internal)
        #expect(actions.invalidSlateReplies.isEmpty, "not the worker's fault")
        #expect(reply.errorText?.contains("the broker's clock reads") == true, "\(reply.errorText ?? "")")
        #expect(m.feed(.flush, nowMs: Self.year10000Ms).commits.allSatisfy { $0.impressions.isEmpty })
    }
}
