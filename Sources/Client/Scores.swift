import RecWire
/// Where a request's time went, from the timing fields of its reply header.
public struct ReplyTimings: Sendable, Hashable, Codable {
    /// µs queued in the broker before dispatch.
    public var brokerQueueMicros: UInt32
    /// µs queued in the worker before compute.
    public var workerQueueMicros: UInt32
    /// µs of compute.
    public var computeMicros: UInt32

    /// Reads the timings of a reply header.
    public init(_ header: Header) {
        brokerQueueMicros = header.brokerQueueMicros
        workerQueueMicros = header.workerQueueMicros
        computeMicros = header.computeMicros
    }
}

/// The answer to a SCORE request: one probability per input row, in input order.
public struct Scores: Sendable, Hashable {
    /// The model version that produced every score in this reply.
    public var modelVersion: UInt64
    /// One probability per row.
    public var values: [Float]
    /// Where the time went.
    public var timings: ReplyTimings
}

/// Which model version a request wants.
public enum VersionRequirement: Sendable, Hashable {
    /// Whatever the worker serves.
    case any
    /// At least this version.
    case atLeast(UInt64)
    /// Exactly this version.
    case exactly(UInt64)

    func apply(to header: inout Header) {
        switch self {
        case .any: header.modelVersion = 0
        case .atLeast(let v): header.modelVersion = v
        case .exactly(let v):
            header.modelVersion = v
            header.flags.insert(.exactVersion)
        }
    }
}
