import ArgumentParser
import Foundation
import RecClient
import RecData
import RecModel
import RecTransport
import RecWire

/// The exit statuses of `recpool`, one per outcome. This is the one table: every subcommand's errors are mapped here
/// (``ExitStatus/of(_:)``), and docs/OPERATIONS.md, "Exit codes", lists exactly these values.
///
/// A reply with an error status exits `10 +` the status's wire code (docs/PROTOCOL.md), so `BAD_REQUEST` (1) exits 11
/// and `NOT_FOUND` (10) exits 20.
enum ExitStatus: Int32, CaseIterable, Sendable {
    /// Success.
    case success = 0
    /// The command's own check failed (`health`: no live worker offers the service), or a failure no other code names.
    case failed = 1
    /// Bad input: a file that cannot be read, parsed or written (the message names file, line and column), data that
    /// does not fit the pool (rows of another width, another catalogue).
    case badInput = 2
    /// The broker did not answer in time (the request's deadline passed on the client), or the client was closed.
    case unreachable = 3
    /// `recpool job --follow` ended with a job that did not complete.
    case jobFailed = 4
    /// `loadtest` or `simulate`: errors dominated the run (see the command's help for the threshold).
    case errorsDominate = 5
    /// A computed result is not a finite number (a score, an estimate); the message names the row or the estimate.
    case notFinite = 6
    /// A reply broke the protocol (it could not be decoded).
    case protocolViolation = 7
    /// The pool answered `BAD_REQUEST`.
    case badRequest = 11
    /// `TOO_LARGE`.
    case tooLarge = 12
    /// `BUSY`.
    case busy = 13
    /// `EXPIRED`.
    case expired = 14
    /// `CANCELLED` (also a request cancelled by the client).
    case cancelled = 15
    /// `NO_WORKER`.
    case noWorker = 16
    /// `UNAUTHORIZED`, or the broker refused the client's security handshake (a CURVE key on no allow-list, CURVE
    /// on one side only, another broker key).
    case unauthorized = 17
    /// `INTERNAL`.
    case `internal` = 18
    /// `UNSUPPORTED_VERSION`.
    case unsupportedVersion = 19
    /// `NOT_FOUND`.
    case notFound = 20
    /// `CONFLICT`.
    case conflict = 21
    /// `WORKER_LOST`.
    case workerLost = 22
    /// Usage or configuration error: unknown flag or key, a missing or invalid value (a malformed endpoint, dataset
    /// specification or number), as ArgumentParser's and the configuration loader's `EX_USAGE`.
    case usage = 64
    /// `recpool local`: the broker it started exited 65 (`EX_DATAERR`): its state directory fails its check at start.
    case brokerStateDamaged = 65
    /// `recpool local`: the broker it started exited 66 (`EX_NOINPUT`): a file its configuration names cannot be read.
    case brokerInputUnreadable = 66
    /// `recpool local`: the broker it started exited 69 (`EX_UNAVAILABLE`): an endpoint cannot be bound.
    case brokerEndpointUnavailable = 69
    /// `recpool local`: the broker it started exited 70 (`EX_SOFTWARE`): a failure while starting.
    case brokerFailed = 70
    /// `recpool local`: the broker it started exited 73 (`EX_CANTCREAT`): its state directory cannot be opened or
    /// created, or another broker holds it.
    case brokerStateUnavailable = 73

    /// The status `recpool local` exits with when the broker it started exited with `status` before it served: the
    /// broker's own `sysexits.h` code (docs/OPERATIONS.md, "Exit codes"), so a supervisor of `recpool local` reads a
    /// damaged state directory (65) apart from a port in use (69); `failed` for any other status.
    static func ofBrokerStart(_ status: Int32) -> ExitStatus {
        switch ExitStatus(rawValue: status) {
        case .usage, .brokerStateDamaged, .brokerInputUnreadable, .brokerEndpointUnavailable, .brokerFailed,
            .brokerStateUnavailable:
            ExitStatus(rawValue: status) ?? .failed
        default: .failed
        }
    }

    /// The status a reply with an error `status` exits with: `10 + status`.
    static func of(_ status: Status) -> ExitStatus {
        ExitStatus(rawValue: 10 + Int32(status.rawValue)) ?? .failed
    }

    /// The status for any error a subcommand throws.
    static func of(_ error: any Error) -> ExitStatus {
        switch error {
        case let failure as CommandFailure: return failure.exitStatus
        case let error as ClientError: return of(error)
        case is CSVError, is DataError, is CheckpointError, is FeatureSpecError: return .badInput
        case is NonFiniteResult, is EncodingError: return .notFinite
        default:
            // Foundation's file errors (reading a spec, writing a report) are file errors like any other.
            let domain = (error as NSError).domain
            return domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain ? .badInput : .failed
        }
    }

    /// The status for a client error.
    static func of(_ error: ClientError) -> ExitStatus {
        switch error {
        case .timedOut, .closed: .unreachable
        case .server(let status, _, _): of(status)
        case .cancelled: .cancelled
        case .badEndpoint: .usage
        case .invalidRequest: .badInput
        case .protocolViolation: .protocolViolation
        case .handshakeFailed(_, .protocolError(let code))
        where code != ZMQMonitorEvent.mechanismMismatch && code != ZMQMonitorEvent.cryptographic:
            // The peer does not speak ZMTP as a broker does: a protocol matter, not an unadmitted key.
            .protocolViolation
        case .handshakeFailed(_, .closedDuringGreeting):
            // A CURVE broker or a port that is no broker's: the handshake did not complete, whichever it was.
            .protocolViolation
        case .handshakeFailed: .unauthorized
        case .notAPolicyReply: .failed
        @unknown default: .failed
        }
    }

    /// ArgumentParser's exit code for this status.
    var exitCode: ExitCode { ExitCode(rawValue) }

    /// Prints `recpool: MESSAGE` on stderr for `error` and returns the exit code to throw. Errors ArgumentParser
    /// handles itself (an `ExitCode`, a `ValidationError`, `CleanExit`, a parse error) pass through unchanged.
    static func report(_ error: any Error) -> any Error {
        switch error {
        case is ExitCode, is ValidationError, is CleanExit: return error
        case is CommandFailure, is ClientError, is CSVError, is DataError, is CheckpointError, is FeatureSpecError,
            is NonFiniteResult,
            is EncodingError:
            // A request that got no answer at all: the broker it went to is named, and the usual causes (a wrong port
            // read as a slow broker).
            if case .timedOut? = error as? ClientError, let broker = BrokerOptions.connected.withLock({ $0 }) {
                CommandOutput.printError(
                    "recpool: \(error): no answer from the broker at \(broker) (is it running, and is that its client "
                        + "(frontend) endpoint?)")
                return of(error).exitCode
            }
            CommandOutput.printError("recpool: \(error)")
            return of(error).exitCode
        default:
            // Parse errors of ArgumentParser are not public types; let it print them with its usage text.
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { return error }
            let ns = error as NSError
            if ns.domain == NSCocoaErrorDomain, let path = ns.userInfo[NSFilePathErrorKey] as? String {
                CommandOutput.printError("recpool: \(path): \(FileProblem.reason(error))")
            } else {
                CommandOutput.printError("recpool: \(error)")
            }
            return of(error).exitCode
        }
    }
}

/// A computed value that is NaN or infinite, named by what it is (`row 2 score`, `IPW estimate`): a command prints no
/// such value, it fails with ``ExitStatus/notFinite``.
struct NonFiniteResult: Error, CustomStringConvertible {
    /// What the value is, such as `row 2: score`.
    var what: String
    /// The value.
    var value: Double

    var description: String { "\(what) is not a finite number (\(Self.spelled(value))); no output printed" }

    /// `nan` for every NaN, as the workers' refusals name it (Swift prints one with its sign bit set as `-nan`);
    /// any other value as Swift prints it (`inf`, `-inf`).
    static func spelled(_ value: Double) -> String {
        value.isNaN ? "nan" : "\(value)"
    }

    /// Throws when any of `values` is not finite, naming the first such row (1-based) as `row N: NAME`.
    static func check(_ values: [Float], name: String) throws(NonFiniteResult) {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw NonFiniteResult(what: "row \(i + 1) (1-based): \(name)", value: Double(values[i]))
        }
    }
}

/// A failure to report on stderr with its exit status.
struct CommandFailure: Error, CustomStringConvertible {
    /// The message, without the `recpool: ` prefix.
    var description: String
    /// How the process exits.
    var exitStatus: ExitStatus

    init(_ description: String, exitCode: ExitStatus = .failed) {
        self.description = description
        self.exitStatus = exitCode
    }
}

extension ParsableCommand {
    /// Runs `body`, mapping any error to its ``ExitStatus`` after printing it on stderr.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            throw ExitStatus.report(error)
        }
    }

    /// Runs `body`, mapping any error to its ``ExitStatus`` after printing it on stderr.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            throw ExitStatus.report(error)
        }
    }
}
