import Foundation
import RecClient
import RecTransport
import RecWire
import Synchronization
import Testing

/// Overload: offer three times the measured capacity and check that the pool sheds the excess with
/// BUSY at once instead of queueing it into timeouts, and that what it admits is still served at
/// capacity.
///
/// Settings, and why: the broker's SCORE queue holds 64 requests and the worker takes 16 at a
/// time, so at most 80 requests wait. Even at the ~100 requests a second a loaded debug build
/// manages with 256-row requests, that is under a second of work, far inside the 5 s timeout, so
/// nothing accepted expires; yet 64 waiting is four worker-fulls, deep enough that the worker never
/// starves between batches. Everything beyond it is refused with BUSY on arrival, before the broker
/// copies the rows out of libzmq, which keeps its memory bounded by the queue, not by the offered
/// load.
///
/// Capacity and goodput are measured side by side, by the same client in the same process,
/// in interleaved steady-state windows (capacity, overload, capacity, overload, …), so that a
/// neighbour's build slowing the machine down moves both sides of each ratio alike.
@Suite("Overload", .serialized)
struct OverloadTests {
    /// Rows a request: enough that scoring, not messaging, is what a served request costs, so
    /// refusing the excess (one small BUSY reply, sent before the broker reads the rows) is cheap.
    static let rows = 256
    /// Overload windows, each between two capacity windows.
    static let pairs = 4

    static func request() -> WireMessage {
        let values = (0..<(rows * 106)).map { Float($0 % 13) / 13 }
        return WireMessage(
            header: Header(command: .score), payload: [Tensor(rows: rows, cols: 106, values: values).encoded()])
    }

    /// One measured window: OK replies a second between two instants of a steady state.
    struct Window {
        var okPerSecond: Double
        /// CPU seconds a second used by the broker, the worker and this process (the load generator).
        var cpu: (broker: Double, worker: Double, client: Double)
    }

    /// Closed loop: `lanes` callers back to back; after `warmUp` seconds, counts OK replies for
    /// `seconds`, then stops the callers and waits for them.
    static func closedLoop(_ client: RecPoolClient, lanes: Int, warmUp: Double, seconds: Double, pids: [Int32])
        async -> Window
    {
        let message = request()
        let run = RunFlags()
        return await withTaskGroup(of: Void.self) { group in
            for _ in 0..<lanes {
                group.addTask {
                    while !run.stop.load(ordering: .relaxed) {
                        if let reply = try? await client.roundTrip(message), reply.header.status == .ok {
                            run.ok.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            try? await Task.sleep(for: .seconds(warmUp))
            let window = await measure(seconds: seconds, pids: pids) { run.ok.load(ordering: .relaxed) }
            run.stop.store(true, ordering: .relaxed)
            await group.waitForAll()
            return window
        }
    }

    /// Open loop: arrivals on a fixed schedule at `rate` a second, whatever the replies do; after
    /// `warmUp` seconds (the queue fills), counts OK replies for `seconds`, then stops arriving and
    /// waits for every reply. Every outcome goes into `tally`.
    static func openLoop(
        _ client: RecPoolClient, rate: Double, warmUp: Double, seconds: Double, pids: [Int32], tally: OutcomeTally
    ) async -> Window {
        let message = request()
        let run = RunFlags()
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Discarding: a finished request leaves nothing behind for the generator to reap.
                await withDiscardingTaskGroup { requests in
                    let start = Clocks.monotonicMicros()
                    var issued = 0
                    while !run.stop.load(ordering: .relaxed) {
                        let due = Int(Double(Clocks.monotonicMicros() - start) / 1_000_000 * rate)
                        while issued < due {
                            issued += 1
                            requests.addTask {
                                do {
                                    let reply = try await client.roundTrip(message)
                                    if reply.header.status == .ok { run.ok.add(1, ordering: .relaxed) }
                                    tally.statuses.withLock { $0[reply.header.status, default: 0] += 1 }
                                } catch {
                                    tally.failures.withLock {
                                        $0[(error as? ClientError)?.statusName ?? "\(error)", default: 0] += 1
                                    }
                                }
                            }
                        }
                        // Issue what is due every 5 ms: a 1 ms tick cost the generator (the process
                        // the pool shares the cores with) a wake-up a millisecond.
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
            try? await Task.sleep(for: .seconds(warmUp))
            let window = await measure(seconds: seconds, pids: pids) { run.ok.load(ordering: .relaxed) }
            run.stop.store(true, ordering: .relaxed)
            await group.waitForAll()
            return window
        }
    }

    /// Samples `count` and the CPU time of `pids` (broker, worker) and of this process before and
    /// after sleeping `seconds`.
    static func measure(seconds: Double, pids: [Int32], count: () -> Int) async -> Window {
        let startCount = count()
        let startCPU = pids.map(cpuSeconds) + [cpuSeconds(pid: getpid())]
        let start = Clocks.monotonicMicros()
        try? await Task.sleep(for: .seconds(seconds))
        let endCount = count()
        let endCPU = pids.map(cpuSeconds) + [cpuSeconds(pid: getpid())]
        let elapsed = Double(Clocks.monotonicMicros() - start) / 1_000_000
        let used = zip(startCPU, endCPU).map { ($1 - $0) / elapsed }
        return Window(okPerSecond: Double(endCount - startCount) / elapsed, cpu: (used[0], used[1], used[2]))
    }

    @Test(
        "at three times capacity every excess request gets BUSY, admitted work is served, and broker memory stays bounded"
    )
    func threeTimesCapacity() async throws {
        try await ProcessCluster.withPool(
            brokerArguments: ["--queue-capacity", "64"], workers: ["w1"], workerArguments: ["--slots", "16"]) { cluster, client in
            let broker = try #require(cluster.pid("broker"))
            let worker = try #require(cluster.pid("w1"))
            let pids = [broker, worker]
            // The worker gets a core of its own and the broker and this load generator share the other,
            // as if the worker ran on its own host: capacity is the worker's, and the 3× offered load
            // cannot take CPU from it (on a shared 2-core box it otherwise did, and goodput measured the
            // neighbours). Restored afterwards, since this process runs the other suites too.
            let pinned = ProcessInfo.processInfo.activeProcessorCount >= 2
            if pinned {
                pinCPUs(pid: worker, cpus: "1")
                pinCPUs(pid: broker, cpus: "0")
                pinCPUs(pid: getpid(), cpus: "0")
            }
            defer { if pinned { pinCPUs(pid: getpid(), cpus: "0-\(ProcessInfo.processInfo.activeProcessorCount - 1)") } }

            _ = await Self.closedLoop(client, lanes: 64, warmUp: 0.5, seconds: 0.5, pids: pids)  // warm-up
            let warm = try #require(residentBytes(pid: broker))
            let tally = OutcomeTally()
            var capacities = [await Self.closedLoop(client, lanes: 64, warmUp: 0.3, seconds: 1.5, pids: pids)]
            var overloads: [Window] = []
            for _ in 0..<Self.pairs {
                let offered = 3 * capacities.last!.okPerSecond
                overloads.append(
                    await Self.openLoop(client, rate: offered, warmUp: 0.5, seconds: 1.5, pids: pids, tally: tally))
                capacities.append(await Self.closedLoop(client, lanes: 64, warmUp: 0.3, seconds: 1.5, pids: pids))
            }
            let after = try #require(residentBytes(pid: broker))
            let counts = tally.statuses.withLock { $0 }
            let failures = tally.failures.withLock { $0 }
            func describe(_ w: Window) -> String {
                String(
                    format: "%.1f/s (CPU cores: broker %.2f, worker %.2f, client %.2f)", w.okPerSecond, w.cpu.broker,
                    w.cpu.worker, w.cpu.client)
            }
            // Each overload window against the mean of the capacity windows on either side of it.
            var ratios: [Double] = []
            for (index, overload) in overloads.enumerated() {
                let capacity = (capacities[index].okPerSecond + capacities[index + 1].okPerSecond) / 2
                ratios.append(overload.okPerSecond / capacity)
                print("overload: capacity \(describe(capacities[index])); at 3×: goodput \(describe(overload))")
            }
            print("overload: capacity \(describe(capacities.last!))")
            print("overload: goodput/capacity per pair \(ratios.map { String(format: "%.2f", $0) }); \(counts)")

            #expect(failures.isEmpty, "timeouts or client errors: \(failures)")
            #expect(Set(counts.keys).isSubset(of: [.ok, .busy]), "\(counts)")
            #expect(counts[.busy, default: 0] > 0, "the excess was not refused")
            #expect(overloads.allSatisfy { $0.okPerSecond > 0 }, "an overload window served nothing")
            // Goodput against capacity is a speed, not a behaviour: neighbours' builds move single windows
            // by ±50% on a shared 2-core machine, so the suite asserts no ratio (the tests assert
            // behaviour; speed belongs to the benchmarks). The ratios are printed above; `scripts/chaos`
            // (RECPOOL_STRICT_OVERLOAD=1, for a quiet machine) asks 90% of the lower-median pair, and
            // docs/BENCHMARKS.md records it.
            if ProcessInfo.processInfo.environment["RECPOOL_STRICT_OVERLOAD"] == "1" {
                let sorted = ratios.sorted()
                #expect(sorted[(sorted.count - 1) / 2] >= 0.9, "lower-median goodput/capacity below 90%: \(ratios)")
            }
            #expect(after - warm < 50 * 1024 * 1024, "broker RSS grew from \(warm) to \(after) bytes")
        }
    }
}

/// Sets the CPU affinity of every thread of a process (`taskset -a -p -c`); best effort.
func pinCPUs(pid: Int32, cpus: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    process.arguments = ["-a", "-p", "-c", cpus, "\(pid)"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return }
    process.waitUntilExit()
}

/// CPU time (user and system) a process has used, in seconds, from `/proc/PID/stat`.
func cpuSeconds(pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return 0 }
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// What the callers of one load window share: OK replies so far, and when to stop.
final class RunFlags: Sendable {
    let ok = Atomic(0)
    let stop = Atomic(false)
}

/// Replies by status and client-side failures by name, shared by many request tasks.
final class OutcomeTally: Sendable {
    let statuses = LockedBox([Status: Int]())
    let failures = LockedBox([String: Int]())
}
