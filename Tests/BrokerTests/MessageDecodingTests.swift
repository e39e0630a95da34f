import RecWire
import Testing

@testable import BrokerCore

/// The array overload of `WireMessage(decoding:limits:)` (the one the socket shells call, issue 19) must accept,
/// refuse and name problems exactly as the generic one does for any other collection of frames; and the broker's
/// request keys hash as they compare.
@Suite("Broker core: message decoding")
struct MessageDecodingTests {
    private static let limits = WireLimits(maxFrames: 3, maxMessageBytes: 200)

    private static func outcome(_ decode: () throws(WireError) -> WireMessage) -> Result<WireMessage, WireError> {
        do { return .success(try decode()) } catch { return .failure(error) }
    }

    @Test("the array decode gives the same message or the same error as the generic decode, for valid and malformed frames")
    func matchesWireMessage() {
        let header = Header(command: .score, requestId: 7).encoded()
        var badMagic = header
        badMagic[0] = 0
        let cases: [[[UInt8]]] = [
            [],  // no frames
            [header],  // a header alone
            [header, [1, 2, 3]],  // a header and one payload frame
            [header, [1], [2]],  // at the frame limit
            [header, [1], [2], [3]],  // one frame over the limit
            [header, [UInt8](repeating: 9, count: 200)],  // over the byte limit
            [badMagic, [1]],  // a header that does not decode
            [Array(header.prefix(10)), [1]],  // a short header
        ]
        for frames in cases {
            let ours = Self.outcome { () throws(WireError) in try WireMessage(decoding: frames, limits: Self.limits) }
            let wire = Self.outcome { () throws(WireError) in try WireMessage(decoding: frames[...], limits: Self.limits) }
            switch (ours, wire) {
            case (.success(let a), .success(let b)): #expect(a == b, "frames \(frames.map(\.count))")
            case (.failure(let a), .failure(let b)): #expect(a.description == b.description, "frames \(frames.map(\.count))")
            default: Issue.record("frames \(frames.map(\.count)): \(ours) against \(wire)")
            }
        }
    }

    @Test("request keys that are equal hash alike; different identities or ids are different keys")
    func requestKeyHashing() {
        let a = ClientRequestKey(client: [1, 2, 3], requestId: 5)
        let b = ClientRequestKey(client: Array([0, 1, 2, 3].dropFirst()), requestId: 5)
        #expect(a == b && a.hashValue == b.hashValue)
        let keys: Set<ClientRequestKey> = [
            a, ClientRequestKey(client: [1, 2], requestId: 5), ClientRequestKey(client: [1, 2, 3], requestId: 6), b,
        ]
        #expect(keys.count == 3)
    }

    @Test("a duplicate request id leaves the outstanding request where it was: its answer still reaches the client")
    func duplicateKeepsLocation() throws {
        let client: [UInt8] = [0xC1]
        var h = CoreHarness()
        h.registerWorker([0xA])
        h.score(from: client, id: 1)
        h.score(from: client, id: 1)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.conflict])
        let dispatched = try #require(h.dispatches.first)
        h.answer(dispatched)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.conflict, .ok])
        #expect(h.core.outstandingRequests == 0 && h.core.inflightCount == 0)
    }

    @Test("a duplicate of an in-flight request leaves it in flight: a CANCEL then answers it CANCELLED")
    func duplicateThenCancel() {
        let client: [UInt8] = [0xC1]
        var h = CoreHarness()
        h.registerWorker([0xA])
        h.score(from: client, id: 1)
        h.score(from: client, id: 1)
        let cancel = WireMessage(header: Header(command: .cancel, requestId: 2), payload: [CancelPayload.encode(1)])
        h.feed(.client(identity: client, frames: cancel.frames(), userId: nil))
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.conflict, .cancelled])
        #expect(h.replies(to: client, id: 2).map(\.header.status) == [.ok])
    }
}
