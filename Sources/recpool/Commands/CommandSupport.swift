import ArgumentParser
import Foundation
import RecTransport

/// Prints `recpool: …` to standard error and returns the error to throw, with the exit status of the one table
/// (``ExitStatus``): how every model command reports bad input, so no typed error turns into a crash or a usage dump.
func fail(_ error: any Error) -> any Error {
    ExitStatus.report(error)
}

/// Writes a line to standard error, its control characters escaped (``CommandOutput/printError(_:)``).
func printError(_ text: String) {
    CommandOutput.printError(text)
}
