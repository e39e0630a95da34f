import Foundation
import RecTestKit
import Testing

/// `recpool config --print`: the effective configuration of each program, with sources.
@Suite("recpool config --print")
struct ConfigCommandTests {
    @Test("shows flag, environment, file and default values with their sources; needs --print")
    func printsEffectiveConfiguration() throws {
        let temporary = try TemporaryDirectory("config")
        defer { temporary.remove() }
        let file = temporary.file("config.toml")
        try "[broker]\nheartbeat-ms = 500\nqueue-capacity = 7\n".write(to: file, atomically: true, encoding: .utf8)
        setenv("RECPOOL_QUEUE_CAPACITY", "99", 1)
        defer { unsetenv("RECPOOL_QUEUE_CAPACITY") }
        let run = try runTool(
            "recpool", ["config", "--print", "--of", "broker", "--config", file.path, "--", "--max-attempts", "3"])
        #expect(run.code == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        func line(_ key: String) -> String? { lines.first { $0.hasPrefix("\(key) =") } }
        #expect(line("heartbeat-ms")?.contains("500") == true && line("heartbeat-ms")?.contains(file.path) == true)
        #expect(line("queue-capacity")?.contains("99") == true && line("queue-capacity")?.contains("environment") == true)
        #expect(line("max-attempts")?.contains("command line") == true)
        #expect(line("no-worker-timeout-ms")?.contains("default") == true)
        let nothing = try runTool("recpool", ["config"])
        #expect(nothing.code == 64)
        let unknown = try runTool("recpool", ["config", "--print", "--of", "worker", "--", "--no-such-flag", "1"])
        #expect(unknown.code == 64)
    }

    @Test(
        "every command takes --config and --print-config, the local ones too (fit, eval, predict, data, export, keygen)",
        arguments: [
            ["fit", "--dataset", "synthetic:users=10", "--out", "m.ckpt"], ["eval", "--model", "m.ckpt", "--dataset", "x.csv"],
            ["predict", "--model", "m.ckpt", "--input", "rows.csv"], ["data", "describe", "synthetic:users=10"],
            ["data", "features", "synthetic:users=10", "--out", "f.csv"], ["data", "schema", "--infer", "logs.csv"],
            ["export", "--model", "m.ckpt", "--out", "m.onnx"], ["keygen", "--name", "k"], ["bench-model"],
        ])
    func localCommandsTakeConfig(_ command: [String]) throws {
        let temporary = try TemporaryDirectory("config-local")
        defer { temporary.remove() }
        let file = temporary.file("c.toml")
        try "[client]\nepochs = 2\n".write(to: file, atomically: true, encoding: .utf8)
        let run = try runTool("recpool", command + ["--config", file.path, "--print-config"])
        #expect(run.code == 0 && run.stdout.hasPrefix("[client]"), "\(command): \(run.stderr)")
        #expect(!run.stderr.contains("Unknown option"), "\(run.stderr)")
        if command.first == "fit" {
            #expect(
                run.stdout.split(separator: "\n").first { $0.hasPrefix("epochs =") }?.contains(file.path) == true,
                "\(run.stdout)")
        }
    }

    @Test("a dataset typed as the first argument wins over one from RECPOOL_DATASET or the file's [client] table")
    func positionalDatasetWins() throws {
        let temporary = try TemporaryDirectory("config-dataset")
        defer { temporary.remove() }
        let file = temporary.file("c.toml")
        try "[client]\ndataset = \"synthetic:users=40,rows=90,seed=2\"\n".write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try runTool("recpool", ["data", "describe", "synthetic:users=30,rows=60,seed=1", "--config", file.path])
        #expect(fromFile.code == 0 && fromFile.stderr.contains("dataset synthetic:users=30,rows=60,seed=1"), "\(fromFile.stderr)")
        let fromEnvironment = try runTool(
            "recpool", ["data", "describe", "synthetic:users=30,rows=60,seed=1"],
            environment: ["RECPOOL_DATASET": "synthetic:users=40,rows=90,seed=2"])
        #expect(fromEnvironment.code == 0 && fromEnvironment.stderr.contains("users=30"), "\(fromEnvironment.stderr)")
        // Typed twice on the command line is still refused.
        let twice = try runTool(
            "recpool", ["data", "describe", "synthetic:users=30", "--dataset", "synthetic:users=40"])
        #expect(twice.code == 64 && twice.stderr.contains("given twice"))
    }

    @Test("a negative value from the file or the environment is the option's value, never 'Missing value'")
    func negativeValues() throws {
        let temporary = try TemporaryDirectory("config")
        defer { temporary.remove() }
        let file = temporary.file("c.toml")
        // `epsilon` is an online setting: the broker refuses it without `online`, which needs a state directory.
        let state = temporary.file("state").path
        try "[broker]\nonline = true\nstate-dir = \"\(state)\"\nepsilon = -0.0\n".write(
            to: file, atomically: true, encoding: .utf8)
        let fromFile = try runTool("recpool", ["config", "--print", "--of", "broker", "--config", file.path])
        #expect(fromFile.code == 0 && !fromFile.stderr.contains("Missing value"), "\(fromFile.stderr)")
        #expect(
            fromFile.stdout.split(separator: "\n").first { $0.hasPrefix("epsilon =") }?.contains("-0.0") == true,
            "\(fromFile.stdout)")
        // -0.5 is outside [0, 1]: the broker's own validation refuses it by name, not the parser as a missing value.
        let fromEnvironment = try runTool(
            "recpool", ["config", "--print", "--of", "broker"],
            environment: ["RECPOOL_ONLINE": "true", "RECPOOL_STATE_DIR": state, "RECPOOL_EPSILON": "-0.5"])
        #expect(!fromEnvironment.stderr.contains("Missing value"), "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stderr.contains("epsilon") || fromEnvironment.stdout.contains("-0.5"))
    }

    @Test("recpool found on PATH finds its sibling programs from any directory; an unknown program is named")
    func fromPath() throws {
        let temporary = try TemporaryDirectory("config-path")
        defer { temporary.remove() }
        let binaries = ProcessCluster.executable("recpool").deletingLastPathComponent().path
        for (program, key) in [("broker", "heartbeat-ms"), ("worker", "batch-alone-rows"), ("status", "broker")] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["recpool", "config", "--print", "--of", program]
            process.environment = ProcessInfo.processInfo.environment.merging(["PATH": binaries + ":/usr/bin:/bin"]) { _, new in new }
            process.currentDirectoryURL = temporary.url
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0 && stdout.contains("\(key) ="), "\(program): \(stderr)")
        }
        let unknown = try runTool("recpool", ["config", "--print", "--of", "nosuchcommand"])
        #expect(
            unknown.code == 64 && unknown.stderr.contains("--of nosuchcommand: no such program")
                && unknown.stderr.contains("simulate") && !unknown.stderr.contains("--print-config"), "\(unknown.stderr)")
        // A command of subcommands is named with one of them; `local` prints its configuration like the others.
        let group = try runTool("recpool", ["config", "--print", "--of", "catalogue"])
        #expect(group.code == 64 && group.stderr.contains("name one, such as --of \"catalogue upload\""), "\(group.stderr)")
        let local = try runTool("recpool", ["config", "--print", "--of", "local"])
        #expect(local.code == 0 && local.stdout.contains("workers = 2"), "\(local.stderr)")
        // A value from the file that a command refuses names the flag and where it came from.
        let file = temporary.file("k.toml")
        try "[client]\nusers = 0\n".write(to: file, atomically: true, encoding: .utf8)
        let users = try runTool("recpool", ["config", "--print", "--of", "simulate", "--config", file.path])
        #expect(
            users.code == 64 && users.stderr.contains("--users must be 1...10000000, got 0")
                && users.stderr.contains("note: --users came from \(file.path) [client]"), "\(users.stderr)")
        let epochs = try runTool("recpool", ["fit", "--dataset", "x.csv", "--out", "y.ckpt", "--epochs", "-1"])
        #expect(epochs.code == 64 && epochs.stderr.contains("--epochs must be 0…10000, got -1"), "\(epochs.stderr)")
        // `train`'s bounds: `fit` took 10,001 epochs, a batch of 65,537 and a subnormal learning rate.
        // And `--lr=1e308` was named as "inf" (read as a 32-bit float), and `--hidden` stopped at 16 layers where a
        // training job takes 63.
        let lrRule = "--lr must be a number > 0 that a 32-bit float holds as a normal number (1.1754944e-38 to 3.4028235e+38), got"
        let cases = [
            ("--epochs", "10001", "--epochs must be 0…10000, got 10001"), ("--lr", "1e-40", "\(lrRule) 1e-40"),
            ("--lr", "1e308", "\(lrRule) 1e+308"),
            ("--batch", "65537", "--batch must be 1…65536, got 65537"),
            ("--hidden", Array(repeating: "4", count: 64).joined(separator: ","), "--hidden must be 1 to 63 widths"),
        ]
        for (flag, value, says) in cases {
            let run = try runTool("recpool", ["fit", "--dataset", "x.csv", "--out", "y.ckpt", flag, value])
            #expect(run.code == 64 && run.stderr.contains(says), "\(run.stderr)")
        }
    }
}
