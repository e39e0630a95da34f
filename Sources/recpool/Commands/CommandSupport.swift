import ArgumentParser
import Foundation

/// Prints `recpool: error: …` to standard error and returns exit status 1: how every model
/// command reports bad input, so no typed error turns into a crash or a usage dump.
func fail(_ error: any Error) -> ExitCode {
    printError("recpool: error: \(error)")
    return ExitCode.failure
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
