import Foundation

/// Runs blocking work — a ZeroMQ reactor, a compute loop — on its own OS thread, so that it never
/// occupies a thread of Swift's cooperative pool, and lets async code await its end.
public enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and returns its result when it finishes.
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                nameInKernel(name)
                continuation.resume(returning: body())
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Starts `body` on a new thread named `name` and returns at once.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            nameInKernel(name)
            body()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Gives the calling thread `name` (its first 15 bytes) where `top -H`, `perf` and `/proc/PID/task/*/comm` read it:
    /// Foundation's `Thread.name` does not reach the kernel on Linux, so every thread showed the name of the
    /// cooperative-pool thread that started it (`oot.default-qos`).
    static func nameInKernel(_ name: String) {
        #if os(Linux)
            let bytes = Array(name.utf8.prefix(15))
            try? Data(bytes).write(to: URL(fileURLWithPath: "/proc/thread-self/comm"))
        #endif
    }
}
