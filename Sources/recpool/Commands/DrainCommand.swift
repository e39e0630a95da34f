import ArgumentParser
import RecTransport
import RecWire

/// `recpool drain WORKER_ID`: asks a worker, through the broker, to finish what it holds and leave.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Drain a worker: it gets no new requests, answers what it holds, deregisters and exits.")

    @OptionGroup var connection: BrokerOptions

    @Argument(help: "The worker's id, as `recpool status` lists it.")
    var worker: String

    func validate() throws {
        // As the broker checks a CONTROL request's names (WireText), before anything is sent.
        if let problem = WireText.nameProblem(worker, field: "the worker id") { throw ValidationError(problem) }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let reply = try await client.control(ControlRequest(.drain, worker: worker), as: DrainReply.self)
            CommandOutput.printLine("draining \(reply.worker) (\(reply.inflight) in flight)")
        }
    }
}
