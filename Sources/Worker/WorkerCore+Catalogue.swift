import Crypto
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

extension WorkerCore {
    /// CATALOGUE: installs exactly the (version, SHA-256) the notice names, if frame 2 hashes to that SHA-256 and
    /// decodes. A verified version goes to the online-learning thread, which moves the served policy to it and
    /// answers CATALOGUE_STATE (``OnlineLearning/installCatalogue(_:)``), so the broker's acknowledgement means the
    /// policy serves it; a refused one is answered here (installed false, and a reason naming why, logged), so the
    /// broker sends it again. The version installed already (same number, same SHA-256) is confirmed as it is (and
    /// held again by the online thread, for the POLICY the broker may have sent it for). A
    /// version under the same number with another SHA-256 (a catalogue from another registry) replaces it. An older
    /// number than the installed one, sent for a POLICY that names it, is held by the online thread for that POLICY
    /// (``OnlineLearningState/hold(_:)``) and reported not installed, naming the version served: held is not
    /// served. What the worker holds comes from the broker it registered with: it forgets its catalogue when it
    /// registers (``WorkerCore/acknowledge(_:into:)``).
    mutating func installCatalogue(_ message: WireMessage, into actions: inout [WorkerAction]) {
        guard message.payload.count >= 2, let notice = try? WireJSON.decode(CatalogueInstall.self, from: message.payload[0])
        else {
            actions.append(.log(.error, "malformed CATALOGUE message ignored", [:]))
            return
        }
        let bytes = message.payload[1]
        let computed = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        var state = CatalogueState(version: notice.version, sha256: computed, installed: false, error: nil)
        if computed != notice.sha256 {
            state.error = CatalogueRefusalReason.hashMismatch(computed: computed, named: notice.sha256).description
        } else if let installed = catalogue, installed.version == notice.version, installed.sha256 == computed {
            // Served already. The broker sends a version again for a POLICY that names it: the online thread holds
            // it again in case it let it go.
            state.installed = true
            actions.append(.online(.hold(installed)))
        } else {
            do {
                let received = InstalledCatalogue(
                    version: notice.version, sha256: computed, catalogue: try ItemCatalogue(canonical: bytes))
                if let installed = catalogue, installed.version > notice.version {
                    // An older version, sent for a POLICY that names it: held (not served) for that POLICY.
                    actions.append(.online(.hold(received)))
                    state.error = CatalogueRefusalReason.heldNotServed(serving: installed.version).description
                } else {
                    catalogue = received
                    actions.append(.online(.catalogue(received)))
                    return
                }
            } catch {
                state.error = CatalogueRefusalReason.undecodable(error.description).description
            }
        }
        if let error = state.error {
            actions.append(.log(.warning, "catalogue not installed", ["version": "\(notice.version)", "error": "\(error)"]))
        }
        let frames = [Header(command: .catalogueState).encoded(), WireJSON.encode(state)]
        actions.append(.send(frames, .bestEffort))
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
