import Foundation
import RecWire

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

    /// Writes `text` and a newline to stderr, its control characters escaped (``escapingControls(_:)``): an error
    /// message quotes what a peer or a file sent (`unknown user feature 'x\u{1B}[2J'`), and raw, an escape sequence
    /// in it would clear or rewrite the user's terminal.
    public static func printError(_ text: String) {
        FileHandle.standardError.write(Data((escapingControls(text) + "\n").utf8))
    }

    /// `text` with its control characters written as `\u{XX}` (``WireText/escapingControls(_:)``).
    public static func escapingControls(_ text: String) -> String { WireText.escapingControls(text) }
}
