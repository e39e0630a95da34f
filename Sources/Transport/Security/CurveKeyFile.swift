import Foundation
import RecFiles

/// Why a CURVE key file could not be used.
public enum CurveKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read or written.
    case io(path: String, reason: String)
    /// A line is not a 40-character Z85 key.
    case badKey(path: String, line: Int)
    /// A key-pair file lacks its public or secret key.
    case missing(path: String, what: String)
    /// The public key in a key-pair file does not belong to its secret key.
    case mismatch(path: String)
    /// A public-key file (`.pub`) holds no key. (An allow-list may be empty: it then admits no one.)
    case empty(path: String)
    /// A secret key file may be read or written by its group or others (its mode, such as 0o644).
    case tooOpen(path: String, mode: UInt32)
    /// libzmq refused to generate or derive a key (no CURVE support).
    case curveUnavailable(ZMQError)
    /// A public-key file (an allow-list, a `.pub`) that group or others may write: anyone could add a key to it, or
    /// swap the server's (`mode` is the file's permission bits).
    case writableByOthers(path: String, mode: UInt32)
    /// A key-pair file holds a second `what` (`public-key` or `secret-key`) at `line`, or a server's public-key file
    /// a second key: which one is meant cannot be told (two `.key` files concatenated; the last one used to win).
    case repeated(path: String, what: String, line: Int)
    /// A public-key file (an allow-list, a server's `.pub`) holds a secret key that group or others may read: it is a
    /// `.key` file given where the public one belongs.
    case secretInPublicFile(path: String, mode: UInt32)
    /// A key file owned by another user than the one running (uid `owner`, not `user` or root): that user can change
    /// the keys it holds (ssh refuses such a file the same way).
    case foreignOwner(path: String, owner: UInt32, user: UInt32)
    /// A key file whose folder group or others may write (and that is not sticky): they can replace the file.
    case writableFolder(path: String, folder: String, mode: UInt32)
    /// A line holds a key followed by a `#` comment: comments must be on their own line.
    case inlineComment(path: String, line: Int)
    /// The value given as a key file's path names no file and is 40 Z85 characters: it may be a CURVE key given where
    /// its file's path belongs, so it is never shown (a mistyped path of that form is refused the same way).
    case keyGivenAsPath

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .badKey(let path, let line): "\(path):\(line): not a CURVE key (40 Z85 characters that encode 32 bytes)"
        case .missing(let path, let what):
            "\(path): no \(what) (expected a line `\(what) = <40 Z85 characters>`"
                + (what == "secret-key" ? "; a key pair is the NAME.key file `recpool keygen` writes, not NAME.pub)" : ")")
        case .mismatch(let path): "\(path): the public key does not match the secret key"
        case .empty(let path): "\(path): no public keys found"
        case .tooOpen(let path, let mode):
            "\(path): permissions \(String(format: "%04o", mode)) are too open: a secret key file must not be "
                + "accessible by group or others (chmod 600 \(path)), or pass --allow-open-key-file"
        case .curveUnavailable(let error): "CURVE is unavailable: \(error)"
        case .writableByOthers(let path, let mode):
            "\(path): permissions \(String(format: "%04o", mode)) let group or others change the keys it lists: a public-key "
                + "file must not be writable by them (chmod go-w \(path))"
        case .repeated(let path, let what, let line):
            "\(path):\(line): a second \(what): the file must hold exactly one (is it two key files concatenated?)"
        case .secretInPublicFile(let path, let mode):
            "\(path): it holds a secret key (a `secret-key` line) that group or others may read (permissions "
                + "\(String(format: "%04o", mode))): give the public-key file (NAME.pub) here, not the key pair NAME.key"
        case .foreignOwner(let path, let owner, let user):
            "\(path): it is owned by uid \(owner), not by this user (uid \(user)) or root, so that user can change the "
                + "keys it holds: chown it to the user that runs RecPool"
        case .writableFolder(let path, let folder, let mode):
            "\(path): its folder \(folder) (permissions \(String(format: "%04o", mode))) lets group or others replace "
                + "the file: keep key files in a folder only their owner may write (chmod go-w \(folder))"
        case .inlineComment(let path, let line):
            "\(path):\(line): a key followed by a `#` comment: a comment must be on a line of its own"
        case .keyGivenAsPath:
            "the path given for a key file names no file, and is not shown: it is 40 Z85 characters, so it may be a "
                + "CURVE key itself given where its file's path belongs (RECPOOL_CURVE_KEY=$SECRET); give the path of "
                + "the key file"
        }
    }
}

/// CurveZMQ key files as `recpool keygen` writes them.
///
/// - `NAME.key` (mode 0600) holds the pair: `public-key = Z85` and `secret-key = Z85` lines.
/// - `NAME.pub` holds the public key alone, on one line.
/// - An allow-list file holds public keys one per line (bare, or as `public-key = Z85`); blank
///   lines and `#` comments are skipped, so `cat *.pub > clients.allow` makes one.
public enum CurveKeyFile {
    /// The Z85 alphabet (ZeroMQ RFC 32).
    static let z85Digits = Array(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    static let z85Alphabet = Set(z85Digits)

    /// Whether `text` is a 40-character Z85 key.
    public static func isKey(_ text: String) -> Bool {
        guard text.utf8.count == 40, text.utf8.allSatisfy({ z85Alphabet.contains($0) }) else { return false }
        // Each group of 5 characters is a base-85 number that must fit 4 bytes (ZeroMQ RFC 32): `%%%%%` (84 × 85⁴ + …)
        // does not, so 40 such characters decode to no key, and a list holding them matched no peer, without a word.
        let digits = Array(text.utf8).map { byte in z85Digits.firstIndex(of: byte)! }
        return stride(from: 0, to: 40, by: 5).allSatisfy { start in
            digits[start..<(start + 5)].reduce(UInt64(0)) { $0 * 85 + UInt64($1) } <= UInt64(UInt32.max)
        }
    }

    /// Generates a key pair and writes `NAME.key` (0600) and `NAME.pub` into `directory`.
    /// - Returns: the paths written.
    /// - Throws: ``CurveKeyError``.
    public static func generate(directory: String, name: String) throws(CurveKeyError) -> (key: String, pub: String) {
        let pair: CurveKeyPair
        do {
            pair = try ZMQContext.generateCurveKeyPair()
        } catch {
            throw .curveUnavailable(error)
        }
        let keyPath = (directory as NSString).appendingPathComponent("\(name).key")
        let pubPath = (directory as NSString).appendingPathComponent("\(name).pub")
        do {
            try FolderCreation.create(directory)
        } catch {
            throw .io(path: directory, reason: error.description)
        }
        let keyText = """
            # RecPool CURVE key pair "\(name)". Keep this file secret.
            public-key = \(pair.publicKey)
            secret-key = \(pair.secretKey)

            """
        // The secret file is created 0600 from the start (Foundation's createFile wrote a 0666 temporary file and
        // set 0600 after the rename, so it was readable by others for a moment); the public one 0644 whatever the
        // umask (0666 under umask 000 was refused by RecPool's own readers as writable by others).
        do {
            try AtomicFile.write(Array(keyText.utf8), to: keyPath, permissions: [.ownerReadWrite])
        } catch {
            throw .io(path: keyPath, reason: "\(error)")
        }
        do {
            try AtomicFile.write(Array("\(pair.publicKey)\n".utf8), to: pubPath)
        } catch {
            throw .io(path: pubPath, reason: "\(error)")
        }
        guard chmod(pubPath, 0o644) == 0 else {
            throw .io(path: pubPath, reason: "cannot set its mode to 0644: \(String(cString: strerror(errno)))")
        }
        return (keyPath, pubPath)
    }

    /// Reads a key pair from a `NAME.key` file and checks that its halves belong together.
    ///
    /// Like ssh with a private key, it refuses a file that its group or others may read or write
    /// (any of the mode bits 0o077), unless `allowOpenPermissions` (`--allow-open-key-file`).
    /// - Throws: ``CurveKeyError``; ``CurveKeyError/tooOpen(path:mode:)`` for such a file.
    public static func readKeyPair(path: String, allowOpenPermissions: Bool = false) throws(CurveKeyError)
        -> CurveKeyPair
    {
        // What the path is comes before its permissions: a folder's 0755 is not "too open", it is not a key file.
        try checkRegularFile(path)
        let lines = try read(path)
        var publicKey: String?
        var secretKey: String?
        var secretLine = 0
        for (number, line) in lines {
            guard case let (name, value)? = assignment(line) else { continue }
            guard isKey(value) else { throw .badKey(path: path, line: number) }
            if name == "public-key" {
                guard publicKey == nil else { throw .repeated(path: path, what: name, line: number) }
                publicKey = value
            }
            if name == "secret-key" {
                guard secretKey == nil else { throw .repeated(path: path, what: name, line: number) }
                secretKey = value
                secretLine = number
            }
        }
        // What the file holds comes before its permissions too: a `.pub` file's 0644 is right for it, and the fault
        // is that it is not a key pair (tightening its mode, as "too open" would advise, leads nowhere).
        guard let secretKey else { throw .missing(path: path, what: "secret-key") }
        if !allowOpenPermissions, let mode = openPermissions(path) { throw .tooOpen(path: path, mode: mode) }
        if !allowOpenPermissions { try checkOwnership(path) }
        let derived: String
        do {
            derived = try ZMQContext.curvePublicKey(fromSecret: secretKey)
        } catch {
            // EINVAL: 40 Z85 characters that do not decode to 32 bytes (`####…` overflows), a bad key, not a build
            // without CURVE (which answers ENOTSUP).
            if error.code == EINVAL { throw .badKey(path: path, line: secretLine) }
            throw .curveUnavailable(error)
        }
        if let publicKey, publicKey != derived { throw .mismatch(path: path) }
        return CurveKeyPair(publicKey: derived, secretKey: secretKey)
    }

    /// Reads one public key: a `.pub` file, or the public half of a `.key` file.
    /// - Throws: ``CurveKeyError``; ``CurveKeyError/repeated(path:what:line:)`` for a file holding two keys (a
    ///   server is one key: the first used to be taken without a word).
    ///   A `.key` file (it holds a secret) that its group or others may access is refused as ``readKeyPair(path:allowOpenPermissions:)``
    ///   refuses it (``CurveKeyError/tooOpen(path:mode:)``): given as a server key, its secret sat readable by everyone.
    public static func readPublicKey(path: String) throws(CurveKeyError) -> String {
        let keys = try readAllowList(path: path, checkOwner: false)
        guard let key = keys.first else { throw .empty(path: path) }
        if let mode = openPermissions(path), try read(path).contains(where: { assignment($0.1)?.0 == "secret-key" }) {
            throw .secretInPublicFile(path: path, mode: mode)
        }
        if keys.count > 1 {
            let line = try read(path).filter { isKey($0.1) || assignment($0.1)?.0 == "public-key" }.dropFirst().first?.0 ?? 0
            throw .repeated(path: path, what: "public key", line: line)
        }
        return key
    }

    /// The permission bits of a file when its group or others may access it (mode & 0o077 ≠ 0),
    /// else `nil` (also when it cannot be inspected: reading it then reports the problem).
    public static func openPermissions(_ path: String) -> UInt32? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let mode = UInt32(info.st_mode) & 0o7777
        return mode & 0o077 != 0 ? mode : nil
    }

    /// Reads an allow-list: public keys one per line (or `.pub` files concatenated).
    /// - Returns: the keys in file order; empty when the file holds only blank lines and comments
    ///   (an empty allow-list admits no one of its role).
    /// - Throws: ``CurveKeyError``, naming the first line that is not a key, an unreadable file, a file group or
    ///   others may write (``CurveKeyError/writableByOthers(path:mode:)``), or a file holding a secret key that group
    ///   or others may read (``CurveKeyError/tooOpen(path:mode:)``).
    /// - Parameter checkOwner: refuse a list owned by another user than the one running or root
    ///   (``CurveKeyError/foreignOwner(path:owner:user:)``): the broker's allow-lists, which it trusts to admit peers.
    ///   A server's `.pub` read by ``readPublicKey(path:)`` is the service user's file, read by operators: only who may
    ///   write it, and its folder, is checked.
    public static func readAllowList(path: String, checkOwner: Bool = true) throws(CurveKeyError) -> [String] {
        try checkRegularFile(path)
        var info = stat()
        if stat(path, &info) == 0, UInt32(info.st_mode) & 0o022 != 0 {
            throw .writableByOthers(path: path, mode: UInt32(info.st_mode) & 0o7777)
        }
        // Its mode alone let another user who owns it, or who may write its folder, add a key that the next reload
        // admitted (ssh checks the owner and the folder too).
        try checkOwnership(path, owner: checkOwner)
        var keys: [String] = []
        let lines = try read(path)
        // A `.key` file given as an allow-list holds a secret: readable by its group or others, it is refused as a key
        // file is (ssh's rule), not read for its public half without a word; the advice is the public file, not
        // --allow-open-key-file, which applies to --curve-key only.
        if let mode = openPermissions(path), lines.contains(where: { assignment($0.1)?.0 == "secret-key" }) {
            throw .secretInPublicFile(path: path, mode: mode)
        }
        for (number, line) in lines {
            if case let (name, value)? = assignment(line) {
                // A `.key` file's secret is never treated as a public key; any other name (`public-keys = …`, a typo)
                // was skipped, and the list read as empty, revoking every peer without a word.
                guard name != "secret-key" else { continue }
                guard name == "public-key" else { throw .badKey(path: path, line: number) }
                guard isKey(value) else { throw .badKey(path: path, line: number) }
                keys.append(value)
            } else {
                guard isKey(line) else {
                    // `#` is a Z85 digit too: the comment is what follows white space after the key.
                    let parts = line.split(maxSplits: 1, whereSeparator: \.isWhitespace)
                    if parts.count == 2, isKey(String(parts[0])),
                        parts[1].trimmingCharacters(in: .whitespaces).hasPrefix("#")
                    {
                        throw .inlineComment(path: path, line: number)
                    }
                    throw .badKey(path: path, line: number)
                }
                keys.append(line)
            }
        }
        // Secrets alone (a `.key` file's secret line copied out): an allow-list of no one, said only as a notice.
        if keys.isEmpty, lines.contains(where: { assignment($0.1)?.0 == "secret-key" }) {
            throw .missing(path: path, what: "public-key")
        }
        return keys
    }

    /// The socket options that make a DEALER a CURVE client of a server whose public key is in
    /// `serverKeyPath`, authenticating with the pair in `keyPath`.
    /// - Throws: ``CurveKeyError``.
    /// - Parameter allowOpenPermissions: accept a key file its group or others may access.
    public static func clientOptions(serverKeyPath: String, keyPath: String, allowOpenPermissions: Bool = false)
        throws(CurveKeyError) -> [SocketOption]
    {
        let server = try readPublicKey(path: serverKeyPath)
        let pair = try readKeyPair(path: keyPath, allowOpenPermissions: allowOpenPermissions)
        return [.curveServerKey(server), .curvePublicKey(pair.publicKey), .curveSecretKey(pair.secretKey)]
    }

    /// Refuses a path that exists and is not a regular file (a folder, a device such as `/dev/null`, a pipe, a
    /// socket), naming what it is; a missing file is left to the read, which names the errno.
    /// - Throws: ``CurveKeyError/io(path:reason:)``.
    private static func checkRegularFile(_ path: String) throws(CurveKeyError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw .io(path: path, reason: "it is a folder, not a key file")
        default: throw .io(path: path, reason: "it is not a regular file (a device, pipe or socket), not a key file")
        }
    }

    /// Refuses a key file owned by another user than the one running or root (``CurveKeyError/foreignOwner(path:owner:user:)``),
    /// or in a folder group or others may write that is not sticky (``CurveKeyError/writableFolder(path:folder:mode:)``),
    /// as ssh's StrictModes does; a file that cannot be inspected is left to the read, which names the problem.
    private static func checkOwnership(_ path: String, owner: Bool = true) throws(CurveKeyError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let user = UInt32(geteuid())
        if owner && UInt32(info.st_uid) != user && info.st_uid != 0 {
            throw .foreignOwner(path: path, owner: UInt32(info.st_uid), user: user)
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var folderInfo = stat()
        guard stat(folder, &folderInfo) == 0 else { return }
        let mode = UInt32(folderInfo.st_mode) & 0o7777
        // A sticky folder (/tmp) lets no one but the owner rename or remove the file.
        if mode & 0o022 != 0 && mode & UInt32(S_ISVTX) == 0 {
            throw .writableFolder(path: path, folder: folder, mode: mode)
        }
    }

    /// Non-blank, non-comment lines with their 1-based numbers, trimmed.
    private static func read(_ path: String) throws(CurveKeyError) -> [(Int, String)] {
        // A key given where its file's path belongs (`RECPOOL_CURVE_KEY=$SECRET`) was echoed into errors and logs as
        // "<the secret>: cannot read".
        if isKey(path), !FileManager.default.fileExists(atPath: path) { throw .keyGivenAsPath }
        let data: [UInt8]
        do {
            data = try AtomicFile.read(path)
        } catch {
            // The operating system's reason ("No such file or directory"), not Foundation's "could not be completed".
            throw .io(path: path, reason: "cannot read: \(AtomicFile.reason(error))")
        }
        var text = String(decoding: data, as: UTF8.self)
        // A byte-order mark an editor wrote is no part of the first line, in a key file and an allow-list alike.
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var result: [(Int, String)] = []
        // Lines end at LF or CRLF: split at "\n" alone, a CRLF file (whose "\r\n" Swift reads as one character) was
        // one line, so an allow-list starting with a comment was read as empty and a key file as holding no key.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            result.append((index + 1, line))
        }
        return result
    }

    /// Splits `name = value`.
    private static func assignment(_ line: String) -> (String, String)? {
        guard let equals = line.firstIndex(of: "="), line.hasPrefix("public-key") || line.hasPrefix("secret-key")
        else { return nil }
        let name = line[..<equals].trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        return (name, value)
    }
}

/// Whether endpoints stay on this host.
public enum EndpointScope {
    /// `true` for `ipc://`, `inproc://` and `tcp://` on 127.x, `localhost` or `[::1]`; `false` for
    /// wildcards (`*`, `0.0.0.0`) and every other address.
    public static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst("tcp://".count))
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex)..<close])
            return host == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
