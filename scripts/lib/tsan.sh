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

recpool_tsan_stage() {
    local started=$SECONDS
    local logs="$RECPOOL_ROOT/.build-tsan/reports"
    echo "== ThreadSanitizer: build (.build-tsan)"
    swift build --build-tests --sanitize=thread --scratch-path .build-tsan 2>&1 \
        | grep -vE "(isystem|mit-krb5)" | tail -n 5
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
    echo "== ThreadSanitizer: build $((built - started)) s, tests $((SECONDS - built)) s"
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
