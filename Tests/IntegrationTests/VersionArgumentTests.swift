import Foundation
import RecTestKit
import Testing

/// A count option given a negative number, or one past what it holds, named neither the rule nor the range
/// (`The value '-5' is invalid for '--heartbeat-ms <heartbeat-ms>'`); `--max-attempts 65536` the same.
@Suite("Whole-number options out of range")
struct NumberOptionRangeTests {
    @Test("a negative, too large, hexadecimal or underflowing number is refused with 64, naming why")
    func namesWhy() throws {
        let cases: [(String, [String], String)] = [
            ("recpool-broker", ["--heartbeat-ms", "-5"], "-5 is negative: this option takes no negative number"),
            ("recpool-broker", ["--no-worker-timeout-ms", "99999999999999999999"],
             "99999999999999999999 is more than any whole number an option takes"),
            ("recpool-worker", ["--batch-wait-us", "-1"], "negative"),
            ("recpool-broker", ["--max-attempts", "65536"], "--max-attempts must be 1…65535, got 65536"),
            ("recpool-broker", ["--max-attempts", "0"], "--max-attempts must be 1…65535, got 0"),
            // One address bound twice: the start failed with exit 69 (restart: yes) and looped under a supervisor.
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:42630", "--backend", "tcp://127.0.0.1:42630"],
             "--frontend tcp://127.0.0.1:42630 and --backend tcp://127.0.0.1:42630 are one address"),
            ("recpool-broker", ["--frontend", "tcp://*:42630", "--backend", "tcp://127.0.0.1:42631", "--metrics", "127.0.0.1:42630"],
             "are one address"),
            // localhost is bound as 127.0.0.1, and [::] takes the port on IPv4 addresses too: both were exit 69.
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:42630", "--backend", "tcp://127.0.0.1:42631", "--metrics", "localhost:42631"],
             "--backend tcp://127.0.0.1:42631 and --metrics tcp://localhost:42631 are one address"),
            ("recpool-broker", ["--frontend", "tcp://localhost:42630", "--backend", "tcp://127.0.0.1:42630"], "are one address"),
            ("recpool-broker", ["--frontend", "tcp://[::]:42630", "--backend", "tcp://127.0.0.1:42631", "--metrics", "127.0.0.1:42630", "--insecure"],
             "are one address"),
            // Compared as text, a port with a leading zero and an ipc path spelled otherwise were other addresses (69).
            ("recpool-broker", ["--frontend", "tcp://127.0.0.1:42630", "--backend", "tcp://127.0.0.1:042630"], "are one address"),
            ("recpool-broker", ["--frontend", "ipc:///tmp/recpool-clash.ipc", "--backend", "ipc:///tmp/./recpool-clash.ipc"],
             "are one address"),
            // A port libzmq refuses at run time (EINVAL, exit 70 for a worker: restarted for ever) and a transport it
            // does not support are named at once.
            ("recpool-worker", ["--broker", "tcp://127.0.0.1:+42630"], "the port '+42630' is not 0…65535"),
            ("recpool-worker", ["--broker", "wss://127.0.0.1:42630"], "expected tcp://HOST:PORT or ipc://PATH"),
            // A C int's range: ArgumentParser's bare "is invalid" named neither the rule nor the range.
            ("recpool-broker", ["--client-receive-hwm", "2147483648"],
             "--client-receive-hwm must be at most 2147483647 (libzmq's ZMQ_RCVHWM is a C int), got 2147483648"),
            ("recpool-broker", ["--max-attempts", "3.0"], "3.0 is written with a fraction or an exponent: this option takes a whole number written in digits alone"),
            // Hexadecimal, which a log's cell and a request's value refuse, was taken by a number option (0x10 = 16).
            ("recpool-broker", ["--epsilon", "0x1p-1"], "invalid value 0x1p-1 for \"epsilon\" (from command line): expected a decimal number"),
            ("recpool-worker", ["--slots", "0x10"], "expected a decimal number (0x10 is not read as 16"),
            // A value below a 64-bit float's smallest was read as 0 (`--dwell 1e-400` sent a dwell of 0 s), where a
            // log's cell refuses it.
            ("recpool-broker", ["--epsilon", "1e-400"], "invalid value 1e-400 for \"epsilon\" (from command line): expected a number a 64-bit float holds"),
            ("recpool", ["feedback", "--impression", "i", "--item", "1", "--click", "1", "--dwell", "1e-400"], "expected a number a 64-bit float holds"),
            // One above its largest was read as infinity, and the range check said "got inf", not the value typed.
            ("recpool", ["feedback", "--impression", "i", "--item", "1", "--click", "1", "--dwell", "1e400"], "invalid value 1e400 for \"dwell\" (from command line): expected a finite number (it is read as infinity"),
            ("recpool-broker", ["--epsilon", "-2e308"], "invalid value -2e308 for \"epsilon\""),
            // A whole-number option is told "finite", not "a 64-bit float", which it does not take either.
            ("recpool-broker", ["--heartbeat-ms", "1e400"], "invalid value 1e400 for \"heartbeat-ms\" (from command line): expected a finite number"),
        ]
        for (tool, arguments, says) in cases {
            let run = try runTool(tool, arguments + ["--print-config"])
            #expect(run.code == 64 && run.stderr.contains(says), "\(tool) \(arguments): \(run.code) \(run.stderr)")
        }
    }
}

/// Every option and argument that takes a version reads it one way, on real processes.
@Suite("Version numbers on the command line", .serialized)
struct VersionArgumentTests {
    /// `--online-catalogue 0`, `-0`, `+1` and `01` passed parsing and the broker started with online learning off;
    /// `promote -1` said "Missing expected argument". Each is refused with 64 naming the value as typed.
    @Test("0 and non-canonical versions are refused with 64 on every option and argument, naming the value")
    func refused() throws {
        let broker = ["--broker", "tcp://127.0.0.1:1"]
        // A negative version past `--` (or joined with `=`) reaches the version's own parser: named once, never with a
        // note saying "this option takes a whole number, 0 or more" beside "versions are numbered from 1".
        for arguments in [["promote"] + broker + ["--", "-1"], ["fit", "--dataset", "x.csv", "--out", "y.ckpt", "--version=-1"]] {
            let run = try runTool("recpool", arguments)
            #expect(run.code == 64 && run.stderr.contains("versions are numbered from 1"), "\(arguments): \(run.stderr)")
            #expect(!run.stderr.contains("0 or more"), "\(arguments): \(run.stderr)")
        }
        for bad in ["0", "-0", "+1", "01", "1.0", " 1"] {
            let cases: [(String, [String])] = [
                ("recpool-broker", ["--online", "--state-dir", "unused-state", "--online-catalogue", bad, "--print-config"]),
                ("recpool", ["promote", bad] + broker),
                ("recpool", ["pull", bad, "--out", "x.ckpt"] + broker),
                ("recpool", ["catalogue", "show", bad] + broker),
                ("recpool", ["score", "--model-version", bad] + broker),
                ("recpool", ["policy", "warmstart", "synthetic:users=10", "--catalogue", bad] + broker),
                ("recpool", ["fit", "--dataset", "synthetic:users=10", "--version", bad, "--out", "x.ckpt"]),
            ]
            for (tool, arguments) in cases {
                let run = try runTool(tool, arguments)
                #expect(run.code == 64, "\(tool) \(arguments): \(run.code) \(run.stderr)")
                // A negative spelling typed as an argument is read as a flag by ArgumentParser: named as negative.
                let said = bad.hasPrefix("-")
                    ? run.stderr.contains(bad) && run.stderr.contains("a negative number is not valid")
                        || run.stderr.contains("'\(bad)'") && run.stderr.contains("versions are numbered from 1")
                    : run.stderr.contains("'\(bad)'") && run.stderr.contains("versions are numbered from 1")
                #expect(said, "\(tool) \(arguments): \(run.stderr)")
                #expect(!run.stderr.contains("0 or more"), "\(tool) \(arguments): \(run.stderr)")
            }
        }
        let fromEnvironment = try runTool(
            "recpool-broker", ["--online", "--state-dir", "unused-state", "--print-config"],
            environment: ["RECPOOL_ONLINE_CATALOGUE": "0"])
        #expect(
            fromEnvironment.code == 64 && fromEnvironment.stderr.contains("RECPOOL_ONLINE_CATALOGUE"),
            "\(fromEnvironment.stderr)")
        for negative in [["promote", "-1"], ["pull", "-3", "--out", "x.ckpt"]] {
            let run = try runTool("recpool", negative + broker)
            #expect(run.code == 64 && run.stderr.contains("is invalid for '<version>'"), "\(negative): \(run.stderr)")
        }
        let latest = try runTool(
            "recpool-broker", ["--online", "--state-dir", "unused-state", "--online-catalogue", "latest", "--print-config"])
        #expect(latest.code == 0, "\(latest.stderr)")
    }
}
