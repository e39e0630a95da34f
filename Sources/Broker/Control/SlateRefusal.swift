import RecWire

/// Why a broker started without a running online policy refuses online work.
enum OnlineUnavailable: Error, Equatable, CustomStringConvertible {
    /// The broker was started without `--online` (or without `--state-dir`).
    case notConfigured
    /// The broker was started with `--online`, but online learning could not start; the reason is the one the
    /// control plane logged (an `--online-catalogue` that cannot be served, a stored policy that does not load).
    case failed(String)

    var description: String {
        switch self {
        case .notConfigured: "this broker does not run online learning; start it with --online and --state-dir"
        case .failed(let why): "online learning is off: \(why); fix it and restart the broker"
        }
    }
}

/// Why a policy slate a worker drew is answered with an error instead of reaching the client.
enum SlateRefusal: Error, Equatable, CustomStringConvertible {
    /// Worker `worker` served a policy slate, but this broker serves no online policy: it cannot log the
    /// impression, so feedback on the slate could never be taken.
    case noOnlinePolicy(worker: String, OnlineUnavailable)

    var description: String {
        switch self {
        case .noOnlinePolicy(let worker, let why):
            "worker \(worker) served a policy slate this broker cannot log, so feedback on it could not be "
                + "taken: \(why)"
        }
    }

    /// The CONFLICT reply that replaces the held slate `frames` (the worker's reply, header first) for its client.
    func reply(replacing frames: [[UInt8]]) -> [[UInt8]] {
        let header = frames.first.flatMap { try? Header(decoding: $0) } ?? Header(command: .recommend)
        return WireMessage.errorReply(to: header, status: .conflict, message: description).frames()
    }
}
