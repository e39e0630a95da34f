#if canImport(Glibc)
    import Glibc
#endif

/// A self-pipe that lets any thread wake a reactor thread blocked in `zmq_poll`.
///
/// Async callers put work in a locked queue and then call ``signal()``; the reactor polls
/// ``fileDescriptor`` alongside its sockets and calls ``drain()`` when it is readable. Both ends are
/// non-blocking, and writing to a pipe is thread safe, so this type is `Sendable`. (Glibc's module
/// map does not export `eventfd`, so a pipe does the same job.)
public final class WakeupSignal: Sendable {
    /// The read end, to put in a poll set.
    public let fileDescriptor: Int32
    private let writeEnd: Int32

    /// Creates the pipe.
    public init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "pipe failed with errno \(errno)")
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        fileDescriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        Glibc.close(fileDescriptor)
        Glibc.close(writeEnd)
    }

    /// Wakes the reactor. Cheap, and safe from any thread. A full pipe already means "wake up".
    public func signal() {
        var one: UInt8 = 1
        _ = Glibc.write(writeEnd, &one, 1)
    }

    /// Clears pending wake-ups. Called by the reactor thread.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while Glibc.read(fileDescriptor, &buffer, buffer.count) > 0 {}
    }
}
