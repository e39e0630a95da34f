#if canImport(Glibc)
    import Glibc
#endif

extension ZMQEndpoint {
    /// Why a `tcp://` endpoint's host cannot be connected to, or nil: a host name that does not resolve (`getaddrinfo`,
    /// IPv4 as libzmq resolves it). libzmq resolves a connect's name in the background and retries for ever, so
    /// `tcp://nosuchhost.invalid:5555` ended as a timeout instead of naming the host. An IP address, `*`, `localhost`
    /// (mapped to 127.0.0.1) and other transports give nil without a lookup. Blocks for the lookup: call it before any
    /// event loop (a command's argument check), never on Swift's cooperative pool.
    public static func hostProblem(_ endpoint: String) -> String? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let target = endpoint.dropFirst("tcp://".count).split(separator: ";").last ?? ""
        guard let colon = target.lastIndex(of: ":") else { return nil }
        let host = String(target[..<colon])
        if host.isEmpty || host == "*" || host == "localhost" || host.hasPrefix("[") { return nil }
        var address = in_addr()
        if inet_pton(AF_INET, host, &address) == 1 { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &found)
        if let found { freeaddrinfo(found) }
        // A temporary failure (EAI_AGAIN: the resolver did not answer, a service not yet published) is left to libzmq,
        // which retries; only a name the resolver says does not exist is named.
        guard status != 0, status != EAI_AGAIN else { return nil }
        return "the host '\(host)' cannot be resolved: \(String(cString: gai_strerror(status)))"
    }
}
