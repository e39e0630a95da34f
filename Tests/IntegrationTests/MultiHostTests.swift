import Foundation
import Testing

/// Three network namespaces (broker, w1, w2) on one bridge with private 10.213.x addresses; the
/// test process reaches the broker through the bridge's own address. Everything is created with
/// names unique to this process and deleted in ``remove()``.
struct NamespaceNetwork {
    let suffix = String(getpid() % 100_000)
    /// The first three octets of the /24 the bridge and members share.
    var subnet = "10.213.0"
    /// Member names and their last address octet.
    var members = [("broker", 1), ("w1", 2), ("w2", 3)]
    /// A short tag that keeps interface names of two networks in one process apart.
    var tag = ""
    var bridge: String { "rpbr\(tag)\(suffix)" }
    func namespace(_ name: String) -> String { "rp-\(name)-\(suffix)" }
    func hostVeth(_ name: String) -> String { "rp\(tag)\(name)\(suffix)" }
    /// A member's address.
    func address(_ name: String) -> String {
        "\(subnet).\(members.first { $0.0 == name }?.1 ?? 0)"
    }

    @discardableResult
    static func ip(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Whether this process may create namespaces (root, and `ip netns add` permitted).
    static var permitted: Bool {
        let probe = "rp-probe-\(getpid())"
        guard ip(["netns", "add", probe]) == 0 else { return false }
        ip(["netns", "del", probe])
        return true
    }

    /// The output of `ip ARGUMENTS`, or "" when it fails.
    static func ipOutput(_ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Deletes the namespaces and links a killed test run left behind (named for a process that no longer
    /// exists): their bridge holds the same fixed subnet, and its route would take this run's packets.
    static func removeLeftovers() {
        // Only names whose number is unambiguous: `rp-NAME-PID` namespaces (deleting one deletes its veth pair too) and
        // `rpbrTAGPID` bridges (the tag is letters); never this process's own.
        func deadSuffix(_ name: Substring) -> Bool {
            let digits = name.reversed().prefix { $0.isNumber }
            guard let pid = Int32(String(digits.reversed())), pid > 0, pid != getpid() % 100_000 else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
        for line in ipOutput(["netns", "list"]).split(separator: "\n") {
            guard let name = line.split(separator: " ").first, name.hasPrefix("rp-"), deadSuffix(name) else { continue }
            ip(["netns", "del", String(name)])
        }
        for line in ipOutput(["-br", "link"]).split(separator: "\n") {
            guard let field = line.split(separator: " ").first else { continue }
            let name = field.split(separator: "@").first ?? field
            guard name.hasPrefix("rpbr"), deadSuffix(name) else { continue }
            ip(["link", "del", String(name)])
        }
    }

    func create() throws {
        func run(_ arguments: [String]) throws {
            guard Self.ip(arguments) == 0 else { throw NetworkError.command(arguments.joined(separator: " ")) }
        }
        Self.removeLeftovers()
        try run(["link", "add", bridge, "type", "bridge"])
        try run(["addr", "add", "\(subnet).254/24", "dev", bridge])
        try run(["link", "set", bridge, "up"])
        for (name, host) in members {
            let ns = namespace(name)
            try run(["netns", "add", ns])
            try run(["link", "add", hostVeth(name), "type", "veth", "peer", "name", "eth0", "netns", ns])
            try run(["link", "set", hostVeth(name), "master", bridge, "up"])
            try run(["-n", ns, "addr", "add", "\(subnet).\(host)/24", "dev", "eth0"])
            try run(["-n", ns, "link", "set", "eth0", "up"])
            try run(["-n", ns, "link", "set", "lo", "up"])
        }
    }

    /// Cuts or restores a member's link (its bridge-side veth).
    func setLink(_ name: String, up: Bool) { Self.ip(["link", "set", hostVeth(name), up ? "up" : "down"]) }

    func remove() {
        for (name, _) in members { Self.ip(["netns", "del", namespace(name)]) }
        for (name, _) in members { Self.ip(["link", "del", hostVeth(name)]) }
        Self.ip(["link", "del", bridge])
    }

    enum NetworkError: Error { case command(String) }
}

@Suite("Multi-host over network namespaces", .serialized)
struct MultiHostTests {
    @Test(
        "cutting a worker's link under load: its requests complete on the other worker, and it rejoins once restored",
        .enabled(if: NamespaceNetwork.permitted, "needs root and `ip netns add`"))
    func cutAndRestoreLink() async throws {
        let network = NamespaceNetwork()
        defer { network.remove() }
        try network.create()
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        cluster.namespaces = [
            "broker": network.namespace("broker"), "w1": network.namespace("w1"), "w2": network.namespace("w2"),
        ]
        // Private addresses inside our own namespaces: plaintext is allowed explicitly.
        try cluster.startBroker(frontend: "tcp://10.213.0.1:*", backend: "tcp://10.213.0.1:*", extra: ["--insecure"])
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let client = try await cluster.client(timeoutMs: 10_000)
        defer { client.close() }
        _ = try await cluster.waitForStatus(client, timeoutMs: 10_000) { $0.workers.count == 2 }

        let load = SteadyLoad(client: client, lanes: 8, timeoutMs: 10_000)
        try await load.waitForCompleted(300)
        network.setLink("w1", up: false)
        // Within the liveness window (3 heartbeats) w1 is declared dead and what it held is re-dispatched.
        _ = try await cluster.waitForStatus(client, timeoutMs: 8000) { $0.workers.map(\.id) == ["w2"] }
        let during = load.completed
        try await load.waitForCompleted(during + 300)
        network.setLink("w1", up: true)
        let status = try await cluster.waitForStatus(client, timeoutMs: 15_000) { $0.workers.count == 2 }
        #expect(Set(status.workers.map(\.id)) == ["w1", "w2"])
        let outcomes = await load.stop()
        #expect(outcomes.keys.sorted() == ["OK"], "\(outcomes)")
        #expect((status.counters["redispatched"] ?? 0) + (status.counters["workers_expired"] ?? 0) > 0)
    }
}
