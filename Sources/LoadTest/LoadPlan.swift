import Foundation

/// How load is offered: an open loop at a rate, or a closed loop of a fixed concurrency.
public enum LoadMode: Sendable, Hashable {
    /// Requests are sent on a schedule, whether or not earlier ones were answered.
    /// Latency counts from each request's intended send time, so a slow server cannot hide its
    /// queueing by slowing the sender (no coordinated omission).
    case open(rate: Double, poisson: Bool)
    /// `concurrency` loops each send a request, await its reply and send the next.
    case closed(concurrency: Int)

    /// A short label such as `rate 1000/s` or `concurrency 8`.
    public var label: String {
        switch self {
        case .open(let rate, let poisson):
            "rate \(rate == rate.rounded() && abs(rate) < 1e15 ? String(Int(rate)) : String(format: "%g", rate))/s"
                + (poisson ? " poisson" : "")
        case .closed(let c): "concurrency \(c)"
        }
    }

    /// Whether requests follow a schedule (an open loop) rather than replies (a closed one).
    public var isOpen: Bool {
        if case .open = self { return true }
        return false
    }

    /// The offered level: requests/s for an open loop, loops for a closed one.
    public var level: Double {
        switch self {
        case .open(let rate, _): rate
        case .closed(let c): Double(c)
        }
    }
}

/// Everything that shapes one run.
public struct LoadPlan: Sendable, Hashable {
    /// Open or closed loop.
    public var mode: LoadMode
    /// How long requests are sent, in µs.
    public var durationMicros: UInt64
    /// How long to wait for replies after the last send before counting the rest as lost, in µs.
    public var drainMicros: UInt64
    /// The latency objective, in µs; replies within it count towards goodput.
    public var objectiveMicros: UInt64
    /// Rows per request (for rows/s).
    public var batch: Int
    /// Seed of the Poisson schedule.
    public var seed: UInt64
    /// The open loop's bound on requests in flight: an arrival that finds this many outstanding is not sent and
    /// counts as the error ``inFlightLimitError``, so a rate the pool (or this machine) cannot keep up with shows as
    /// dropped at the client instead of a backlog that grows until the load generator runs out of memory (about
    /// 5 KB a request: `--rate 10000000` for 1 s was killed by the kernel at 22 GB).
    public var maxInFlight: Int

    /// The error name an arrival dropped at ``maxInFlight`` counts under.
    public static let inFlightLimitError = "IN_FLIGHT_LIMIT"


    /// Creates a plan.
    public init(
        mode: LoadMode, durationMicros: UInt64, drainMicros: UInt64 = 1_000_000, objectiveMicros: UInt64 = 10_000,
        batch: Int = 1, seed: UInt64 = 1, maxInFlight: Int = 10_000
    ) {
        self.mode = mode
        self.durationMicros = durationMicros
        self.drainMicros = drainMicros
        self.objectiveMicros = objectiveMicros
        self.batch = batch
        self.seed = seed
        self.maxInFlight = max(1, maxInFlight)
    }
}
