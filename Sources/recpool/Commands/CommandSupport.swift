import ArgumentParser
import Foundation

/// Prints `recpool: …` to standard error and returns the error to throw, with the exit status of the one table
/// (``ExitStatus``): how every model command reports bad input, so no typed error turns into a crash or a usage dump.
func fail(_ error: any Error) -> any Error {
    ExitStatus.report(error)
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
