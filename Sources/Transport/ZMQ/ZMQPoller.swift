/// One entry of a poll set: a ZeroMQ socket or a plain file descriptor.
public struct PollItem {
    let socket: UnsafeMutableRawPointer?
    let fd: Int32
    let events: ZMQPollEvents
    /// The events that were ready when the last poll returned.
    public internal(set) var returned: ZMQPollEvents = []

    /// Polls a socket for `events`.
    public init(socket: ZMQSocket, events: ZMQPollEvents = .readable) {
        self.socket = socket.handle
        self.fd = 0
        self.events = events
    }

    /// Polls a file descriptor (such as a ``WakeupSignal``) for `events`.
    public init(fileDescriptor: Int32, events: ZMQPollEvents = .readable) {
        self.socket = nil
        self.fd = fileDescriptor
        self.events = events
    }

    /// Whether the item was readable when the last poll returned.
    public var isReadable: Bool { returned.contains(.readable) }
}

/// Waits on several sockets and descriptors at once (`zmq_poll`). Owned by one thread.
public struct ZMQPoller {
    /// The poll set, in the order it was given.
    public var items: [PollItem]

    /// Creates a poller over `items`.
    public init(_ items: [PollItem]) { self.items = items }

    /// Waits until an item is ready or the timeout passes.
    /// - Parameter timeoutMilliseconds: -1 waits forever, 0 returns at once.
    /// - Returns: how many items are ready.
    @discardableResult
    public mutating func poll(timeoutMilliseconds: Int) throws(ZMQError) -> Int {
        try LibZMQ.poll(&items, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Whether item `index` was readable after the last poll.
    public func isReadable(_ index: Int) -> Bool { items[index].isReadable }
}
