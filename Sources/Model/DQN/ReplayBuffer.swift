/// One step of experience `(s, a, r, s′, done)`.
public struct Transition: Sendable, Equatable {
    /// The state features before acting.
    public var state: [Float]
    /// The action taken: an output index, or an item index in the item-input form.
    public var action: Int
    /// The reward received.
    public var reward: Float
    /// The state features after acting (ignored when `done`).
    public var nextState: [Float]
    /// Whether `nextState` is terminal, so nothing is bootstrapped from it.
    public var done: Bool

    /// Creates a transition.
    public init(state: [Float], action: Int, reward: Float, nextState: [Float], done: Bool) {
        self.state = state
        self.action = action
        self.reward = reward
        self.nextState = nextState
        self.done = done
    }
}

/// A fixed-capacity ring of transitions with uniform sampling (Lin 1992; Mnih et al. 2015).
///
/// When full, each new transition overwrites the oldest.
public struct ReplayBuffer: Sendable, Equatable {
    /// Most transitions kept.
    public let capacity: Int
    /// The stored transitions; ring order, not age order, once full.
    public private(set) var storage: [Transition] = []
    /// Where the next transition goes once the ring is full.
    private var next = 0

    /// Creates an empty buffer.
    public init(capacity: Int) {
        precondition(capacity > 0, "ReplayBuffer: capacity must be positive")
        self.capacity = capacity
        storage.reserveCapacity(min(capacity, 1 << 16))
    }

    /// Number of stored transitions.
    public var count: Int { storage.count }

    /// Stores a transition, evicting the oldest when full.
    public mutating func append(_ t: Transition) {
        if storage.count < capacity {
            storage.append(t)
        } else {
            storage[next] = t
        }
        next = (next + 1) % capacity
    }

    /// `n` transitions drawn uniformly with replacement.
    /// - Precondition: the buffer is not empty.
    public func sample(_ n: Int, rng: inout Xoshiro256) -> [Transition] {
        precondition(!storage.isEmpty, "ReplayBuffer.sample: buffer is empty")
        return (0..<n).map { _ in storage[rng.nextInt(below: storage.count)] }
    }
}
