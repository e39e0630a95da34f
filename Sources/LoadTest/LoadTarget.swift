/// Where a request's time went on the server, from the timing fields of its reply header.
public struct ServerTimings: Sendable, Hashable {
    /// µs queued in the broker before dispatch.
    public var brokerQueueMicros: UInt64
    /// µs queued in the worker before compute.
    public var workerQueueMicros: UInt64
    /// µs of compute.
    public var computeMicros: UInt64

    /// Creates timings.
    public init(brokerQueueMicros: UInt64, workerQueueMicros: UInt64, computeMicros: UInt64) {
        self.brokerQueueMicros = brokerQueueMicros
        self.workerQueueMicros = workerQueueMicros
        self.computeMicros = computeMicros
    }
}

/// How one request ended.
public enum LoadOutcome: Sendable, Hashable {
    /// An `OK` reply carrying `rows` answers.
    case ok(rows: Int, timings: ServerTimings)
    /// An error reply or a client-side failure, named as on the wire (`BUSY`, `TIMEOUT`, …), with the reply's or the
    /// client's message when there is one.
    case failed(String, message: String? = nil)
}

/// Something a load test can send requests to.
public protocol LoadTarget: Sendable {
    /// Sends request number `index` and awaits how it ended. Must return for every request
    /// (a timeout is an outcome); the runner counts a request still waiting when the run ends as lost.
    func send(index: Int) async -> LoadOutcome
}
