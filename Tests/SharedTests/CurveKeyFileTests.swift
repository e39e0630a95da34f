import Foundation
import Testing

@testable import Shared

@Suite("CURVE key files and endpoint scope")
struct CurveKeyFileTests {
    @Test(
        "loopback endpoints are recognised and wildcards are not",
        arguments: [
            ("tcp://127.0.0.1:5555", true), ("tcp://127.4.5.6:*", true), ("tcp://localhost:1", true),
            ("tcp://[::1]:5555", true), ("ipc:///tmp/x", true), ("inproc://a", true), ("tcp://*:5555", false),
            ("tcp://0.0.0.0:5555", false), ("tcp://10.0.0.1:5555", false), ("tcp://[::]:1", false),
            ("tcp://127.0.0.1.evil.com:1", false), ("udp://127.0.0.1:1", false),
        ] as [(String, Bool)])
    func loopback(endpoint: String, expected: Bool) {
        #expect(EndpointScope.isLoopback(endpoint) == expected)
    }

    @Test("keygen writes a 0600 key pair and a .pub that read back and belong together")
    func roundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-keytest-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "alice")
        let mode = try FileManager.default.attributesOfItem(atPath: paths.key)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let pair = try CurveKeyFile.readKeyPair(path: paths.key)
        #expect(try CurveKeyFile.readPublicKey(path: paths.pub) == pair.publicKey)
        #expect(try CurveKeyFile.readPublicKey(path: paths.key) == pair.publicKey)
        #expect(CurveKeyFile.isKey(pair.secretKey))
    }

    @Test("a bad allow-list line is named, and secrets are never read as public keys")
    func badLines() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-allow-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("# comment\n\nnot-a-key\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CurveKeyError.badKey(path: path, line: 3)) { try CurveKeyFile.readPublicKeys(path: path) }
        try Data("secret-key = \(String(repeating: "a", count: 40))\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CurveKeyError.empty(path: path)) { try CurveKeyFile.readPublicKeys(path: path) }
        #expect(throws: CurveKeyError.self) { try CurveKeyFile.readKeyPair(path: path + ".missing") }
    }
}
