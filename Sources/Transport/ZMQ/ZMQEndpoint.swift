#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `tcp://` endpoint as RecPool hands it to libzmq.
///
/// libzmq binds only IP addresses, interface names and `*` (it does no DNS lookup for a bind), so
/// `tcp://localhost:P` fails with `ENODEV` ("No such device"); and it refuses IPv6 addresses unless
/// the socket's `ZMQ_IPV6` option is on, so `tcp://[::1]:P` fails too. This value maps `localhost`
/// to `127.0.0.1` for binds and connects alike (so both ends agree whatever `/etc/hosts` says), and
/// says when a bracketed IPv6 literal (`tcp://[::1]:P`, `tcp://[::]:P`) needs `ZMQ_IPV6`. Other
/// endpoints pass through unchanged; a host name in a connect is resolved by libzmq to IPv4.
public struct ZMQEndpoint: Sendable, Hashable {
    /// The endpoint to pass to `zmq_bind` or `zmq_connect`.
    public let endpoint: String
    /// Whether the socket needs `ZMQ_IPV6` on for it.
    public let needsIPv6: Bool

    /// The longest `ipc://` path, in bytes: a Unix socket address's `sun_path` less its terminating NUL (107 on Linux).
    public static let maximumIPCPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// The transports RecPool's ROUTER and DEALER sockets can use: those of the libzmq build RecPool runs on (4.3 as
    /// Debian builds it). `ws`, `wss` and `vmci` passed this check and failed the bind or connect at run time ("Protocol
    /// not supported", exit 70 or 69, which a supervisor restarts for ever).
    public static let transports: Set<String> = ["tcp", "ipc", "inproc"]

    /// Why `endpoint` is not one libzmq can take, or nil: it must be `TRANSPORT://ADDRESS` with a transport of
    /// ``transports`` and an address, a `tcp://` one with `:PORT` (or `:*`), whose port ``portProblem(_:)`` accepts.
    /// libzmq itself answers only `EINVAL` ("Invalid argument") for `foo`, `ipc://` or `tcp://127.0.0.1`.
    ///
    /// With `connecting`, port 0 and `*` are refused too: they pick a free port when binding, and a connect to them
    /// waits for a peer that cannot be there. With `betweenProcesses` (the endpoint of a flag of RecPool's programs,
    /// whose peers are other processes), `inproc://` is refused: it joins sockets of one process only.
    public static func problem(_ endpoint: String, connecting: Bool = false, betweenProcesses: Bool = false) -> String? {
        guard let range = endpoint.range(of: "://"), transports.contains(String(endpoint[..<range.lowerBound])),
            !endpoint[range.upperBound...].isEmpty
        else {
            return betweenProcesses
                ? "expected tcp://HOST:PORT or ipc://PATH" : "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"
        }
        if betweenProcesses, endpoint.hasPrefix("inproc://") {
            // libzmq takes the bind or connect, and the peer in the other process waits for ever.
            return "inproc:// joins sockets within one process only, and recpool-broker, recpool-worker and recpool "
                + "are separate processes: use tcp:// or ipc://"
        }
        if endpoint.hasPrefix("tcp://") {
            // The destination's host: `tcp://:5555` was said to need a port, and `tcp://*:5555` passed a worker's
            // check and failed its connect at run time (exit 70, restarted for ever).
            let target = endpoint.dropFirst("tcp://".count).split(separator: ";", omittingEmptySubsequences: false).last ?? ""
            if let colon = target.lastIndex(of: ":") {
                let host = target[..<colon]
                if host.isEmpty {
                    return connecting
                        ? "a tcp endpoint needs a host before its port (tcp://HOST:PORT)"
                        : "a tcp endpoint needs a host before its port (tcp://HOST:PORT, or tcp://*:PORT for every interface)"
                }
                if connecting && host == "*" {
                    return "host * binds every interface; a connect needs the host the broker listens on (tcp://HOST:PORT)"
                }
            }
        }
        if endpoint.hasPrefix("tcp://"), endpoint[range.upperBound...].split(separator: ":").count < 2 {
            return connecting
                ? "a tcp endpoint needs a port (tcp://HOST:PORT)"
                : "a tcp endpoint needs a port (tcp://HOST:PORT, or :* for any)"
        }
        if let problem = portProblem(endpoint) { return problem }
        // A connect to a socket path longer than a Unix socket's address holds failed at run time (ENAMETOOLONG, exit
        // 70), which a supervisor restarts for ever; a bind reports it as a path problem of its own (exit 73).
        if connecting, endpoint.hasPrefix("ipc://") {
            let path = endpoint.dropFirst("ipc://".count)
            if path.utf8.count > maximumIPCPathBytes {
                return "the socket path is \(path.utf8.count) bytes, more than the \(maximumIPCPathBytes) a Unix socket's "
                    + "path may hold: use a shorter path"
            }
        }
        if connecting, endpoint.hasPrefix("tcp://"), let port = endpoint.split(separator: ":").last, port == "0" || port == "*" {
            return "port \(port) picks a free port when binding; a connect needs the port the broker listens on"
        }
        return nil
    }

    /// Why a `tcp://` endpoint's port cannot be used, or nil: it must be `*` or 0 (bind any) or 1…65535. libzmq takes a
    /// larger number for a connect and waits for a peer that can never answer, so a typo like `:99999` would end as
    /// a timeout instead of naming the port. Other transports, and an endpoint with no port (which libzmq names),
    /// give nil; in `tcp://source;destination` the destination's port is checked.
    public static func portProblem(_ endpoint: String) -> String? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let target = endpoint.dropFirst("tcp://".count).split(separator: ";").last ?? ""
        guard let colon = target.lastIndex(of: ":") else { return nil }
        let port = target[target.index(after: colon)...]
        if port == "*" { return nil }
        // Digits only: `Int("+45101")` is 45101, and libzmq refuses `:+45101` at run time (EINVAL, exit 70).
        guard !port.isEmpty, port.utf8.allSatisfy({ (48...57).contains($0) }), let number = Int(port),
            (0...65_535).contains(number)
        else {
            return "the port '\(port)' is not 0…65535 (or * to bind any free port)"
        }
        return nil
    }

    /// Resolves `endpoint` as described on the type.
    public init(_ endpoint: String) {
        let prefix = "tcp://"
        guard endpoint.hasPrefix(prefix) else {
            self.endpoint = endpoint
            needsIPv6 = false
            return
        }
        let rest = endpoint.dropFirst(prefix.count)
        // `tcp://source;destination` (a connect from a chosen local address) is passed through,
        // but either side may be IPv6.
        if rest.contains(";") {
            self.endpoint = endpoint
            needsIPv6 = rest.contains("[")
            return
        }
        if rest.hasPrefix("[") {
            self.endpoint = endpoint
            needsIPv6 = true
            return
        }
        if rest.lowercased().hasPrefix("localhost:") {
            self.endpoint = prefix + "127.0.0.1" + rest.dropFirst("localhost".count)
        } else {
            self.endpoint = endpoint
        }
        needsIPv6 = false
    }
}
