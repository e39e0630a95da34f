import Testing

@testable import BrokerCore
@testable import RecWire

/// A READY whose document decodes but names no worker the broker could route to is answered DISCONNECT, like one
/// that does not decode, and never shows in STATUS.
@Suite("READY documents are validated")
struct ReadyValidationTests {
    static func hello(
        id: String = "w", slots: Int = 4, width: Int = 2, sha: String? = nil, pid: Int32 = 1
    ) -> WorkerHello {
        WorkerHello(
            workerId: id, services: ["SCORE"], slots: slots, inputWidth: width, modelVersion: 0, host: "h", pid: pid,
            modelSha256: sha)
    }

    static func ready(_ h: inout CoreHarness, _ hello: WorkerHello) {
        h.feed(
            .worker(
                identity: [0x7],
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
    }

    @Test(
        "negative slots, a width below 1 or above 2^24, a SHA that is not hex, an empty id or one with a control character",
        arguments: [
            hello(slots: -1), hello(slots: Int(UInt32.max) + 1), hello(width: 0), hello(width: -3), hello(width: 1 << 33), hello(sha: "zz"),
            hello(sha: String(repeating: "A", count: 64)), hello(id: ""), hello(id: "a\nb"), hello(id: "a\u{0}c"),
            hello(pid: -5), hello(pid: 0), hello(pid: .min),
        ])
    func refused(_ document: WorkerHello) {
        var h = CoreHarness()
        Self.ready(&h, document)
        #expect(h.core.liveWorkerCount == 0)
        #expect(h.sentToWorkers.last?.message.header.command == .disconnect)
        #expect(h.core.counters[.malformedWorkerMessages] == 1)
    }

    /// A READY with an undefined flag bit or a status registered the worker silently, while a HEARTBEAT with the same
    /// header is counted and not applied.
    @Test("a READY whose header sets an undefined flag or a status is refused as malformed")
    func refusedHeader() {
        var flagged = Header(command: .ready)
        flagged.flags = Header.Flags(rawValue: 0x80)
        var withStatus = Header(command: .ready)
        withStatus.status = .busy
        for header in [flagged, withStatus] {
            var h = CoreHarness()
            h.feed(
                .worker(
                    identity: [0x7], frames: WireMessage(header: header, payload: [WireJSON.encode(Self.hello())]).frames(),
                    peerAddress: "127.0.0.1"))
            #expect(h.core.liveWorkerCount == 0)
            #expect(h.sentToWorkers.last?.message.header.command == .disconnect)
            #expect(h.core.counters[.malformedWorkerMessages] == 1)
        }
    }

    @Test("a valid READY registers, at the edges too")
    func accepted() {
        for document in [
            Self.hello(slots: 0), Self.hello(slots: Int(UInt32.max)), Self.hello(width: 1), Self.hello(width: 1 << 24),
            Self.hello(sha: String(repeating: "0a", count: 32)), Self.hello(id: "größe-1"), Self.hello(pid: .max),
        ] {
            var h = CoreHarness()
            Self.ready(&h, document)
            #expect(h.core.liveWorkerCount == 1, "\(document)")
        }
    }

    @Test("a HEARTBEAT announcing a width no model has is counted and leaves the recorded width")
    func heartbeatWidth() {
        var h = CoreHarness()
        Self.ready(&h, Self.hello(width: 2))
        for width in [UInt32(0), 1 << 31] {
            let load = WorkerLoad(slots: 4, queued: 0, inputWidth: width)
            h.feed(
                .worker(
                    identity: [0x7],
                    frames: WireMessage(header: Header(command: .heartbeat), payload: [load.encoded()]).frames(),
                    peerAddress: nil))
        }
        #expect(h.core.workers[[0x7]]?.inputWidth == 2)
        #expect(h.core.counters[.malformedWorkerMessages] == 2)
    }
}
