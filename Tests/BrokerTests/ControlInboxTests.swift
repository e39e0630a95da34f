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
    static func control(_ requestId: UInt64, bytes: Int) -> ControlInput {
        let message = WireMessage(
            header: Header(command: .control, requestId: requestId),
            payload: [Array(#"{"op":"jobs"}"#.utf8), [UInt8](repeating: 7, count: bytes)])
        return .client(identity: [1, 2], message: message, userId: nil)
    }

    @Test("client inputs are taken up to the limit and refused past it, naming what waits; handled bytes free room")
    func boundedInBytes() throws {
        var inbox = ControlInbox(limit: 16 * Self.mib)
        let input = Self.control(1, bytes: 5 * Self.mib)
        let size = input.byteCount
        #expect(size == 2 + Header.size + 13 + 5 * Self.mib)
        for _ in 0..<3 { #expect(inbox.admit(input) == .accepted) }
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
        // Taken but not yet handled: still counted.
        #expect(inbox.admit(input) == .refused(heldBytes: taken.reduce(0) { $0 + $1.bytes }, limit: 16 * Self.mib))
        inbox.handled(bytes: taken.reduce(0) { $0 + $1.bytes })
        #expect(inbox.heldBytes == 0)
        #expect(inbox.admit(input) == .accepted)
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
        for id in 1...100 { outcomes.append(plane.submit(Self.control(UInt64(id), bytes: Self.mib))) }
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
