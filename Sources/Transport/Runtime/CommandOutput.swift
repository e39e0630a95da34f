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

    /// Writes `text` and a newline to stderr, its control characters escaped (``escapingControls(_:)``): an error
    /// message quotes what a peer or a file sent (`unknown user feature 'x\u{1B}[2J'`), and raw, an escape sequence
    /// in it would clear or rewrite the user's terminal.
    public static func printError(_ text: String) {
        FileHandle.standardError.write(Data((escapingControls(text) + "\n").utf8))
    }

    /// `text` with every C0 control character but the line feed and the tab, DEL and every C1 control character
    /// written as `\u{XX}` (Swift's escape), so that it prints as text and never acts on a terminal.
    public static func escapingControls(_ text: String) -> String {
        func isControl(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            return (value < 0x20 && value != 0x0A && value != 0x09) || (0x7F...0x9F).contains(value)
        }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
