import RecTransport
import RecWire

/// A worker's tunables.
public struct WorkerConfiguration: Sendable {
    /// The broker's backend endpoint, such as `tcp://127.0.0.1:5556`.
    public var broker: String
    /// The worker's display id (defaults to `host-pid`).
    public var workerId: String
    /// Requests the worker accepts at once: its credit with the broker.
    public var slots: Int = 64
    /// Heartbeat interval, ms; the broker is presumed gone after `liveness` silent intervals.
    public var heartbeatIntervalMs: UInt64 = 1000
    /// Silent intervals before the worker reconnects.
    public var liveness: UInt64 = 3
    /// First reconnect delay, ms; it doubles up to ``reconnectMaxMs``.
    public var reconnectInitialMs: UInt64 = 250
    /// Longest reconnect delay, ms.
    public var reconnectMaxMs: UInt64 = 4000
    /// The most rows scored in one micro-batch.
    public var batchMaxRows: Int = 512
    /// A SCORE request of at least this many rows is scored on its own, on arrival, never merged
    /// into a micro-batch: at this size the forward pass's cost per row no longer falls with the
    /// batch, so merging would only add queueing (docs/BENCHMARKS.md, "Micro-batching").
    public var batchAloneRows: Int = 128
    /// How long to wait for more requests to fill a micro-batch, µs (0: batch what is already queued).
    public var batchWaitMicros: UInt64 = 0
    /// Exit when the parent process goes away (used by `recpool local`).
    public var exitWithParent = false
    /// Seed of the online policy's exploration and replay sampling (nil: from the id, pid and time, so replicas
    /// explore independently); a fixed seed makes `recpool simulate --deterministic` repeatable.
    public var explorationSeed: UInt64?
    /// Extra socket options for the DEALER, such as CURVE client keys.
    public var socketOptions: [SocketOption] = []
    /// Limits on inbound messages: ``RecWire/WireLimits/workerInbound`` (1 GiB a message, for datasets and catalogues
    /// from the broker), with the standard rows and columns for a SCORE's tensor.
    public var limits: WireLimits = .workerInbound

    /// Creates a configuration for a broker endpoint.
    public init(broker: String, workerId: String) {
        self.broker = broker
        self.workerId = workerId
    }
}
