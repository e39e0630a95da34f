import Logging
import RecWire

@testable import Worker

/// Drives a ``WorkerCore`` with a hand-moved clock and records what it asks the shell to do.
struct WorkerHarness {
    var core: WorkerCore
    var now = WorkerInstant(monotonicMicros: 1_000_000, epochMillis: 1_700_000_000_000)
    /// Everything sent to the broker, with how.
    var sent: [(message: WireMessage, mode: SendMode)] = []
    var background: [BackgroundWork.Task] = []
    var online: [OnlineLearning.Task] = []
    /// When set, each online task is also performed here, as the worker's online thread would, and what it answers
    /// is recorded in ``sent`` (best effort) like the core's own sends.
    var relay: OnlineLearning?
    var recommends: [WireMessage] = []
    var batches: [Int] = []
    var errorReplies = 0
    var logs: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] = []
    var stopWorker = 0
    var parentChecks = 0
    var exits: [WorkerExit] = []

    static let replica = ModelReplica.seeded(inputWidth: 2, seed: 7)

    init(replica: ModelReplica = Self.replica, configure: (inout WorkerConfiguration) -> Void = { _ in }) {
        var configuration = WorkerConfiguration(broker: "tcp://broker:1", workerId: "w1")
        configuration.slots = 8
        configure(&configuration)
        core = WorkerCore(configuration: configuration, replica: replica, host: "h", pid: 42)
    }

    mutating func advance(ms: UInt64) {
        now.monotonicMicros += ms * 1000
        now.epochMillis += ms
    }

    mutating func feed(_ event: WorkerEvent) {
        for action in core.handle(event, now: now) {
            switch action {
            case .send(let frames, let mode): sent.append((try! WireMessage(decoding: frames), mode))
            case .background(let task): background.append(task)
            case .online(let task):
                online.append(task)
                if let relay, let frames = relay.perform(task) { sent.append((try! WireMessage(decoding: frames), .bestEffort)) }
            case .recommend(let message, _): recommends.append(message)
            case .batchScored(let rows, _, _): batches.append(rows)
            case .countErrorReply: errorReplies += 1
            case .log(let level, let message, let metadata): logs.append((level, message, metadata))
            case .stopWorker: stopWorker += 1
            case .checkParent: parentChecks += 1
            case .exit(let exit): exits.append(exit)
            }
        }
    }

    /// Feeds a message from the broker.
    mutating func receive(_ header: Header, _ payload: [[UInt8]] = []) {
        feed(.message(WireMessage(header: header, payload: payload).frames()))
    }

    /// A harness whose core is connected and registered, with nothing recorded as sent yet.
    static func registered(
        relay: OnlineLearning? = nil, configure: (inout WorkerConfiguration) -> Void = { _ in }
    ) -> WorkerHarness {
        var harness = WorkerHarness(configure: configure)
        harness.relay = relay
        harness.register()
        harness.sent.removeAll()
        harness.online.removeAll()  // the registration's task (WorkerCoreRegistrationTests checks it)
        return harness
    }

    /// Connects and lets the broker acknowledge the READY, naming the policy it serves.
    mutating func register(servedPolicy: PolicyVersionReference? = nil) {
        feed(.connected)
        receive(
            Header(command: .heartbeat),
            [WireJSON.encode(WorkerRegistration(workerId: "w1", requestedId: nil, servedPolicy: servedPolicy))])
    }

    /// Takes what was sent so far.
    mutating func takeSent() -> [(message: WireMessage, mode: SendMode)] {
        defer { sent.removeAll() }
        return sent
    }

    /// A SCORE request of `rows` rows of width `cols`.
    static func score(id: UInt64, rows: Int = 1, cols: Int = 2, attempt: UInt16 = 0) -> (Header, [[UInt8]]) {
        let tensor = Tensor(rows: rows, cols: cols, values: (0..<(rows * cols)).map { Float($0) / 10 })
        return (Header(command: .score, requestId: id, attempt: attempt), [tensor.encoded()])
    }
}
