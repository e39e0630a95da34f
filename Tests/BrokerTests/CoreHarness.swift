import RecWire

@testable import Broker
@testable import BrokerCore

/// Drives a ``BrokerCore`` with a hand-moved clock and records what it sends.
struct CoreHarness {
    var core: BrokerCore
    var now: BrokerInstant
    var sentToClients: [(identity: [UInt8], message: WireMessage)] = []
    var sentToWorkers: [(identity: [UInt8], message: WireMessage)] = []
    var toControl: [ControlInput] = []

    init(configure: (inout BrokerConfiguration) -> Void = { _ in }) {
        var configuration = BrokerConfiguration()
        configure(&configuration)
        now = BrokerInstant(monotonicMicros: 1_000_000, epochMillis: 1_700_000_000_000)
        core = BrokerCore(configuration: configuration, now: now)
    }

    mutating func advance(ms: UInt64) {
        now.monotonicMicros += ms * 1000
        now.epochMillis += ms
    }

    mutating func feed(_ event: BrokerEvent) {
        for action in core.handle(event, now: now) {
            switch action {
            case .sendToClient(let identity, let frames):
                sentToClients.append((identity, try! WireMessage(decoding: frames)))
            case .sendToWorker(let identity, let frames, let payload):
                sentToWorkers.append((identity, try! WireMessage(decoding: frames + payload.map(\.bytes))))
            case .toControl(let input):
                toControl.append(input)
            }
        }
    }

    /// Registers worker `id`: process `pid` on host `h` (by default one process per identity).
    mutating func registerWorker(
        _ id: [UInt8], slots: Int = 4, version: UInt64 = 1, pid: Int32? = nil, inputWidth: Int = 2
    ) {
        let hello = WorkerHello(
            workerId: "w\(id[0])", services: ["SCORE"], slots: slots, inputWidth: inputWidth, modelVersion: version, host: "h",
            pid: pid ?? Int32(id[0]))
        feed(
            .worker(
                identity: id,
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
    }

    mutating func score(
        from client: [UInt8], id: UInt64, deadlineMs: UInt64 = 0, version: UInt64 = 0, exact: Bool = false, cols: Int = 2
    ) {
        var header = Header(command: .score, requestId: id, deadlineMs: deadlineMs, modelVersion: version)
        if exact { header.flags.insert(.exactVersion) }
        let rows = Tensor(rows: 1, cols: cols, values: (0..<cols).map { Float($0 + 1) })
        let message = WireMessage(header: header, payload: [rows.encoded()])
        feed(.client(identity: client, frames: message.frames(), userId: nil))
    }

    /// The worker answers a dispatched request successfully.
    mutating func answer(_ dispatched: (identity: [UInt8], message: WireMessage), version: UInt64 = 1) {
        var header = dispatched.message.header.reply(status: .ok, modelVersion: version)
        header.computeMicros = 5
        let reply = WireMessage(header: header, payload: [Tensor(rows: 1, cols: 1, values: [0.5]).encoded()])
        feed(.worker(identity: dispatched.identity, frames: reply.frames(), peerAddress: nil))
    }

    var dispatches: [(identity: [UInt8], message: WireMessage)] {
        sentToWorkers.filter { $0.message.header.command == .score && !$0.message.header.isReply }
    }

    func replies(to client: [UInt8], id: UInt64) -> [WireMessage] {
        sentToClients.filter { $0.identity == client && $0.message.header.requestId == id }.map(\.message)
    }
}
