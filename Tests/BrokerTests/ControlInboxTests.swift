import Foundation
import Logging
import RecStore
import RecTestKit
import RecTransport
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// The control plane's inbox is bounded in bytes: what a client sends while the control thread is busy is refused
/// BUSY past `--control-inbox-bytes`, never queued without end.
@Suite("Control plane: a bounded inbox")
struct ControlInboxTests {
    static let mib = 1 << 20

    /// A CONTROL `upload` message whose chunk frame holds `bytes` bytes.
    static func control(_ requestId: UInt64, bytes: Int, client: [UInt8] = [1, 2]) -> ControlInput {
        let message = WireMessage(
            header: Header(command: .control, requestId: requestId),
            payload: [Array(#"{"op":"jobs"}"#.utf8), [UInt8](repeating: 7, count: bytes)])
        return .client(identity: client, message: message, userId: nil)
    }

    @Test("client inputs are taken up to the limit and refused past it, naming what waits; handled bytes free room")
    func boundedInBytes() throws {
        var inbox = ControlInbox(limit: 16 * Self.mib)
        // Three clients, so that no one passes its share (half the limit).
        let inputs = (1...4).map { Self.control(UInt64($0), bytes: 5 * Self.mib, client: [UInt8($0), 2]) }
        let input = inputs[3]
        let size = input.byteCount
        #expect(size == 2 + Header.size + 13 + 5 * Self.mib)
        for client in inputs.prefix(3) { #expect(inbox.admit(client) == .accepted) }
        #expect(inbox.heldBytes == 3 * size)
        #expect(inbox.admit(input) == .refused(heldBytes: 3 * size, limit: 16 * Self.mib))
        #expect(inbox.queue.count == 3)
        // Worker messages and the broker's own inputs are always taken.
        let round = WireMessage(
            header: Header(command: .roundResult), payload: [[UInt8](repeating: 1, count: Self.mib)])
        #expect(inbox.admit(.worker(identity: [3], message: round)) == .accepted)
        #expect(inbox.admit(.workers([])) == .accepted)
        let taken = inbox.takeAll()
        #expect(taken.count == 5 && inbox.queue.isEmpty)
        // Taken but not yet handled: still counted; the worker's bytes are held but do not count against clients.
        #expect(inbox.heldBytes == taken.reduce(0) { $0 + $1.bytes })
        #expect(inbox.admit(input) == .refused(heldBytes: 3 * size, limit: 16 * Self.mib))
        inbox.handled(taken)
        #expect(inbox.heldBytes == 0 && inbox.clientBytes.isEmpty)
        #expect(inbox.admit(input) == .accepted)
    }

    /// The results of a round of 256 replicas (75 MB of parameter packs) refused every client's FEEDBACK BUSY while
    /// they were merged, saying "75362563 bytes of requests already wait".
    @Test("worker messages never count against clients: a round's results leave the whole limit to requests")
    func workerBytesAreNotRequests() throws {
        var inbox = ControlInbox(limit: 16 * Self.mib)
        let round = WireMessage(
            header: Header(command: .roundResult), payload: [[UInt8](repeating: 1, count: 4 * Self.mib)])
        for replica in 0..<8 { #expect(inbox.admit(.worker(identity: [UInt8(replica)], message: round)) == .accepted) }
        #expect(inbox.heldBytes > 32 * Self.mib && inbox.requestBytes == 0)
        let feedback = Self.control(1, bytes: 100, client: [9])
        #expect(inbox.admit(feedback) == .accepted)
        #expect(inbox.admit(Self.control(2, bytes: 5 * Self.mib, client: [8])) == .accepted)
    }

    @Test("one client's inputs may hold at most half the inbox: a flood from one leaves room for the others")
    func clientShare() {
        var inbox = ControlInbox(limit: 16 * Self.mib)
        let flooder: [UInt8] = [9, 9], other: [UInt8] = [7, 7]
        let first = Self.control(1, bytes: 5 * Self.mib, client: flooder)
        #expect(inbox.admit(first) == .accepted)
        // A second 5 MiB from the same client would pass its 8 MiB share, though the inbox has room.
        #expect(
            inbox.admit(Self.control(2, bytes: 5 * Self.mib, client: flooder))
                == .refusedClientShare(clientBytes: first.byteCount, share: 8 * Self.mib))
        #expect(inbox.admit(Self.control(3, bytes: Self.mib, client: flooder)) == .accepted)
        // Another client still gets in, up to its own share.
        #expect(inbox.admit(Self.control(4, bytes: 5 * Self.mib, client: other)) == .accepted)
        // A held policy slate counts towards its client's share as well.
        let slate = ControlInput.heldImpression(
            worker: "w", record: [UInt8](repeating: 1, count: 4 * Self.mib), client: other, frames: [])
        guard case .refusedClientShare = inbox.admit(slate) else {
            Issue.record("the other client's slate passed its share")
            return
        }
        // Handled inputs free their client's share.
        let taken = inbox.takeAll()
        #expect(inbox.clientBytes[flooder] == taken.prefix(2).reduce(0) { $0 + $1.bytes })
        inbox.handled(taken)
        #expect(inbox.clientBytes.isEmpty && inbox.heldBytes == 0)
        #expect(inbox.admit(Self.control(5, bytes: 5 * Self.mib, client: flooder)) == .accepted)
    }

    @Test("one input is taken when nothing waits, however large")
    func oneAlwaysFits() {
        var inbox = ControlInbox(limit: Self.mib)
        #expect(inbox.admit(Self.control(1, bytes: 2 * Self.mib)) == .accepted)
        #expect(inbox.admit(Self.control(2, bytes: 1)) != .accepted)
    }

    @Test("a control plane whose thread is busy refuses pipelined CONTROL messages past its limit")
    func controlPlaneRefuses() throws {
        let directory = try TemporaryDirectory("control-inbox")
        defer { directory.remove() }
        let store = try RecStore(directory: directory.path)
        let plane = ControlPlane(
            store: store, reactorWakeup: WakeupSignal(), logger: Logger(label: "test"), inboxBytesLimit: 16 * Self.mib)
        // The control thread is not running: everything submitted waits, as behind a long operation.
        var outcomes: [ControlAdmission] = []
        // Four clients in turn, so the whole inbox fills before any one passes its share.
        for id in 1...100 {
            outcomes.append(plane.submit(Self.control(UInt64(id), bytes: Self.mib, client: [UInt8(id % 4), 1])))
        }
        let accepted = outcomes.filter { $0 == .accepted }.count
        #expect(accepted == 15)
        #expect(plane.inboxBytes <= 16 * Self.mib)
        guard case .refused(let held, let limit) = outcomes.last else {
            Issue.record("the 100th message was taken")
            return
        }
        #expect(held == plane.inboxBytes && limit == 16 * Self.mib)
    }

    @Test("the core answers a refused CONTROL BUSY naming the limit, with a retry hint, and counts it")
    func coreAnswersBusy() throws {
        var h = CoreHarness()
        h.feed(.controlBusy(Self.control(9, bytes: 100), heldBytes: 16_000_000, limit: 16 * Self.mib))
        let reply = try #require(h.replies(to: [1, 2], id: 9).first)
        #expect(reply.header.command == .control && reply.header.isReply)
        #expect(reply.header.status == .busy && reply.header.retryAfterMs == h.core.configuration.busyRetryAfterMs)
        #expect(reply.header.retryAfterMs > 0)
        let text = try #require(reply.errorText)
        #expect(
            text.contains("16000000 bytes") && text.contains("limit of 16777216 (--control-inbox-bytes)"), "\(text)")
        #expect(h.core.counters[.droppedBusyControl] == 1)
    }

    @Test("a policy slate the control plane cannot take is answered BUSY, not sent, and no longer outstanding")
    func heldSlateAnsweredBusy() throws {
        var h = CoreHarness()
        UnloggedSlateTests.registerPolicyWorker(&h)
        try UnloggedSlateTests.holdPolicySlate(&h)
        let held = try #require(h.toControl.last)
        #expect(h.core.outstandingRequests == 1)
        h.feed(.controlBusy(held, heldBytes: 20_000_000, limit: 16 * Self.mib))
        let answer = try #require(h.replies(to: [1], id: 5).first)
        #expect(answer.header.command == .recommend && answer.header.status == .busy)
        #expect(answer.header.attempt == 1)
        #expect(answer.errorText?.contains("the slate was not logged") == true)
        #expect(answer.errorText?.contains("--control-inbox-bytes") == true)
        #expect(h.core.outstandingRequests == 0)
        #expect(h.core.counters[.droppedBusyControl] == 1)
    }
}
