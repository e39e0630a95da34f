import RecWire
import Testing

@testable import BrokerCore

/// A payload frame held outside the core (as the reactor holds libzmq messages), for checking that the
/// core forwards the very frame it was given, never a copy of its bytes.
private final class OpaqueFrame: PayloadFrame, @unchecked Sendable {
    let bytes: [UInt8]
    /// How many times the core read the frame's bytes.
    nonisolated(unsafe) var reads = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var byteCount: Int { bytes.count }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        reads += 1
        return bytes.withUnsafeBytes(body)
    }
}

/// Zero-copy payloads in the core (issue #19): a SCORE's rows reach the worker as the frame the reactor
/// received, and the broker checks only the header and the tensor's shape.
@Suite("Broker core: held payloads")
struct HeldPayloadTests {
    let client: [UInt8] = [0xC1]
    let worker: [UInt8] = [0xA1]
    let otherWorker: [UInt8] = [0xA2]

    /// Dispatches recorded with the payload frames as the core handed them over.
    static func dispatched(_ actions: [BrokerAction]) -> [(identity: [UInt8], payload: [any PayloadFrame])] {
        actions.compactMap {
            if case .sendToWorker(let identity, let frames, let payload) = $0,
                let header = try? Header(decoding: frames[0]), header.command == .score
            {
                return (identity, payload)
            }
            return nil
        }
    }

    @Test("a held SCORE payload is dispatched as the same frame, again on a re-dispatch, and its values are not read")
    func sameFrameForwarded() throws {
        var h = CoreHarness()
        h.registerWorker(worker)
        let tensor = Tensor(rows: 2, cols: 2, values: [1, .nan, 3, 4]).encoded()
        let frame = OpaqueFrame(tensor)
        var actions: [BrokerAction] = []
        h.core.handle(
            .client(identity: client, frames: [Header(command: .score, requestId: 1).encoded()], userId: nil, held: [frame]),
            now: h.now, into: &actions)
        let first = try #require(Self.dispatched(actions).first)
        #expect(first.identity == worker)
        #expect((first.payload.first as? OpaqueFrame) === frame)
        // The shape and the width for routing: two reads of the 8-byte prefix, never the NaN inside.
        #expect(frame.reads <= 3)
        // The worker is lost: the request goes to another worker with the same frame.
        h.registerWorker(otherWorker)
        actions.removeAll()
        h.core.handle(.workerUnreachable(identity: worker), now: h.now, into: &actions)
        let second = try #require(Self.dispatched(actions).first)
        #expect(second.identity == otherWorker)
        #expect((second.payload.first as? OpaqueFrame) === frame)
        #expect(second.payload.first?.bytes == tensor)
    }

    @Test("a held frame that is not a tensor of its own length is a typed BAD_REQUEST, never dispatched")
    func badShape() {
        var h = CoreHarness()
        h.registerWorker(worker)
        let cases: [([UInt8], WireError)] = [
            ([1, 0, 0], .tensorTooShort(bytes: 3)),
            (Tensor(rows: 1, cols: 2, values: [1, 2]).encoded() + [0], .tensorSizeMismatch(rows: 1, cols: 2, bytes: 17)),
            ([0, 0, 0, 0, 2, 0, 0, 0], .emptyTensor(rows: 0, cols: 2)),
        ]
        expectRefused(cases, status: .badRequest, &h)
    }

    /// Sends each held frame as a SCORE and expects it refused with `status` and its error's text, never dispatched.
    private func expectRefused(_ cases: [([UInt8], WireError)], status: Status, _ h: inout CoreHarness) {
        for (index, (bytes, error)) in cases.enumerated() {
            let id = UInt64(index + 1)
            h.feed(
                .client(
                    identity: client, frames: [Header(command: .score, requestId: id).encoded()], userId: nil,
                    held: [OpaqueFrame(bytes)]))
            let reply = h.replies(to: client, id: id).first
            #expect(reply?.header.status == status)
            #expect(reply?.errorText == error.description)
        }
        #expect(h.dispatches.isEmpty)
    }

    @Test("an empty tensor over a limit is TOO_LARGE for the limit (limits are checked before emptiness)")
    func emptyOverLimitIsTooLarge() {
        var h = CoreHarness()
        h.registerWorker(worker)
        let limits = h.core.configuration.limits
        let cases: [([UInt8], WireError)] = [
            ([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], .tooManyColumns(cols: Int(UInt32.max), limit: limits.maxColumns)),
            ([0x28, 0x23, 0, 0, 0, 0, 0, 0], .tooManyRows(rows: 9_000, limit: limits.maxRows)),
        ]
        expectRefused(cases, status: .tooLarge, &h)
    }

    @Test("held bytes count against the byte limits like copied ones")
    func heldBytesCounted() {
        var h = CoreHarness { $0.clientBytesLimit = 100 }
        let frame = OpaqueFrame(Tensor(rows: 20, cols: 2, values: [Float](repeating: 1, count: 40)).encoded())
        h.feed(
            .client(
                identity: client, frames: [Header(command: .score, requestId: 1).encoded()], userId: nil, held: [frame]))
        #expect(h.replies(to: client, id: 1).first?.header.status == .busy)
    }
}
