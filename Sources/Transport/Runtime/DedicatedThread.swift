import Foundation

/// Runs blocking work — a ZeroMQ reactor, a compute loop — on its own OS thread, so that it never
/// occupies a thread of Swift's cooperative pool, and lets async code await its end.
public enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and returns its result when it finishes.
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: body())
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Starts `body` on a new thread named `name` and returns at once.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}
