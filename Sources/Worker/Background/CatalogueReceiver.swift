import RecData
import RecWire

/// A catalogue version a worker has installed (verified against the broker's SHA-256).
struct InstalledCatalogue: Sendable, Equatable {
    /// The registry's version.
    var version: UInt64
    /// SHA-256 of its canonical bytes.
    var sha256: String
    /// The catalogue.
    var catalogue: ItemCatalogue
}

/// A CATALOGUE's bytes once hashed and decoded (``CatalogueReceiver/verify(_:bytes:)``), before the receiver decides
/// what to do with them.
struct VerifiedCatalogue: Sendable {
    /// The version the notice names.
    var version: UInt64
    /// The SHA-256 (hex) the bytes hash to.
    var computed: String
    /// The decoded catalogue, or why the bytes are refused.
    var outcome: Result<ItemCatalogue, CatalogueRefusalReason>
}

/// What a received CATALOGUE comes to (``CatalogueReceiver/admit(_:)``).
enum CatalogueReceipt: Sendable {
    /// A new version to serve: the policy moves to it, then its CATALOGUE_STATE is sent.
    case serve(InstalledCatalogue)
    /// Answered at once with `state`; `hold` is a version to hold (not serve) for a POLICY that names it.
    case answer(CatalogueState, hold: InstalledCatalogue?)
}

/// Which registry catalogue version the worker received last from the broker it registered with, and what each
/// new CATALOGUE comes to. Runs on the online-learning thread, in order with POLICY and LEARN, so the session thread
/// that heartbeats the broker never hashes or decodes a catalogue (100,000 items take seconds in a debug build, and
/// three missed heartbeats retire a worker).
///
/// A version is installed only when its bytes hash to the notice's SHA-256 and decode. The version installed
/// already (same number, same SHA-256) is confirmed as it is and held again (for the POLICY the broker may have sent
/// it for). A version under the same number with another SHA-256 (a catalogue from another registry) replaces it.
/// An older number, sent for a POLICY that names it, is held and reported not installed, naming the version served:
/// held is not served. A registration forgets the received version (``forget()``): what the worker holds comes from
/// the broker it registered with.
struct CatalogueReceiver: Sendable {
    /// The newest version received and verified since the registration, `nil` before the first.
    private(set) var newest: InstalledCatalogue?
    /// The newest version before the one being served, for ``withdraw(_:)``.
    private var previous: InstalledCatalogue?

    /// Hashes and decodes a CATALOGUE's frame 2: the expensive half, done outside any lock.
    /// - Parameters:
    ///   - notice: frame 1, the version and SHA-256 the broker names.
    ///   - bytes: frame 2, the catalogue's canonical bytes (``ItemCatalogue/canonicalBytes()``).
    static func verify(_ notice: CatalogueInstall, bytes: [UInt8]) -> VerifiedCatalogue {
        let computed = sha256Hex(bytes)
        guard computed == notice.sha256 else {
            return VerifiedCatalogue(
                version: notice.version, computed: computed,
                outcome: .failure(.hashMismatch(computed: computed, named: notice.sha256)))
        }
        // JSON and each key once (as a broker's own canonical bytes always are): a plain decoder takes a key written
        // twice (`"ids"`, or `"numeric"` and `"\u006eumeric"`) as one of its two values, and skips unread text unchecked.
        if let problem = WireJSON.fileKeyProblem(in: bytes) {
            return VerifiedCatalogue(version: notice.version, computed: computed, outcome: .failure(.undecodable(problem)))
        }
        do {
            return VerifiedCatalogue(
                version: notice.version, computed: computed, outcome: .success(try ItemCatalogue(canonical: bytes)))
        } catch {
            return VerifiedCatalogue(
                version: notice.version, computed: computed, outcome: .failure(.undecodable(error.description)))
        }
    }

    /// Decides what a verified CATALOGUE comes to, and records a version to serve as the newest.
    mutating func admit(_ verified: VerifiedCatalogue) -> CatalogueReceipt {
        var state = CatalogueState(version: verified.version, sha256: verified.computed, installed: false, error: nil)
        let catalogue: ItemCatalogue
        switch verified.outcome {
        case .failure(let reason):
            state.error = reason.description
            return .answer(state, hold: nil)
        case .success(let decoded):
            catalogue = decoded
        }
        if let newest, newest.version == verified.version, newest.sha256 == verified.computed {
            state.installed = true
            return .answer(state, hold: newest)
        }
        let received = InstalledCatalogue(version: verified.version, sha256: verified.computed, catalogue: catalogue)
        if let newest, newest.version > verified.version {
            state.error = CatalogueRefusalReason.heldNotServed(serving: newest.version).description
            return .answer(state, hold: received)
        }
        previous = newest
        newest = received
        return .serve(received)
    }

    /// Takes back `installed` as the newest version when the served policy could not move to it: the broker sends
    /// the same version again, and a resend of the newest is confirmed as installed, which it is not.
    mutating func withdraw(_ installed: InstalledCatalogue) {
        guard let newest, newest.version == installed.version, newest.sha256 == installed.sha256 else { return }
        self.newest = previous
        previous = nil
    }

    /// Forgets the received version: the worker registered (again) with a broker, whose registry sends its newest.
    mutating func forget() {
        newest = nil
        previous = nil
    }
}

/// Why a worker did not install a CATALOGUE version: the `error` of its CATALOGUE_STATE, which the broker logs and
/// shows with the replica in the catalogue command's answer.
enum CatalogueRefusalReason: Error, Equatable, CustomStringConvertible {
    /// Frame 2 hashes to `computed`, not to the SHA-256 the notice `named`.
    case hashMismatch(computed: String, named: String)
    /// The bytes verified but do not decode as a canonical catalogue.
    case undecodable(String)
    /// An older version than the one served (catalogue version `serving`): held for a POLICY that names it, not
    /// served.
    case heldNotServed(serving: UInt64)
    /// The online thread could not move the served policy to the version.
    case policyCannotMove(String)

    var description: String {
        switch self {
        case .hashMismatch(let computed, let named): "the catalogue's bytes hash to \(computed), not \(named)"
        case .undecodable(let why): "the catalogue does not decode: \(why)"
        case .heldNotServed(let serving):
            "held for a POLICY that names it, not served: this worker serves catalogue version \(serving)"
        case .policyCannotMove(let why): "the served policy cannot move to this catalogue: \(why)"
        }
    }
}
