import Foundation
import Testing

import RecFiles

@testable import RecTransport

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

    /// keygen's secret was written to a 0666 temporary file and set to 0600 after the rename (readable by others for a
    /// moment), and under umask 000 its `.pub` was 0666, which RecPool's own readers refuse.
    @Test("the secret key file is created 0600 and exclusively; a planted temporary file is never written into")
    func secretCreatedPrivate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "s")
        func mode(_ path: String) throws -> Int {
            try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        }
        #expect(try mode(paths.key) == 0o600 && mode(paths.pub) == 0o644)
        // A file someone else created under the temporary name: an exclusive create of a secret fails instead of
        // writing the secret into a file they can read (our own leftover is removed first, so only a race remains).
        let target = directory + "/planted.key"
        let planted = "\(target)\(AtomicFile.temporarySuffix)\(getpid())"
        FileManager.default.createFile(atPath: planted, contents: Data(), attributes: [.posixPermissions: 0o666])
        try AtomicFile.write(Array("secret".utf8), to: target, permissions: [.ownerReadWrite])
        #expect(try mode(target) == 0o600)
        #expect(!FileManager.default.fileExists(atPath: planted))
    }

    @Test("a .key file group or others may read is refused as a server key: its secret would sit readable")
    func openKeyFileAsServerKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "broker")
        #expect(try CurveKeyFile.readPublicKey(path: paths.key) == CurveKeyFile.readPublicKey(path: paths.pub))
        chmod(paths.key, 0o644)
        // Named as a key pair given where the public file belongs: "too open … or pass --allow-open-key-file" advised
        // a flag that applies to --curve-key only.
        #expect(throws: CurveKeyError.secretInPublicFile(path: paths.key, mode: 0o644)) { try CurveKeyFile.readPublicKey(path: paths.key) }
        #expect(!"\(CurveKeyError.secretInPublicFile(path: paths.key, mode: 0o644))".contains("--allow-open-key-file"))
        #expect(try CurveKeyFile.readPublicKey(path: paths.pub).count == 40)
    }

    /// The mode alone was checked: an allow-list owned by another user, or in a folder anyone may write, let another
    /// user add a key that the next reload admitted.
    @Test("an allow-list or key pair owned by another user, or in a folder others may write, is refused naming why")
    func ownerAndFolder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-owner-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "alice")
        let list = directory + "/clients.allow"
        try Data(try Data(contentsOf: URL(fileURLWithPath: paths.pub))).write(to: URL(fileURLWithPath: list))
        chmod(list, 0o644)
        #expect(try CurveKeyFile.readAllowList(path: list).count == 1)
        if geteuid() == 0 {
            chown(list, 65_534, 65_534)
            #expect(throws: CurveKeyError.foreignOwner(path: list, owner: 65_534, user: 0)) {
                try CurveKeyFile.readAllowList(path: list)
            }
            chown(paths.key, 65_534, 65_534)
            #expect(throws: CurveKeyError.foreignOwner(path: paths.key, owner: 65_534, user: 0)) {
                try CurveKeyFile.readKeyPair(path: paths.key)
            }
            // A server's .pub is the service user's file, read by operators: its owner is not checked (only who may
            // write it), and a broker told --allow-open-key-file reads its lists of another owner.
            chown(paths.pub, 65_534, 65_534)
            #expect(try CurveKeyFile.readPublicKey(path: paths.pub).count == 40)
            #expect(try CurveKeyFile.readAllowList(path: list, checkOwner: false).count == 1)
            chown(paths.pub, 0, 0)
            chown(list, 0, 0)
            chown(paths.key, 0, 0)
        }
        chmod(directory, 0o777)
        #expect(throws: CurveKeyError.writableFolder(path: list, folder: directory, mode: 0o777)) {
            try CurveKeyFile.readAllowList(path: list)
        }
        // A sticky folder (as /tmp) lets no one else replace the file.
        chmod(directory, 0o1777)
        #expect(try CurveKeyFile.readAllowList(path: list).count == 1)
        chmod(directory, 0o755)
    }

    /// `KEY  # alice` was refused as "not a CURVE key", which did not say the comment was the problem.
    @Test("a key followed by a comment on its line is named as such")
    func inlineComment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-comment-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "alice")
        let key = try CurveKeyFile.readPublicKey(path: paths.pub)
        let list = directory + "/clients.allow"
        try Data("# clients\n\(key)  # alice\n".utf8).write(to: URL(fileURLWithPath: list))
        #expect(throws: CurveKeyError.inlineComment(path: list, line: 2)) { try CurveKeyFile.readAllowList(path: list) }
    }

    /// `RECPOOL_CURVE_KEY=$SECRET` (the key where its file's path belongs) printed the secret in the error and the log.
    @Test("a key given where its file's path belongs is refused without showing it")
    func keyGivenAsPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curve-value-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "alice")
        let secret = try CurveKeyFile.readKeyPair(path: paths.key).secretKey
        #expect(throws: CurveKeyError.keyGivenAsPath) { try CurveKeyFile.readKeyPair(path: secret) }
        #expect(throws: CurveKeyError.keyGivenAsPath) { try CurveKeyFile.readAllowList(path: secret) }
        #expect(!"\(CurveKeyError.keyGivenAsPath)".contains(secret))
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

    /// `cat broker.key client.key > both.key`: the last pair was used without a word, so a broker started as
    /// `client`, and peers pinning the broker's key timed out.
    @Test("a key file holding two key pairs, or a server key file holding two keys, is refused naming the line")
    func twoPairs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-twopairs-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let a = try CurveKeyFile.generate(directory: directory, name: "a")
        let b = try CurveKeyFile.generate(directory: directory, name: "b")
        let both = directory + "/both.key"
        let text = try String(contentsOfFile: a.key, encoding: .utf8) + String(contentsOfFile: b.key, encoding: .utf8)
        #expect(FileManager.default.createFile(atPath: both, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let second = try #require(lines.indices.filter { lines[$0].hasPrefix("public-key") }.dropFirst().first) + 1
        #expect(throws: CurveKeyError.repeated(path: both, what: "public-key", line: second)) {
            try CurveKeyFile.readKeyPair(path: both)
        }
        #expect("\(CurveKeyError.repeated(path: both, what: "public-key", line: second))".contains("exactly one"))
        let servers = directory + "/servers.pub"
        let keys = try String(contentsOfFile: a.pub, encoding: .utf8) + String(contentsOfFile: b.pub, encoding: .utf8)
        #expect(FileManager.default.createFile(atPath: servers, contents: Data(keys.utf8)))
        #expect(throws: CurveKeyError.repeated(path: servers, what: "public key", line: 2)) {
            try CurveKeyFile.readPublicKey(path: servers)
        }
        // An allow-list is many keys by design.
        #expect(try CurveKeyFile.readAllowList(path: servers).count == 2)
    }

    @Test("a bad allow-list line is named, and secrets are never read as public keys")
    func badLines() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-allow-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("# comment\n\nnot-a-key\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CurveKeyError.badKey(path: path, line: 3)) { try CurveKeyFile.readAllowList(path: path) }
        try Data("secret-key = \(String(repeating: "a", count: 40))\n".utf8).write(to: URL(fileURLWithPath: path))
        // A secret readable by others, given as an allow-list, is refused as a key file is (it was read for its public
        // half without a word).
        chmod(path, 0o644)
        #expect(throws: CurveKeyError.secretInPublicFile(path: path, mode: 0o644)) { try CurveKeyFile.readAllowList(path: path) }
        chmod(path, 0o600)
        // A secret alone is no one's public key: the list was read as empty, revoking every peer at a notice.
        #expect(throws: CurveKeyError.missing(path: path, what: "public-key")) { try CurveKeyFile.readAllowList(path: path) }
        #expect(throws: CurveKeyError.missing(path: path, what: "public-key")) { try CurveKeyFile.readPublicKey(path: path) }
        #expect(throws: CurveKeyError.self) { try CurveKeyFile.readKeyPair(path: path + ".missing") }
        // A misspelt name (`public-keys`) was skipped the same way; 40 Z85 characters whose groups do not fit 4 bytes
        // decode to no key and matched no peer.
        let generated = try CurveKeyFile.generate(
            directory: FileManager.default.temporaryDirectory.path, name: "allow-typo-\(getpid())")
        defer { for file in [generated.key, generated.pub] { try? FileManager.default.removeItem(atPath: file) } }
        let key = try String(contentsOfFile: generated.pub, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try Data("public-keys = \(key)\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CurveKeyError.badKey(path: path, line: 1)) { try CurveKeyFile.readAllowList(path: path) }
        try Data("\(String(repeating: "%", count: 40))\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CurveKeyError.badKey(path: path, line: 1)) { try CurveKeyFile.readAllowList(path: path) }
        try Data("\(key)\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try CurveKeyFile.readAllowList(path: path).count == 1)
    }

    /// 40 Z85 characters that overflow when decoded (`#` is Z85's largest digit) were blamed on the CURVE build.
    @Test("a secret key of 40 Z85 characters that do not decode is a bad key naming the file and line")
    func undecodableSecret() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-badsecret-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("# a key\nsecret-key = \(String(repeating: "#", count: 40))\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        #expect(throws: CurveKeyError.badKey(path: path, line: 2)) { try CurveKeyFile.readKeyPair(path: path) }
    }

    /// A world-writable allow-list was accepted: any local user could add a key and be admitted at the next SIGHUP.
    @Test("a public-key file group or others may write is refused naming its mode; 0644 reads")
    func writableAllowList() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-ww-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("\(String(repeating: "a", count: 40))\n".utf8).write(to: URL(fileURLWithPath: path))
        for mode: mode_t in [0o666, 0o620, 0o602] {
            chmod(path, mode)
            #expect(throws: CurveKeyError.writableByOthers(path: path, mode: UInt32(mode))) {
                try CurveKeyFile.readAllowList(path: path)
            }
        }
        chmod(path, 0o644)
        #expect(try CurveKeyFile.readAllowList(path: path).count == 1)
    }

    /// A CRLF allow-list starting with a comment was read as one comment line (empty: the listed client was refused),
    /// a CRLF key file as holding no secret key, and a byte-order mark was part of a `.pub` file's first line.
    @Test("key files and allow-lists read alike with LF or CRLF line ends and with or without a byte-order mark")
    func lineEnds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-crlf-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "bob")
        let pair = try CurveKeyFile.readKeyPair(path: paths.key)
        let keyText = try String(contentsOfFile: paths.key, encoding: .utf8)
        let other = String(repeating: "a", count: 40)
        for (prefix, end) in [("", "\r\n"), ("\u{FEFF}", "\n"), ("\u{FEFF}", "\r\n")] {
            let allow = directory + "/crlf.allow"
            try Data((prefix + "# clients of the shop" + end + pair.publicKey + end + other + end).utf8)
                .write(to: URL(fileURLWithPath: allow))
            #expect(try CurveKeyFile.readAllowList(path: allow) == [pair.publicKey, other])
            let pub = directory + "/crlf.pub"
            try Data((prefix + pair.publicKey + end).utf8).write(to: URL(fileURLWithPath: pub))
            #expect(try CurveKeyFile.readPublicKey(path: pub) == pair.publicKey)
            let key = directory + "/crlf.key"
            try Data((prefix + keyText.replacingOccurrences(of: "\n", with: end)).utf8).write(to: URL(fileURLWithPath: key))
            chmod(key, 0o600)
            let read = try CurveKeyFile.readKeyPair(path: key)
            #expect(read.publicKey == pair.publicKey && read.secretKey == pair.secretKey)
        }
    }

    @Test("an allow-list of comments only is empty (no one of that role); a missing one is an error")
    func emptyAllowList() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-empty-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("# alice revoked\n\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try CurveKeyFile.readAllowList(path: path) == [])
        #expect(throws: CurveKeyError.self) { try CurveKeyFile.readAllowList(path: path + ".missing") }
    }

    @Test(
        "a secret key file its group or others may access is refused unless allowed, like ssh",
        arguments: [0o600, 0o400, 0o640, 0o644, 0o666, 0o604, 0o620])
    func openPermissions(mode: Int) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("recpool-perm-\(getpid())-\(mode)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try CurveKeyFile.generate(directory: directory, name: "k")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: paths.key)
        if mode & 0o077 == 0 {
            _ = try CurveKeyFile.readKeyPair(path: paths.key)
        } else {
            #expect(throws: CurveKeyError.tooOpen(path: paths.key, mode: UInt32(mode))) {
                try CurveKeyFile.readKeyPair(path: paths.key)
            }
            #expect(String(describing: CurveKeyError.tooOpen(path: paths.key, mode: UInt32(mode))).contains("too open"))
            _ = try CurveKeyFile.readKeyPair(path: paths.key, allowOpenPermissions: true)
        }
        // A public key file (0644, as it should be) given as a key pair: said to hold no secret key, never "too
        // open", whose advice (chmod 600) would lead nowhere.
        #expect(throws: CurveKeyError.missing(path: paths.pub, what: "secret-key")) {
            try CurveKeyFile.readKeyPair(path: paths.pub)
        }
        #expect("\(CurveKeyError.missing(path: paths.pub, what: "secret-key"))".contains("not NAME.pub"))
    }

    @Test(
        "localhost resolves to 127.0.0.1 and IPv6 literals turn ZMQ_IPV6 on",
        arguments: [
            ("tcp://localhost:5555", "tcp://127.0.0.1:5555", false), ("tcp://localhost:*", "tcp://127.0.0.1:*", false),
            ("tcp://[::1]:5555", "tcp://[::1]:5555", true), ("tcp://[::]:*", "tcp://[::]:*", true),
            ("tcp://127.0.0.1:1", "tcp://127.0.0.1:1", false), ("tcp://*:1", "tcp://*:1", false),
            ("ipc:///tmp/localhost:1", "ipc:///tmp/localhost:1", false),
            ("tcp://broker.lan:1", "tcp://broker.lan:1", false),
        ] as [(String, String, Bool)])
    func endpoints(given: String, resolved: String, ipv6: Bool) {
        let endpoint = ZMQEndpoint(given)
        #expect(endpoint.endpoint == resolved)
        #expect(endpoint.needsIPv6 == ipv6)
    }
}
