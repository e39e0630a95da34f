import Foundation

/// Command-line output on stdout: the one place the executables print results (logs go to stderr).
public enum CommandOutput {
    /// Writes `bytes` and a newline to stdout and flushes, so a parent process sees the line at once.
    public static func printLine(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes + [0x0A]))
    }

    /// Writes `text` and a newline to stdout and flushes.
    public static func printLine(_ text: String) {
        printLine(Array(text.utf8))
    }

    /// Writes `text` and a newline to stderr.
    public static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
