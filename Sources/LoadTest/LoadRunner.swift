import RecTransport
import Synchronization

/// Runs one load test against a ``LoadTarget`` and records every request.
///
/// Sending stops when the plan's duration is over or the window handler says so. The runner then
/// waits up to the plan's drain time for outstanding replies; whatever is still outstanding is
/// counted as lost, and its task is cancelled.
public enum LoadRunner {
    /// Called at the end of every window (about once a second) with its figures. Return `false` to
    /// stop sending (a sweep does so once a level is stable).
    public typealias WindowHandler = @Sendable (WindowStats) -> Bool

    /// Runs `plan` against `target`.
    /// - Parameters:
    ///   - target: where requests go.
    ///   - plan: the load's shape.
    ///   - label: names the run in its summary.
    ///   - windowMicros: the length of a progress (and stability) window.
    ///   - onWindow: sees every window; `false` stops sending.
    /// - Returns: the run's summary.
    public static func run(
        target: some LoadTarget, plan: LoadPlan, label: String? = nil, windowMicros: UInt64 = 1_000_000,
        onWindow: @escaping WindowHandler = { _ in true }
    ) async -> LoadSummary {
        let start = Clocks.monotonicMicros()
        let recorder = LoadRecorder(startMicros: start, objectiveMicros: plan.objectiveMicros)
        let control = RunControl()
        let end = start + plan.durationMicros
        await withDiscardingTaskGroup { group in
            group.addTask {
                await tick(
                    recorder: recorder, control: control, end: end, windowMicros: windowMicros,
                    stopsAtEnd: !plan.mode.isOpen, onWindow: onWindow)
            }
            switch plan.mode {
            case .open(let rate, let poisson):
                var schedule = ArrivalSchedule(rate: rate, poisson: poisson, seed: plan.seed)
                var index = 0
                var scheduleEnded = false
                while !control.stopped {
                    let intended = start + schedule.nextOffsetMicros()
                    if intended >= end {
                        scheduleEnded = true
                        break
                    }
                    let now = Clocks.monotonicMicros()
                    if intended > now + 200 {
                        try? await Task.sleep(for: .microseconds(intended - now))
                        if control.stopped { break }
                    }
                    guard recorder.sent(index) else { break }
                    let i = index
                    if recorder.outstandingCount > plan.maxInFlight {
                        // Dropped here, counted, never queued: the backlog of a rate nobody keeps up with must not
                        // grow without bound in this process.
                        recorder.finished(
                            i, intendedMicros: intended, at: Clocks.monotonicMicros(),
                            outcome: .failed(
                                LoadPlan.inFlightLimitError,
                                message: "not sent: \(plan.maxInFlight) requests were already in flight (--max-in-flight), "
                                    + "so the pool or this machine did not keep up with the rate"))
                        index += 1
                        continue
                    }
                    group.addTask {
                        let outcome = await target.send(index: i)
                        recorder.finished(i, intendedMicros: intended, at: Clocks.monotonicMicros(), outcome: outcome)
                    }
                    index += 1
                }
                // The run lasts its duration, not until its last send: at a low rate the next arrival falls past the
                // end, and stopping there measured throughput over a fraction of the run (0.5/s for 1 s read 459/s).
                let now = Clocks.monotonicMicros()
                if scheduleEnded && !control.stopped && now < end {
                    try? await Task.sleep(for: .microseconds(end - now))
                }
                // The ticker stops the run once it has closed the window that reaches the end: stopped here, a ticker
                // late by a window (a loaded machine) found the run over and never closed the last one, so a sweep
                // level of `--max-windows 3` recorded 2 windows.
                control.finishSending(at: Clocks.monotonicMicros())
                while !control.stopped && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            case .closed(let concurrency):
                for _ in 0..<concurrency {
                    group.addTask {
                        while !control.stopped {
                            let i = control.nextIndex()
                            let sentAt = Clocks.monotonicMicros()
                            guard recorder.sent(i) else { break }
                            let outcome = await target.send(index: i)
                            recorder.finished(i, intendedMicros: sentAt, at: Clocks.monotonicMicros(), outcome: outcome)
                        }
                    }
                }
                while !control.stopped { try? await Task.sleep(for: .milliseconds(5)) }
            }
            let drainEnd = control.stoppedAt + plan.drainMicros
            while recorder.outstandingCount > 0, Clocks.monotonicMicros() < drainEnd {
                try? await Task.sleep(for: .milliseconds(2))
            }
            recorder.close(at: Clocks.monotonicMicros())
            group.cancelAll()
        }
        return recorder.summary(
            label: label ?? plan.mode.label, level: plan.mode.level, batch: plan.batch, sendEndMicros: control.stoppedAt
        )
    }

    /// Closes a window every `windowMicros` until the run stops. It stops the run when `onWindow` says so, and at
    /// `end` when `stopsAtEnd` (a closed loop). An open loop is not stopped at `end`: its generator sends every
    /// arrival scheduled before `end`, late if it lags (the latency still counts from the intended time), and
    /// stops the run itself, so a loaded machine cannot drop the last arrivals of the schedule.
    private static func tick(
        recorder: LoadRecorder, control: RunControl, end: UInt64, windowMicros: UInt64, stopsAtEnd: Bool,
        onWindow: WindowHandler
    ) async {
        while !control.stopped {
            let now = Clocks.monotonicMicros()
            let wait = min(windowMicros, end > now ? end - now : 0)
            if wait > 0 {
                // Cancelled: the run stops, so that a generator waiting for the ticker to stop it does not wait for ever.
                do { try await Task.sleep(for: .microseconds(wait)) } catch {
                    control.stop(at: Clocks.monotonicMicros())
                    return
                }
            }
            let at = Clocks.monotonicMicros()
            let stats = recorder.closeWindow(at: at)
            let goOn = onWindow(stats)
            if !goOn || (at >= end && stopsAtEnd) {
                control.stop(at: at)
            } else if at >= end {
                // The open loop's generator sends every arrival scheduled before the end, late if it lags; the run
                // stops once it has (its last window closed here).
                while !control.sendingFinished {
                    do { try await Task.sleep(for: .milliseconds(1)) } catch {
                        control.stop(at: Clocks.monotonicMicros())
                        return
                    }
                }
                control.stop(at: max(at, control.sendingFinishedAt))
            }
        }
    }
}

/// The stop flag and request counter a run's tasks share.
final class RunControl: Sendable {
    private let flag = Atomic<Bool>(false)
    private let stopMicros = Atomic<UInt64>(0)
    private let counter = Atomic<Int>(0)

    var stopped: Bool { flag.load(ordering: .acquiring) }
    /// When sending stopped (monotonic µs), or 0.
    var stoppedAt: UInt64 { stopMicros.load(ordering: .acquiring) }

    func stop(at micros: UInt64) {
        if stopMicros.compareExchange(expected: 0, desired: micros, ordering: .acquiringAndReleasing).exchanged {
            flag.store(true, ordering: .releasing)
        }
    }

    private let finishedMicros = Atomic<UInt64>(0)

    /// Whether an open loop's generator has sent every arrival of its schedule (the ticker then stops the run).
    var sendingFinished: Bool { finishedMicros.load(ordering: .acquiring) != 0 }
    /// When it had (monotonic µs), or 0.
    var sendingFinishedAt: UInt64 { finishedMicros.load(ordering: .acquiring) }

    /// Records that the generator has sent its last arrival, at `micros`.
    func finishSending(at micros: UInt64) {
        _ = finishedMicros.compareExchange(expected: 0, desired: max(micros, 1), ordering: .acquiringAndReleasing)
    }

    func nextIndex() -> Int { counter.wrappingAdd(1, ordering: .relaxed).oldValue }
}
