import Foundation
import RecClient
import RecTransport
import RecWire

/// `recpool status --watch`: redraws the status every second, with per-worker requests/s computed
/// from the change in each worker's completed count, and the jobs when the broker keeps state.
/// Ctrl-C ends it cleanly (SIGINT is caught, the cursor restored, exit 0).
enum StatusWatch {
    static func run(client: RecPoolClient, json: Bool) async throws {
        signal(SIGINT, SIG_IGN)
        let interrupts = DispatchSource.makeSignalSource(signal: SIGINT)
        let stop = StopFlag()
        interrupts.setEventHandler { stop.set() }
        interrupts.resume()
        defer { interrupts.cancel() }
        var previous: [String: (completed: UInt64, at: UInt64)] = [:]
        while !stop.isSet {
            let status = try await client.status()  // the client's timeout: --timeout-ms
            let now = Clocks.monotonicMicros()
            var rates: [String: Double] = [:]
            for worker in status.workers {
                // A worker that registered again under the same id starts its count over: no rate for that frame
                // (the wrapping difference printed 1.8e19 requests a second).
                if let last = previous[worker.id], now > last.at, worker.completed >= last.completed {
                    rates[worker.id] = Double(worker.completed - last.completed) / (Double(now - last.at) / 1e6)
                }
                previous[worker.id] = (worker.completed, now)
            }
            if json {
                CommandOutput.printLine(try JSONOutput.encode(status))
            } else {
                let jobs = try? await client.control(ControlRequest(.jobs), as: JobListView.self, timeoutMs: 1000)
                var screen = "\u{1B}[H\u{1B}[2J" + StatusTable.render(status, rates: rates) + "\n"
                if let jobs, !jobs.jobs.isEmpty {
                    screen += "\nJOB        STATE      ROUND     LOSS\n"
                    for job in jobs.jobs.suffix(8) {
                        screen += "\(job.job.padded(10)) \(job.state.padded(10)) \("\(job.round)/\(job.totalRounds)".padded(9)) "
                            + (job.loss.map(JobFollower.figure) ?? "-") + "\n"
                    }
                }
                screen += "\nrefreshing every second; Ctrl-C exits"
                FileHandle.standardOutput.write(Data(screen.utf8))
            }
            for _ in 0..<10 where !stop.isSet { try await Task.sleep(for: .milliseconds(100)) }
        }
        if !json { CommandOutput.printLine("") }
    }
}

/// A flag set from a signal handler and read by the watch loop.
final class StopFlag: Sendable {
    private let value = LockedBox(false)

    func set() { value.withLock { $0 = true } }

    var isSet: Bool { value.withLock { $0 } }
}
