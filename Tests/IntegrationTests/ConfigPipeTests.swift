import Foundation
import Testing

/// A configuration or model path naming a FIFO nobody writes to, on real processes.
@Suite("Configuration and model paths that are pipes", .serialized)
struct ConfigPipeTests {
    /// `RECPOOL_CONFIG` or `--config` naming a FIFO with no writer blocked every program in open(2) for ever, `--help`
    /// included, and `recpool-worker --model FIFO` too: help never opens the file, and a pipe that stays silent for the
    /// pipe wait (5 s) is refused naming it.
    @Test("--help never opens the configuration file; a silent FIFO as --config or --model is refused within seconds")
    func silentFIFO() throws {
        let directory = try TrainingTests.makeDirectory("config-fifo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("silent.toml").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let environment = ["RECPOOL_CONFIG": fifo]
        for (tool, arguments) in [
            ("recpool", ["--help"]), ("recpool", ["status", "--help"]), ("recpool-broker", ["--help"]),
            ("recpool-worker", ["--help"]), ("recpool-worker", ["--config", fifo, "--help"]),
        ] {
            let started = ContinuousClock.now
            let help = try runTool(tool, arguments, environment: environment)
            #expect(help.code == 0 && help.stdout.contains("USAGE"), "\(tool) \(arguments): \(help.stderr)")
            #expect(ContinuousClock.now - started < .seconds(4), "\(tool) \(arguments) waited for the pipe")
        }
        for (tool, arguments, environment, code) in [
            ("recpool-worker", ["--print-config"], environment, Int32(64)),
            ("recpool-broker", ["--config", fifo, "--print-config"], [:], 64),
            ("recpool", ["status", "--print-config"], environment, 64),
            ("recpool-worker", ["--model", fifo, "--broker", "tcp://127.0.0.1:1"], [:], 66),
        ] {
            let started = ContinuousClock.now
            let refused = try runTool(tool, arguments, environment: environment)
            #expect(refused.code == code, "\(tool) \(arguments): \(refused.code) \(refused.stderr)")
            #expect(
                refused.stderr.contains(fifo) && refused.stderr.contains("it is a pipe (FIFO) and no writer sent anything"),
                "\(tool) \(arguments): \(refused.stderr)")
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }
}
