/// Named monotonically increasing counters: requests, replies by status, drops by reason.
/// They appear in the STATUS document and, later, as Prometheus metrics.
public struct BrokerCounters: Sendable, Hashable {
    /// The values by name.
    public private(set) var values: [String: UInt64] = [:]

    /// Creates empty counters.
    public init() {}

    /// Adds `amount` to the counter `name`.
    public mutating func add(_ name: String, _ amount: UInt64 = 1) {
        values[name, default: 0] &+= amount
    }

    /// The counter's value (0 when never touched).
    public subscript(name: String) -> UInt64 { values[name] ?? 0 }
}
