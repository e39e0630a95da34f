import FlyingSocks
import Logging

/// Sends FlyingFox's own log lines to swift-log (FlyingFox prints to standard output by default,
/// which belongs to command results). A connection dropped by a scraper is routine: FlyingFox's
/// errors and criticals are logged at `notice`, its warnings at `info`.
struct FlyingFoxLogBridge: FlyingSocks.Logging {
    let logger: Logger

    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.info("\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.notice("\(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.notice("\(critical())") }
}
