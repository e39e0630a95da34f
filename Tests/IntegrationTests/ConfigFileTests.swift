import Foundation
import Testing

/// `--config`, `RECPOOL_*` variables and the exit codes, on real processes.
@Suite("Configuration files, environment and exit codes", .serialized)
struct ConfigFileTests {
    static func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test("a broker and a worker start from one recpool.toml; the environment overrides it and the command line both")
    func startFromFile() async throws {
        let directory = try TrainingTests.makeDirectory("config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try Self.write(
            """
            [broker]
            frontend = "tcp://127.0.0.1:*"
            backend = "tcp://127.0.0.1:*"
            queue-capacity = 77
            log-level = "warning"

            [worker]
            id = "from-file"
            slots = 3
            heartbeat-ms = 5000
            log-level = "warning"
            """, "recpool.toml", in: directory)
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(arguments: ["--config", config, "--exit-with-parent"])
        // The worker finds the broker through the environment, and the file's heartbeat is overridden
        // on the command line (a worker whose heartbeat differs from the broker's would be dropped).
        try cluster.startWorker(
            "worker", arguments: ["--exit-with-parent", "--heartbeat-ms", "1000"],
            environment: [
                "RECPOOL_CONFIG": config, "RECPOOL_BROKER": cluster.endpoints.backend, "RECPOOL_ID": "from-env",
            ])
        let client = try await cluster.client()
        defer { client.close() }
        let status = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
        #expect(status.workers[0].id == "from-env")
        #expect(status.workers[0].slots == 3)
        #expect(status.workers[0].host == ProcessInfo.processInfo.hostName)
        #expect(status.queues.allSatisfy { $0.capacity == 77 })
        let scores = try await client.score(rows: [(0..<106).map { Float($0 % 5) / 5 }])
        #expect(scores.values.count == 1)

        // The client's [client] table.
        let clientConfig = try Self.write(
            "[client]\nbroker = \"\(cluster.endpoints.frontend)\"\ntimeout-ms = 3000\n", "client.toml", in: directory)
        let shown = try runTool("recpool", ["status", "--config", clientConfig, "--json"])
        #expect(shown.code == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("\"from-env\""))
        #expect(shown.stdout.contains("\"host\""))
        let health = try runTool("recpool", ["health"], environment: ["RECPOOL_CONFIG": clientConfig])
        #expect(health.code == 0, "\(health.stderr)")
        // --config before the subcommand is the subcommand's (it was judged against the top-level command, which takes
        // no option: "unknown key broker").
        for arguments in [["--config", clientConfig, "status", "--json"], ["--config=\(clientConfig)", "status", "--json"]] {
            let before = try runTool("recpool", arguments)
            #expect(before.code == 0 && before.stdout.contains("\"from-env\""), "\(arguments) \(before.stderr)")
        }

        #expect(cluster.kill("worker", signal: SIGTERM) == 0)
        #expect(cluster.kill("broker", signal: SIGTERM) == 0)
    }

    /// `--print-config` said these were fine (exit 0) and the command refused them when run (exit 64), some only after
    /// loading its data; a value from a file or the environment is traced to it.
    @Test("--print-config refuses what a run refuses, naming the flag and where its value came from")
    func printConfigRefusesWhatARunRefuses() throws {
        let cases: [(arguments: [String], says: String)] = [
            (["recommend", "--top", "0"], "--top must be 1…1000, got 0"),
            (["recommend", "--user-feature", "a=1", "--user-feature", "a=2"], "a is given twice"),
            (["recommend", "--events", "1:nan"], #"--events: "1:nan" is not ITEM:SECONDS"#),
            // Read as a request's seconds are: hexadecimal is no number (it was served as 16 s).
            (["recommend", "--events", "1:0x10"], #"--events: "1:0x10" is not ITEM:SECONDS"#),
            (["train", "--dataset", "synthetic:users=10", "--epochs", "0"], "--epochs must be 1…10000"),
            (["train", "--dataset", "synthetic:users=10", "--sync-every", "0"], "--sync-every must be 1…1000000"),
            (["train", "--dataset", "synthetic:users=10", "--lr", "-1"], "--lr must be in (0, 10)"),
            (["data", "features", "synthetic:users=10", "--split", "bogus", "--out", "x.csv"], "--split must be train"),
            (["data", "ope", "synthetic:users=10", "--policy", "bogus"], "unknown --policy 'bogus'"),
            (["eval", "--model", "m.ckpt", "--dataset", "synthetic:users=10", "--split", "bogus"], "--split must be test"),
            (["catalogue", "add", "sku-1", "--field", "a=1", "--field", "a=2"], "--field a is given twice"),
        ]
        for (arguments, says) in cases {
            for printing in [true, false] {
                let run = try runTool("recpool", arguments + (printing ? ["--print-config"] : []))
                #expect(run.code == 64 && run.stderr.contains(says), "\(arguments) \(printing): \(run.code) \(run.stderr)")
            }
        }
        let traced = try runTool(
            "recpool", ["train", "--dataset", "synthetic:users=10", "--print-config"], environment: ["RECPOOL_LR": "-1"])
        #expect(traced.code == 64 && traced.stderr.contains("note: --lr came from environment RECPOOL_LR"), "\(traced.stderr)")
        // The broker's online settings name their flags too ("epsilon must be in [0, 1]" named no flag and no source).
        let broker = try runTool(
            "recpool-broker", ["--online", "--state-dir", "unused-state", "--print-config"], environment: ["RECPOOL_EPSILON": "2"])
        #expect(
            broker.code == 64 && broker.stderr.contains("--epsilon must be in [0, 1], got 2.0")
                && broker.stderr.contains("note: --epsilon came from environment RECPOOL_EPSILON"), "\(broker.stderr)")
    }

    /// `data ope DATASET --print-config` printed "# dataset is not set", so its output, saved as a configuration file,
    /// was refused "missing --dataset NAME".
    @Test("a dataset given as the first argument is printed as set from the command line, and the output loads back")
    func printConfigPositionalDataset() throws {
        let directory = try TrainingTests.makeDirectory("config-positional")
        defer { try? FileManager.default.removeItem(at: directory) }
        for command in [["data", "describe"], ["data", "ope"]] {
            let printed = try runTool("recpool", command + ["synthetic:users=10,seed=1", "--print-config"])
            #expect(printed.code == 0, "\(printed.stderr)")
            #expect(
                printed.stdout.contains(#"dataset = "synthetic:users=10,seed=1""#) && printed.stdout.contains("command line"),
                "\(printed.stdout)")
            let file = directory.appendingPathComponent("\(command[1]).toml")
            try printed.stdout.write(to: file, atomically: true, encoding: .utf8)
            let again = try runTool("recpool", command + ["--config", file.path, "--print-config"])
            #expect(again.code == 0 && again.stdout.contains(#"dataset = "synthetic:users=10,seed=1""#), "\(again.stderr)")
        }
    }

    @Test("--print-config shows each value with its source")
    func printConfig() throws {
        let directory = try TrainingTests.makeDirectory("config-print")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try Self.write("[broker]\nqueue-capacity = 9\n", "recpool.toml", in: directory)
        let shown = try runTool(
            "recpool-broker", ["--config", config, "--print-config", "--max-attempts", "3"],
            environment: ["RECPOOL_HEARTBEAT_MS": "250"])
        #expect(shown.code == 0, "\(shown.stderr)")
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "[broker]")
        #expect(lines.contains { $0.hasPrefix("queue-capacity = 9") && $0.hasSuffix("# \(config) [broker]") })
        #expect(
            lines.contains { $0.hasPrefix("heartbeat-ms = 250") && $0.hasSuffix("# environment RECPOOL_HEARTBEAT_MS") })
        #expect(lines.contains { $0.hasPrefix("max-attempts = 3") && $0.hasSuffix("# command line") })
        #expect(lines.contains { $0.hasPrefix("backend = \"tcp://127.0.0.1:5556\"") && $0.hasSuffix("# default") })
    }

    /// The output said it could be saved as a configuration file, but a value with a control character was written
    /// raw and a line over 48 characters was cut mid-string: neither read back.
    @Test("--print-config output saved as a file reads back with the same values, long or with control characters")
    func printedConfigReadsBack() throws {
        let directory = try TrainingTests.makeDirectory("config-roundtrip")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A broker holding a control character is refused by --print-config as by a run (below); the quoting of
        // control characters is ConfigLiteralTests'.
        for broker in ["tcp://some-long-but-valid-endpoint-host-name.recpool.invalid:20520"] {
            let first = try runTool("recpool", ["status", "--broker", broker, "--print-config"])
            #expect(first.code == 0, "\(first.stderr)")
            let saved = directory.appendingPathComponent("saved.toml").path
            try Data(first.stdout.utf8).write(to: URL(fileURLWithPath: saved))
            let again = try runTool("recpool", ["status", "--config", saved, "--print-config"])
            #expect(again.code == 0, "\(again.stderr)\n\(first.stdout)")
            let line = { (text: String) in text.split(separator: "\n").first { $0.hasPrefix("broker = ") }.map(String.init) }
            let printed = try #require(line(first.stdout))
            #expect(line(again.stdout)?.hasPrefix(String(printed.prefix { $0 != "#" })) == true, "\(again.stdout)")
        }
    }

    /// `--print-config` on client commands printed `--broker` values every run refuses (port 0, no port, `*`,
    /// `inproc://`, empty, an unknown transport) with exit 0, and refused a valid one whose host did not resolve on
    /// this machine: it applies the run's syntactic checks and looks nothing up.
    @Test("--print-config on client commands refuses the --broker values a run refuses, and resolves no host name")
    func printConfigBrokerSyntax() throws {
        let refused = [
            "tcp://127.0.0.1:0", "tcp://host", "tcp://*:5555", "inproc://x", "", "udp://x:1", "tcp://127.0.0.1:1\n--insecure",
        ]
        for command in [["status"], ["health"], ["jobs"], ["recommend"], ["loadtest"]] {
            for broker in refused {
                let printed = try runTool("recpool", command + ["--broker", broker, "--print-config"])
                #expect(printed.code == 64 && printed.stderr.contains("--broker"), "\(command) \(broker): \(printed.stderr)")
                let run = try runTool("recpool", command + ["--broker", broker, "--timeout-ms", "200"])
                #expect(run.code == 64, "\(command) \(broker) run: \(run.code) \(run.stderr)")
            }
            // A host name this machine cannot resolve is another host's configuration: printed, not looked up.
            let elsewhere = try runTool("recpool", command + ["--broker", "tcp://broker.recpool.invalid:5555", "--print-config"])
            #expect(elsewhere.code == 0, "\(command): \(elsewhere.stderr)")
        }
        let fromEnvironment = try runTool("recpool", ["status", "--print-config"], environment: ["RECPOOL_BROKER": "tcp://host"])
        #expect(
            fromEnvironment.code == 64 && fromEnvironment.stderr.contains("note: --broker came from environment RECPOOL_BROKER"),
            "\(fromEnvironment.stderr)")
        // A run still names a host that does not resolve, exit 3, when it connects.
        let unresolved = try runTool("recpool", ["status", "--broker", "tcp://broker.recpool.invalid:5555"])
        #expect(unresolved.code == 3, "\(unresolved.stderr)")
    }

    /// Dataset names were checked only when loaded: `--print-config` printed them with exit 0, `loadtest` connected
    /// first and exited 3, and the message named neither `--dataset` nor the variable or key it came from.
    @Test("a bad dataset name is refused when parsed, by --print-config too, naming --dataset and its source")
    func datasetNamesCheckedWhenParsed() throws {
        let bad = ["bogus:x", "obd:nosuch/all", "synthetic:users=abc", "synthetic:users=0", "sha256:xyz"]
        let broker = ["--broker", "tcp://127.0.0.1:1", "--timeout-ms", "300"]
        for dataset in bad {
            let cases: [[String]] = [
                ["data", "describe", dataset], ["data", "describe", "--dataset", dataset],
                ["fit", "--dataset", dataset, "--out", "x.ckpt"], ["eval", "--model", "m.ckpt", "--dataset", dataset],
                ["train", "--dataset", dataset] + broker, ["loadtest", "--dataset", dataset] + broker,
            ]
            for arguments in cases {
                for printing in [true, false] {
                    let run = try runTool("recpool", arguments + (printing ? ["--print-config"] : []))
                    let named = run.stderr.contains("--dataset")
                    #expect(run.code == 64 && named, "\(arguments) \(printing): \(run.code) \(run.stderr)")
                }
            }
        }
        // A file whose name starts with "synthetic" is a file, as the run reads it (it was refused as a bad name).
        let directory = try TemporaryDirectory("synthetic-named-file")
        defer { directory.remove() }
        let file = directory.path + "/synthetic_clicks.csv"
        try "f0,label\n0.5,1\n0.25,0\n".write(toFile: file, atomically: true, encoding: .utf8)
        let named = try runTool("recpool", ["fit", "--dataset", file, "--out", directory.path + "/m.ckpt", "--print-config"])
        #expect(named.code == 0, "\(named.stderr)")
        let relative = try runTool("recpool", ["data", "describe", "synthetic_x.csv", "--print-config"])
        #expect(relative.code == 0, "\(relative.stderr)")
        let traced = try runTool(
            "recpool", ["loadtest", "--print-config"] + broker, environment: ["RECPOOL_DATASET": "synthetic:users=abc"])
        #expect(
            traced.code == 64 && traced.stderr.contains("--dataset")
                && traced.stderr.contains("note: --dataset came from environment RECPOOL_DATASET"), "\(traced.stderr)")
    }

    @Test("an unknown key or an invalid value exits 64 and names the key and where it came from")
    func configurationErrors() throws {
        let directory = try TrainingTests.makeDirectory("config-errors")
        defer { try? FileManager.default.removeItem(at: directory) }
        let typo = try Self.write("[worker]\nbatch-max-row = 3\n", "typo.toml", in: directory)
        let unknown = try runTool("recpool-worker", ["--config", typo])
        #expect(unknown.code == 64)
        #expect(unknown.stderr.contains("batch-max-row") && unknown.stderr.contains(typo), "\(unknown.stderr)")

        let invalid = try runTool("recpool-worker", [], environment: ["RECPOOL_SLOTS": "many"])
        #expect(invalid.code == 64)
        #expect(invalid.stderr.contains("--slots") && invalid.stderr.contains("RECPOOL_SLOTS"), "\(invalid.stderr)")

        let endpoint = try runTool("recpool-worker", [], environment: ["RECPOOL_BROKER": "tcp//10.0.0.1:5556"])
        #expect(endpoint.code == 64)
        #expect(endpoint.stderr.contains("RECPOOL_BROKER"), "\(endpoint.stderr)")

        let notTOML = try Self.write("[broker]\nfrontend = \n", "bad.toml", in: directory)
        let syntax = try runTool("recpool-broker", ["--config", notTOML])
        #expect(syntax.code == 64)
        #expect(syntax.stderr.contains("bad.toml:2"), "\(syntax.stderr)")

        let noWait = try runTool("recpool-broker", ["--catalogue-confirm-timeout-ms", "0"])
        #expect(noWait.code == 64)
        #expect(noWait.stderr.contains("--catalogue-confirm-timeout-ms"), "\(noWait.stderr)")

        // --print-config exits 0 only for what a start accepts: these were printed with exit 0, then refused at start.
        for arguments in [["--catalogue-confirm-timeout-ms", "0"], ["--metrics", "nonsense"], ["--metrics", "127.0.0.1:99999"]] {
            let printed = try runTool("recpool-broker", arguments + ["--print-config"])
            #expect(printed.code == 64, "\(arguments): \(printed.stdout)")
        }
        #expect(try runTool("recpool-worker", ["--metrics", "", "--print-config"]).code == 64)

        // Two --config files: the second was silently ignored.
        let other = try Self.write("[worker]\nslots = 3\n", "other.toml", in: directory)
        let twice = try runTool("recpool-worker", ["--config", typo, "--config", other, "--print-config"])
        #expect(twice.code == 64 && twice.stderr.contains("--config is given 2 times"), "\(twice.stderr)")

        // A RECPOOL_CONFIG naming no file: the message says where the path came from, and --help still works.
        let stale = ["RECPOOL_CONFIG": directory.appendingPathComponent("gone.toml").path]
        let named = try runTool("recpool", ["status"], environment: stale)
        #expect(named.code == 64 && named.stderr.contains("RECPOOL_CONFIG"), "\(named.stderr)")
        for help in [["--help"], ["status", "--help"]] {
            #expect(try runTool("recpool", help, environment: stale).code == 0, "\(help)")
        }
        #expect(try runTool("recpool-broker", ["--help"], environment: stale).code == 0)
        // An empty path names no file: RECPOOL_CONFIG= was taken for "none", --config "" said "cannot read the
        // configuration file : No such file or directory". Both are refused as an empty option value is.
        let emptyVariable = try runTool("recpool-broker", ["--print-config"], environment: ["RECPOOL_CONFIG": ""])
        #expect(
            emptyVariable.code == 64
                && emptyVariable.stderr.contains("invalid value \"\" (empty) for \"config\" (from environment RECPOOL_CONFIG)"),
            "\(emptyVariable.stderr)")
        let emptyFlag = try runTool("recpool", ["status", "--config", ""])
        #expect(emptyFlag.code == 64 && emptyFlag.stderr.contains("invalid value \"\" (empty) for \"config\""), "\(emptyFlag.stderr)")
        // A blank path is shown as typed, not as "".
        let blankFlag = try runTool("recpool", ["status", "--config", " "])
        #expect(blankFlag.code == 64 && blankFlag.stderr.contains("invalid value \" \" (blank) for \"config\""), "\(blankFlag.stderr)")
        #expect(try runTool("recpool", ["--help"], environment: ["RECPOOL_CONFIG": ""]).code == 0)

        // inproc:// joins sockets of one process: a worker, a client or a broker given one waited for ever.
        for (tool, arguments) in [
            ("recpool-worker", ["--broker", "inproc://x"]), ("recpool", ["status", "--broker", "inproc://x"]),
            ("recpool-broker", ["--backend", "inproc://x"]),
        ] {
            let refused = try runTool(tool, arguments)
            #expect(refused.code == 64 && refused.stderr.contains("inproc:// joins sockets within one process"), "\(tool): \(refused.stderr)")
        }

        let tinyInbox = try runTool("recpool-broker", ["--control-inbox-bytes", "1000"])
        #expect(tinyInbox.code == 64)
        #expect(tinyInbox.stderr.contains("--control-inbox-bytes must be at least 16777216"), "\(tinyInbox.stderr)")
    }

    /// A Unix socket path holding a directory, or in a folder that does not exist, exited 69 (unavailable: a
    /// supervisor restarts into it for ever); the file system is at fault, as for a state directory: 73.
    @Test("exit code 73 for an ipc:// socket that cannot be created where it is asked for, naming why")
    func ipcSocketCannotBeCreated() throws {
        let folder = try TemporaryDirectory("ipc-bind")
        defer { folder.remove() }
        let front = "ipc://\(folder.path)/front.ipc"
        try FileManager.default.createDirectory(atPath: folder.path + "/sock", withIntermediateDirectories: false)
        let directory = try runTool("recpool-broker", ["--frontend", front, "--backend", "ipc://\(folder.path)/sock"])
        #expect(directory.code == 73, "\(directory.stderr)")
        #expect(directory.stderr.contains("/sock is a directory"), "\(directory.stderr)")
        let missing = try runTool(
            "recpool-broker", ["--frontend", front, "--backend", "ipc://\(folder.path)/missing/sock"])
        #expect(missing.code == 73, "\(missing.stderr)")
        #expect(missing.stderr.contains("/missing does not exist"), "\(missing.stderr)")
        // A path longer than a Unix socket's, in a state folder this start creates (and removes again): it was
        // blamed on the folder, "does not exist", which the start itself had removed.
        let long = folder.path + "/" + String(repeating: "e", count: 110)
        let tooLong = try runTool(
            "recpool-broker", ["--frontend", front, "--state-dir", long, "--backend", "ipc://\(long)/w.ipc"])
        #expect(tooLong.code == 73, "\(tooLong.stderr)")
        #expect(tooLong.stderr.contains("more than the 107 a Unix socket's path may hold"), "\(tooLong.stderr)")
    }

    /// libzmq reads a bind's host as an interface name, and said only "No such device" for a host name.
    @Test("binding a host name says a bind names an address or an interface (exit 69)")
    func bindHostName() throws {
        let run = try runTool(
            "recpool-broker", ["--frontend", "tcp://somehost:1", "--backend", "tcp://127.0.0.1:*", "--insecure"])
        #expect(run.code == 69, "\(run.stderr)")
        #expect(run.stderr.contains("not a host name: give the address"), "\(run.stderr)")
    }

    @Test("exit codes: 66 for an unreadable key file, 69 for an endpoint already bound")
    func exitCodes() async throws {
        let missing = try runTool("recpool-broker", ["--curve-key", "/nonexistent/broker.key"])
        #expect(missing.code == 66, "\(missing.stderr)")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        let taken = try runTool(
            "recpool-broker", ["--frontend", cluster.endpoints.frontend, "--backend", "tcp://127.0.0.1:*"])
        #expect(taken.code == 69, "\(taken.stderr)")
        // Said in one plain line beside the log (a new user saw only the log line).
        #expect(taken.stderr.contains("recpool-broker: cannot bind \(cluster.endpoints.frontend): Address already in use: "
            + "another process listens there"), "\(taken.stderr)")
        // A state directory that run created is gone again: a failed start leaves nothing behind.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-bind-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let takenWithState = try runTool(
            "recpool-broker",
            ["--frontend", cluster.endpoints.frontend, "--backend", "tcp://127.0.0.1:*", "--state-dir", state])
        #expect(takenWithState.code == 69, "\(takenWithState.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "\(state) was left behind")
        // One that existed before is kept, with what it held.
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try "kept".write(toFile: state + "/note", atomically: true, encoding: .utf8)
        let takenExisting = try runTool(
            "recpool-broker",
            ["--frontend", cluster.endpoints.frontend, "--backend", "tcp://127.0.0.1:*", "--state-dir", state])
        #expect(takenExisting.code == 69, "\(takenExisting.stderr)")
        // With only what it held: the store's database, lock and blob folder were left beside the operator's files.
        #expect(try FileManager.default.contentsOfDirectory(atPath: state) == ["note"])
        // Written through folders the start makes and leaves again (`new/..` is `state`; `a/../b` makes `a`, then `b`).
        for written in [state + "/new/..", state + "/a/../b"] {
            let takenDotDot = try runTool(
                "recpool-broker",
                ["--frontend", cluster.endpoints.frontend, "--backend", "tcp://127.0.0.1:*", "--state-dir", written])
            #expect(takenDotDot.code == 69, "\(takenDotDot.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: state) == ["note"], "\(written)")
        }
        // Every folder of a path the start created goes, not only the last; an empty one that existed is left empty.
        let nested = state + "-nested/b/c"
        let takenNested = try runTool(
            "recpool-broker",
            ["--frontend", cluster.endpoints.frontend, "--backend", "tcp://127.0.0.1:*", "--state-dir", nested])
        #expect(takenNested.code == 69, "\(takenNested.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "-nested"), "\(state)-nested was left behind")
        let empty = state + "-empty"
        defer { try? FileManager.default.removeItem(atPath: empty) }
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let takenEmpty = try runTool(
            "recpool-broker",
            ["--frontend", cluster.endpoints.frontend, "--backend", "tcp://127.0.0.1:*", "--state-dir", empty])
        #expect(takenEmpty.code == 69, "\(takenEmpty.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty) == [], "the start's files were left in \(empty)")
        // The metrics address too (docs/OPERATIONS.md, "Exit codes"), and it is never logged as listening.
        let port = try #require(cluster.endpoints.frontend.split(separator: ":").last.map(String.init))
        let metricsTaken = try runTool(
            "recpool-broker",
            ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--metrics", "127.0.0.1:\(port)"])
        #expect(metricsTaken.code == 69, "\(metricsTaken.stderr)")
        #expect(metricsTaken.stderr.contains("Address already in use"), "\(metricsTaken.stderr)")
        #expect(!metricsTaken.stderr.contains("metrics endpoint listening"), "\(metricsTaken.stderr)")
        // Nor does it announce its ZeroMQ endpoints (the JSON line on stdout) before it exits.
        #expect(metricsTaken.stdout.isEmpty, "\(metricsTaken.stdout)")
        // And a state directory that start created is removed again, as for its other endpoints.
        let metricsState = state + "-metrics"
        let metricsTakenWithState = try runTool(
            "recpool-broker",
            [
                "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--metrics", "127.0.0.1:\(port)",
                "--state-dir", metricsState,
            ])
        #expect(metricsTakenWithState.code == 69, "\(metricsTakenWithState.stderr)")
        #expect(!FileManager.default.fileExists(atPath: metricsState), "\(metricsState) was left behind")
    }

    @Test("the example configuration files in deploy/ name only known keys with valid values")
    func deployExamples() throws {
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy")
        for (tool, file, arguments) in [
            ("recpool-broker", "broker.toml", []), ("recpool-worker", "worker.toml", []),
            ("recpool", "client.toml", ["status"]),
        ] {
            let path = deploy.appendingPathComponent(file).path
            let shown = try runTool(tool, arguments + ["--config", path, "--print-config"])
            #expect(shown.code == 0, "\(file): \(shown.stderr)")
            #expect(shown.stdout.contains("# \(path) ["), "\(file): \(shown.stdout)")
        }
    }

    /// OPERATIONS.md's first example, "one file can serve every program on a host", was refused by the broker it
    /// configures (allow-lists without a CURVE key, a non-loopback endpoint without CURVE).
    @Test("OPERATIONS.md's configuration example is taken by each program's --print-config, with real key files")
    func operationsExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/OPERATIONS.md"), encoding: .utf8)
        let start = try #require(text.range(of: "```toml\n[broker]                     # read by recpool-broker"))
        let body = text[start.upperBound...]
        let end = try #require(body.range(of: "```"))
        let keys = try TemporaryDirectory("operations-example")
        defer { keys.remove() }
        for name in ["broker", "worker", "client"] {
            #expect(try runTool("recpool", ["keygen", "--out", keys.path, "--name", name]).code == 0)
        }
        try FileManager.default.copyItem(atPath: keys.path + "/worker.pub", toPath: keys.path + "/workers.allow")
        try FileManager.default.copyItem(atPath: keys.path + "/client.pub", toPath: keys.path + "/clients.allow")
        try FileManager.default.copyItem(atPath: keys.path + "/client.pub", toPath: keys.path + "/trainers.allow")
        let file = keys.path + "/recpool.toml"
        let toml = "[broker]                     # read by recpool-broker" + body[..<end.lowerBound]
        try toml.replacingOccurrences(of: "/etc/recpool/keys/", with: keys.path + "/")
            .write(toFile: file, atomically: true, encoding: .utf8)
        for (tool, arguments) in [("recpool-broker", [String]()), ("recpool-worker", []), ("recpool", ["status"])] {
            let shown = try runTool(tool, arguments + ["--config", file, "--print-config"])
            #expect(shown.code == 0, "\(tool): \(shown.stderr)")
            // The broker listens for the workers where the example's workers connect (a new user's broker from this
            // file listened for them on loopback only: its backend was left to the default).
            if tool == "recpool-broker" { #expect(shown.stdout.contains("backend = \"tcp://10.0.0.1:5556\""), "\(shown.stdout)") }
        }
    }

    /// libzmq unlinks what is at an ipc:// path before it binds: a second broker silently took over the first's
    /// backend socket (its workers, reconnecting, reached nobody), and `--frontend ipc://recpool.toml` replaced the file.
    @Test("an ipc:// path another broker listens on is exit 69, a regular file there is exit 73 and left as it was")
    func ipcPathsOccupied() throws {
        let folder = try TemporaryDirectory("ipc-occupied")
        defer { folder.remove() }
        let socketPath = folder.path + "/b.ipc"
        let first = Process()
        first.executableURL = ProcessCluster.executable("recpool-broker")
        first.arguments = ["--frontend", "tcp://127.0.0.1:*", "--backend", "ipc://\(socketPath)", "--exit-with-parent"]
        first.standardOutput = Pipe()
        first.standardError = Pipe()
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() } }
        #expect(eventuallyBlocking(timeoutMs: 20_000) { FileManager.default.fileExists(atPath: socketPath) })
        let second = try runTool(
            "recpool-broker", ["--frontend", "tcp://127.0.0.1:*", "--backend", "ipc://\(socketPath)"])
        #expect(second.code == 69, "\(second.stderr)")
        #expect(first.isRunning)
        let file = folder.path + "/recpool.toml"
        try "[client]\ntimeout-ms = 3000\n".write(toFile: file, atomically: true, encoding: .utf8)
        let onFile = try runTool("recpool-broker", ["--frontend", "ipc://\(file)", "--backend", "tcp://127.0.0.1:*"])
        #expect(onFile.code == 73 && onFile.stderr.contains("not a socket"), "\(onFile.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "[client]\ntimeout-ms = 3000\n")
    }
}
