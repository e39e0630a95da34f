import ArgumentParser
import Broker
import BrokerCore
import DaemonOptions
import Foundation
import Logging
import OnlineFlags
import RecConfig
import RecMetrics
import RecTransport
import RecWire
import ServiceLifecycle

/// `recpool-broker`: binds the client and worker faces and routes requests between them.
@main
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recpool-broker",
        abstract: "Route scoring requests from clients to RecPool workers over ZeroMQ.",
        discussion: """
            Prints one JSON line with the bound endpoints on stdout once listening; logs go to stderr.
            Every option can also be set as RECPOOL_<OPTION> in the environment or under [broker] in \
            the --config file (precedence: command line, environment, file, default).
            """)

    /// Reads the environment and the configuration file before ArgumentParser parses.
    static func main() async {
        HangupService.ignoreUntilTrapped()
        EarlyStop.recordUntilTrapped()
        // On the main thread, before libzmq's and the broker's threads allocate.
        _ = FreeMemory.daemonHeapThresholds
        await runConfigured(table: "broker")
    }

    @Option(help: "Client-facing ROUTER endpoint (a non-loopback address needs CURVE keys or --insecure).")
    var frontend = "tcp://127.0.0.1:5555"

    @Option(help: "Worker-facing ROUTER endpoint (a non-loopback address needs CURVE keys or --insecure).")
    var backend = "tcp://127.0.0.1:5556"

    @Option(help: "The broker's CURVE key pair (from `recpool keygen`); enables CurveZMQ and ZAP on both sockets.")
    var curveKey: String?

    @Option(help: "Public keys (one per line, or a .pub file) allowed on the frontend as clients.")
    var allowClients: String?

    @Option(help: "Public keys allowed on the frontend as trainers (clients that may also train and promote).")
    var allowTrainers: String?

    @Option(help: "Public keys allowed on the backend as workers.")
    var allowWorkers: String?

    @Flag(help: "Allow plaintext, unauthenticated traffic on non-loopback endpoints (not recommended).")
    var insecure = false

    @Flag(help: "Use a --curve-key file that its group or others may access (refused otherwise, as ssh does).")
    var allowOpenKeyFile = false

    @Option(help: "Heartbeat interval in ms; a worker silent for 3 intervals is dead.")
    var heartbeatMs: UInt64 = 1000

    @Option(help: "Requests that may wait per service before BUSY.")
    var queueCapacity = 4096

    @Option(help: "Dispatch attempts per request (2 = re-dispatch once if a worker dies).")
    var maxAttempts = 2

    @Option(help: "How long a request waits for a worker when none offers its service, in ms.")
    var noWorkerTimeoutMs: UInt64 = 1000

    @Option(help: "Payload bytes the broker may hold per service for queued and in-flight requests; beyond, BUSY.")
    var queueBytes = 256 << 20

    @Option(help: "Payload bytes the broker may hold for one client's queued and in-flight requests; beyond, BUSY.")
    var clientBytes = 64 << 20

    @Option(
        help: "Reply bytes buffered for a client that does not read them (sets the frontend's send high-water mark); beyond, as many more wait in the broker for at most 10 s, then replies are dropped and counted."
    )
    var clientReplyBytes = 32 << 20

    @Option(help: "Messages libzmq reads ahead per client connection (the frontend's receive high-water mark).")
    var clientReceiveHwm = 16

    @Option(
        help: "Frames larger than this make libzmq drop the connection (ZMQ_MAXMSGSIZE): a backstop; messages over the 16 MiB limit below it are answered TOO_LARGE."
    )
    var hardFrameLimitBytes = 64 << 20

    @Option(help: "Directory for durable state: jobs, datasets, model versions (needed to train and promote).")
    var stateDir: String?

    @Option(
        help: ArgumentHelp(
            "How long a catalogue upload, add or retire waits for every serving worker to confirm it, in ms.",
            discussion: "After this the change is acknowledged with confirmed: false. Raise it for large catalogues."))
    var catalogueConfirmTimeoutMs: UInt64 = 10_000

    @Option(
        help: "Bytes of CONTROL and FEEDBACK requests (and policy slates waiting to be logged) that may wait for the control plane; beyond, BUSY."
    )
    var controlInboxBytes = 64 << 20

    @OptionGroup(title: "Online learning") var online: OnlineOptions

    @OptionGroup var daemon: DaemonOptions

    /// Two of the addresses the broker binds that are one: the same `ipc://` path, or the same TCP port on the same
    /// host (or on a wildcard host, which takes the port on every address); ports chosen by the system (`*`, `0`)
    /// never clash. The message names both flags; nil when none clash.
    static func clash(among endpoints: [(flag: String, endpoint: String)]) -> String? {
        func tcp(_ endpoint: String) -> (host: String, port: String)? {
            guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
            let host = String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon])
            // The port as a number: `045121` is port 45121, which a text comparison took for another.
            let text = String(endpoint[endpoint.index(after: colon)...])
            let port = Int(text).map(String.init) ?? text
            let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            // `localhost` is bound as 127.0.0.1 (docs/SECURITY.md), so it is that address.
            return (bare.lowercased() == "localhost" ? "127.0.0.1" : bare, port)
        }
        // `*` and 0.0.0.0 take the port on every IPv4 address (libzmq binds IPv4 only without ZMQ_IPV6); `::` takes it
        // on every address, IPv4 included (a dual-stack socket, as docs/SECURITY.md says of `tcp://[::]`).
        func family(_ host: String) -> String { host.contains(":") ? "ipv6" : "ipv4" }
        let wildcards: Set<String> = ["*", "0.0.0.0", "::", ""]
        func overlaps(_ x: String, _ y: String) -> Bool {
            x == y || x == "::" || y == "::"
                || (wildcards.contains(x) || wildcards.contains(y)) && family(x) == family(y)
        }
        for (i, a) in endpoints.enumerated() {
            for b in endpoints[(i + 1)...] {
                let same: Bool
                if let x = tcp(a.endpoint), let y = tcp(b.endpoint) {
                    same = x.port == y.port && x.port != "*" && x.port != "0" && overlaps(x.host, y.host)
                } else if a.endpoint.hasPrefix("ipc://"), b.endpoint.hasPrefix("ipc://") {
                    // `ipc://*` picks a new path at each bind. Paths compare as the files they name: `f.ipc`,
                    // `./f.ipc` and its absolute path are one socket file.
                    func file(_ endpoint: String) -> String {
                        URL(fileURLWithPath: String(endpoint.dropFirst("ipc://".count))).standardizedFileURL.path
                    }
                    same = a.endpoint != "ipc://*" && b.endpoint != "ipc://*" && file(a.endpoint) == file(b.endpoint)
                } else {
                    same = a.endpoint == b.endpoint && !a.endpoint.hasPrefix("tcp://")
                }
                if same {
                    return "\(a.flag) \(a.endpoint) and \(b.flag) \(b.endpoint) are one address: the broker binds each, and "
                        + "the second bind would fail; give them different ports or paths"
                }
            }
        }
        return nil
    }

    func validate() throws {
        try EndpointSyntax.validate(frontend, flag: "--frontend")
        try EndpointSyntax.validate(backend, flag: "--backend")
        // As `recpool local` refuses them: an online setting without --online would be silently ignored.
        let tunables = online.changedTunables
        if !online.online && !tunables.isEmpty {
            throw ValidationError(
                "\(tunables.map(\.flag).joined(separator: ", ")) \(tunables.count == 1 ? "needs" : "need") --online")
        }
        // Checked here, not in run(): --print-config exits 0 only for what a start accepts.
        guard catalogueConfirmTimeoutMs >= 1 else {
            throw ValidationError("--catalogue-confirm-timeout-ms must be at least 1, got \(catalogueConfirmTimeoutMs)")
        }
        if let metrics = daemon.metrics, let problem = MetricsEndpoint.addressProblem(metrics) {
            throw ValidationError(problem)
        }
        // The same address twice: the second bind failed with exit 69, which a supervisor restarts for ever.
        let bound = [("--frontend", frontend), ("--backend", backend)] + (daemon.metrics.map { [("--metrics", "tcp://" + $0)] } ?? [])
        if let clash = Self.clash(among: bound) { throw ValidationError(clash) }
        guard (10...3_600_000).contains(heartbeatMs) else {
            throw ValidationError("--heartbeat-ms must be 10…3600000 (an hour), got \(heartbeatMs)")
        }
        guard noWorkerTimeoutMs <= 86_400_000 else {
            throw ValidationError("--no-worker-timeout-ms must be at most 86400000 (a day), got \(noWorkerTimeoutMs)")
        }
        let messageLimit = WireLimits.standard.maxMessageBytes
        guard queueBytes >= messageLimit else {
            throw ValidationError("--queue-bytes must be at least \(messageLimit) (one largest request)")
        }
        guard controlInboxBytes >= messageLimit else {
            throw ValidationError("--control-inbox-bytes must be at least \(messageLimit) (one largest request)")
        }
        guard clientBytes >= messageLimit else {
            throw ValidationError("--client-bytes must be at least \(messageLimit) (one largest request)")
        }
        guard clientReplyBytes >= 1 << 20 else { throw ValidationError("--client-reply-bytes must be at least 1048576, got \(clientReplyBytes)") }
        guard clientReceiveHwm >= 1 else { throw ValidationError("--client-receive-hwm must be at least 1, got \(clientReceiveHwm)") }
        // libzmq's ZMQ_RCVHWM is a C int.
        guard clientReceiveHwm <= Int(Int32.max) else {
            throw ValidationError("--client-receive-hwm must be at most \(Int32.max) (libzmq's ZMQ_RCVHWM is a C int), got \(clientReceiveHwm)")
        }
        guard hardFrameLimitBytes > messageLimit else {
            throw ValidationError("--hard-frame-limit-bytes must be more than the message limit of \(messageLimit)")
        }
        guard queueCapacity >= 1 else { throw ValidationError("--queue-capacity must be at least 1, got \(queueCapacity)") }
        // A header's `attempt` is 16 bits: a request is dispatched at most 65,535 times.
        guard (1...Int(UInt16.max)).contains(maxAttempts) else {
            throw ValidationError("--max-attempts must be 1…\(UInt16.max), got \(maxAttempts)")
        }
        if online.online && stateDir == nil { throw ValidationError("--online needs --state-dir") }
        // An empty key or allow-list path was read as a file named "" ("recpool-broker: : cannot read", exit 66).
        try PathName.validate(
            [(curveKey, "--curve-key"), (allowClients, "--allow-clients"), (allowTrainers, "--allow-trainers"),
             (allowWorkers, "--allow-workers")],
            what: "a file")
        try PathName.validate([(stateDir, "--state-dir")], what: "a folder")
        _ = try online.settings()  // the online settings' own checks, named by flag
        if curveKey == nil && (allowClients != nil || allowTrainers != nil || allowWorkers != nil) {
            throw ValidationError("--allow-clients, --allow-trainers and --allow-workers need --curve-key")
        }
        if curveKey == nil && !insecure {
            for endpoint in [frontend, backend] where !EndpointScope.isLoopback(endpoint) {
                throw ValidationError(
                    "\(endpoint) is not a loopback endpoint: configure CURVE keys (--curve-key and --allow-…), "
                        + "or pass --insecure to serve plaintext to the network")
            }
        }
    }

    /// The allow-list files, read at start and on SIGHUP.
    private var allowListFiles: AllowListFiles {
        AllowListFiles(
            clients: allowClients, trainers: allowTrainers, workers: allowWorkers, allowForeignOwner: allowOpenKeyFile)
    }

    /// Reads the key pair and allow-lists, or `nil` when CURVE is not configured. An empty list is
    /// valid (no one of that role) and logged; a missing file is an error.
    private func loadSecurity(_ logger: Logger) throws(CurveKeyError) -> BrokerSecurity? {
        guard let curveKey else { return nil }
        let pair = try CurveKeyFile.readKeyPair(path: curveKey, allowOpenPermissions: allowOpenKeyFile)
        if allowOpenKeyFile, let mode = CurveKeyFile.openPermissions(curveKey) {
            logger.warning(
                "using a secret key file its group or others may access (--allow-open-key-file)",
                metadata: ["path": "\(curveKey)", "mode": "\(String(mode, radix: 8))"])
        }
        let lists = try allowListFiles.load()
        for (role, keys) in [("clients", lists.clients), ("trainers", lists.trainers), ("workers", lists.workers)]
        where keys.isEmpty {
            logger.notice("no \(role) allowed: the allow-list is empty or not given", metadata: ["role": "\(role)"])
        }
        return BrokerSecurity(keyPair: pair, lists: lists)
    }

    func run() async throws {
        // The metrics port opens once the broker bound its endpoints over a state directory that passed its checks.
        let metricsGate = ListeningSignal()
        let metricsService = try daemon.start(commandName: "recpool-broker").map { endpoint in
            var gated = endpoint
            gated.startGate = metricsGate
            return gated
        }
        let logger = Logger(label: "recpool.broker")
        let security: BrokerSecurity?
        do {
            security = try loadSecurity(logger)
        } catch {
            daemon.reportFailure("\(error)", commandName: "recpool-broker")
            throw DaemonExit.noInput
        }
        var configuration = BrokerConfiguration()
        configuration.heartbeatIntervalMs = heartbeatMs
        configuration.queueCapacity = queueCapacity
        configuration.maxAttempts = UInt16(maxAttempts)
        configuration.noWorkerTimeoutMs = noWorkerTimeoutMs
        configuration.serviceBytesLimit = queueBytes
        configuration.clientBytesLimit = clientBytes
        configuration.clientReplyBytes = clientReplyBytes
        configuration.clientReceiveHighWaterMark = Int32(clientReceiveHwm)
        configuration.hardFrameLimitBytes = hardFrameLimitBytes
        configuration.enforceRoles = security != nil
        var settings = BrokerReactor.Settings(frontend: frontend, backend: backend, configuration: configuration)
        settings.exitWithParent = daemon.exitWithParent
        settings.stateDirectory = stateDir
        settings.security = security
        settings.online = try online.settings()
        guard catalogueConfirmTimeoutMs >= 1 else {
            throw ValidationError("--catalogue-confirm-timeout-ms must be at least 1, got \(catalogueConfirmTimeoutMs)")
        }
        settings.catalogueConfirmTimeoutMs = catalogueConfirmTimeoutMs
        settings.controlInboxBytes = controlInboxBytes
        let service = BrokerService(settings: settings, logger: logger) { result in
            if case .success = result { metricsGate.settle(true) } else { metricsGate.settle(false) }
            switch result {
            case .success(let endpoints):
                // With --metrics, announced only once that endpoint is bound too: a metrics address in use stops the
                // broker (exit 69), which must not have said it was listening.
                Task {
                    guard await metricsService?.listening.wait() ?? true else { return }
                    logger.info(
                        "listening",
                        metadata: [
                            "frontend": "\(endpoints.frontend)", "backend": "\(endpoints.backend)",
                            "malloc_thresholds": "\(FreeMemory.daemonHeapThresholds)",
                        ])
                    CommandOutput.printLine(WireJSON.encode(endpoints))
                }
            case .failure(let error):
                logger.critical("\(error)")
            }
        }
        // SIGHUP re-reads the allow-lists (without CURVE it is logged and ignored); trapped from here on.
        let files = allowListFiles
        let hangup = await HangupService.trap { service.reloadAllowLists(from: files, logger: logger) }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)]
                    + (metricsService.map { [.init(service: $0, successTerminationBehavior: .ignore)] } ?? [])
                    + [.init(service: hangup, successTerminationBehavior: .ignore)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // A state directory this start creates is removed again when the start fails: the reactor does so for its own
        // bind and store failures; a metrics address in use fails the start after the reactor bound (nothing was
        // announced, so nothing was acknowledged), and is handled here.
        let created = stateDir.map(StateDirectoryCreation.init(stateDirectory:))
        do {
            try await group.run()
        } catch let error as BrokerError {
            switch error {
            case .bindFailed(let endpoint, let zmqError):
                // A Unix socket that cannot be created where it is asked for (a folder not writable, a directory or
                // file in its place) is a fault of the file system, not an endpoint busy for now: a supervisor would
                // restart into it for ever on "unavailable".
                if let problem = IPCEndpointProblem.describe(endpoint: endpoint, error: zmqError) {
                    daemon.reportFailure("cannot bind \(endpoint): \(problem)", commandName: "recpool-broker")
                    throw DaemonExit.cannotCreate
                }
                if endpoint.hasPrefix("tcp://"), zmqError.code == ENODEV {
                    // libzmq reads a bind's host as an interface name: "No such device" for a host name.
                    daemon.reportFailure(
                        "cannot bind \(endpoint): \(zmqError.message); a bind names an address or a network interface, "
                            + "not a host name: give the address (tcp://10.0.0.1:5555)", commandName: "recpool-broker")
                } else if zmqError.code == EADDRINUSE {
                    // Said in one plain line, as a state directory in use is (only a log line said it).
                    daemon.reportFailure(
                        "cannot bind \(endpoint): \(zmqError.message): another process listens there (another broker, "
                            + "or a `recpool local`): stop it, or give this broker another port", commandName: "recpool-broker",
                        alreadyLogged: true)
                }
                throw DaemonExit.unavailable
            case .store, .unreadableState:
                // The reactor logged it as critical already.
                daemon.reportFailure("\(error)", commandName: "recpool-broker", alreadyLogged: true)
                throw error.isDamagedState ? DaemonExit.dataError : DaemonExit.cannotCreate
            case .socketFailed: throw DaemonExit.software
            }
        } catch {
            logger.critical("stopped", metadata: ["error": "\(error)"])
            if error is MetricsEndpoint.EndpointError, let created, await metricsService?.listening.wait() == false {
                created.undo()
            }
            throw DaemonExit.code(for: error)
        }
    }
}

