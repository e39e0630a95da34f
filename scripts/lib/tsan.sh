# Sourced by scripts/test and scripts/chaos: the ThreadSanitizer stage (issue 6, "the concurrency
# core passes its tests under swift test --sanitize=thread").
#
# It builds everything with --sanitize=thread into .build-tsan (so the normal .build is untouched)
# and runs the suites that exercise threads: the client's I/O loop, the broker's reactor, control
# plane and ZAP handler, the worker's session and background work, against real processes. The
# broker and worker executables in .build-tsan are instrumented too and inherit TSAN_OPTIONS, so a
# race in a child process is caught as well as one in the test process: every report, from any
# process, lands in a log file, and any log file fails the stage.

# Unit suites that start threads or sockets (the rest is single-threaded numerics, slow under TSan). Anchored at
# the module: unanchored, `ClientTests\.` also ran SimulationTests.OnlineClientTests (a 400-user simulation, four
# minutes under TSan) and the Python-client integration suite. Swift Testing matches `--filter` against IDs of the
# form `Module.Suite/test()`, so a pattern for a whole suite ends in `([./]|$)`, never in `\.`.
RECPOOL_TSAN_UNIT='^(WireTests|TransportTests|ClientTests|BrokerTests)\.|^WorkerTests\.(WeightsTests|Online)'
# Integration tests against real processes, chosen so each thread of the broker and the worker runs under TSan
# once: the reactor (scoring, rollout, chaos, drain, fuzzing), the control plane (a job's lifecycle, a worker
# killed mid-job), online learning (periodic syncs, freeze, a worker killed mid-simulation), the ZAP handler
# (CURVE), the metrics server, and the load tester's open loop (FakeServerTests, one suite at a time: beside the
# parallel unit suites under TSan its sender was starved past its drain deadline). Not OverloadTests (a
# throughput ratio, meaningless under TSan's 5-15x slowdown), the command-line and multi-host suites (no
# concurrency of their own), nor the slow variants of what is here (the guard judging noise, two-worker training
# equivalence, refused strangers): RECPOOL_TSAN=full runs every test of those suites instead.
RECPOOL_TSAN_INTEGRATION='IntegrationTests\.(ScoringTests|CheckpointServingTests|RolloutTests|ChaosTests|DrainTests|FuzzTests|MetricsTests|JobLifecycleTests)([./]|$)|IntegrationTests\.TrainingTests[./]workerDiesMidJob|IntegrationTests\.OnlinePoolTests[./](replicasConvergeAfterEachSync|freezeAndUnfreeze|noAcknowledgedFeedbackIsLost)|IntegrationTests\.SecurityTests[./](allowedClientScores|clientKeyCannotRegister)|FakeServerTests'
RECPOOL_TSAN_INTEGRATION_FULL='IntegrationTests\.(ScoringTests|CheckpointServingTests|RolloutTests|ChaosTests|DrainTests|SecurityTests|FuzzTests|MetricsTests|TrainingTests|JobLifecycleTests|OnlinePoolTests)|FakeServerTests'

# Builds everything with --sanitize=thread into .build-tsan. Extra arguments go before the command (`nice -n 19`).
recpool_tsan_build() {
    "$@" swift build --build-tests --sanitize=thread --scratch-path .build-tsan 2>&1 \
        | grep -vE "(isystem|mit-krb5)" | tail -n 5
}

# Starts the ThreadSanitizer build in the background at the lowest CPU and I/O priority, so it takes only the time
# the other stages leave idle (the integration suites keep a 2-core machine about 55% busy: their processes wait on
# sockets and timers). Its output goes to .build-tsan/build.log; recpool_tsan_stage waits for it. A nice-19
# process gets about 1.5% of a core beside a busy nice-0 one (CFS weights 15 and 1024), so the suites' processes
# keep the CPU they had (memory bandwidth and the disk they share with it).
recpool_tsan_build_background() {
    mkdir -p "$RECPOOL_ROOT/.build-tsan"
    # Its own process group (job control on for this one job), so the whole build can be stopped at once.
    # `ionice -t`: where the I/O class cannot be set (some containers), the build runs anyway.
    # Job control leaves a background job's standard input on the terminal: nothing in the build may read it.
    # The watchdog ends the build when this script is gone without running its EXIT trap (SIGKILL, a killed group).
    set -m
    {
        { while kill -0 "$$" 2>/dev/null; do sleep 5; done; kill -INT 0; sleep 10; kill -TERM 0; } &
        local watchdog=$! status=0
        GIT_TERMINAL_PROMPT=0 recpool_tsan_build nice -n 19 ionice -t -c 2 -n 7 || status=$?
        kill "$watchdog" 2>/dev/null || true
        exit "$status"
    } > "$RECPOOL_ROOT/.build-tsan/build.log" 2>&1 < /dev/null &
    RECPOOL_TSAN_BUILD_PID=$!
    set +m
    RECPOOL_TSAN_BUILD_STARTED=$SECONDS
    # A failing earlier stage exits the script: the build must not outlive it.
    trap 'recpool_tsan_build_stop' EXIT
}

# Stops the background build's whole process group: SIGINT first (SwiftPM cancels its compiler jobs only on an
# interrupt), then SIGTERM for anything left after 10 s.
recpool_tsan_build_stop() {
    local pid="${RECPOOL_TSAN_BUILD_PID:-}"
    [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null || return 0
    kill -INT -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 10); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 1
    done
    kill -TERM -- "-$pid" 2>/dev/null || true
}

recpool_tsan_stage() {
    local started=$SECONDS
    local logs="$RECPOOL_ROOT/.build-tsan/reports"
    if [ -n "${RECPOOL_TSAN_BUILD_PID:-}" ]; then
        echo "== ThreadSanitizer: build (.build-tsan, started in the background $((SECONDS - RECPOOL_TSAN_BUILD_STARTED)) s ago)"
        local build_status=0
        wait "$RECPOOL_TSAN_BUILD_PID" || build_status=$?
        RECPOOL_TSAN_BUILD_PID=""
        cat "$RECPOOL_ROOT/.build-tsan/build.log"
        # Under pipefail the background pipeline fails when `swift build` does.
        [ "$build_status" -eq 0 ] || { echo "ThreadSanitizer build failed" >&2; return "$build_status"; }
    else
        echo "== ThreadSanitizer: build (.build-tsan)"
        recpool_tsan_build
    fi
    rm -rf "$logs" && mkdir -p "$logs"
    # log_path: one file per process that reports (the test runner, brokers, workers, recpool).
    # suppressions: only the stdlib's benign write to its shared empty-array storage (see the file).
    local options="log_path=$logs/report suppressions=$RECPOOL_ROOT/scripts/tsan-suppressions.txt"
    local built=$SECONDS status=0
    echo "== ThreadSanitizer: concurrency-core unit suites"
    TSAN_OPTIONS="$options" swift test --skip-build --scratch-path .build-tsan --sanitize=thread \
        --filter "$RECPOOL_TSAN_UNIT" || status=1
    echo "== ThreadSanitizer: integration suites (real processes, one at a time)"
    TSAN_OPTIONS="$options" swift test --skip-build --scratch-path .build-tsan --sanitize=thread --no-parallel \
        --filter "$( [ "${RECPOOL_TSAN:-1}" = full ] && echo "$RECPOOL_TSAN_INTEGRATION_FULL" || echo "$RECPOOL_TSAN_INTEGRATION")" \
        || status=1
    echo "== ThreadSanitizer: build (or the wait for it) $((built - started)) s, tests $((SECONDS - built)) s"
    if compgen -G "$logs/report.*" >/dev/null; then
        echo "ThreadSanitizer reported races (one file per process):" >&2
        for report in "$logs"/report.*; do
            echo "--- $report" >&2
            cat "$report" >&2
        done
        return 1
    fi
    echo "ThreadSanitizer: no reports"
    return $status
}
