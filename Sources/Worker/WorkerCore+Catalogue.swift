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
    /// CATALOGUE: installs the version if frame 2 hashes to the notice's SHA-256 and decodes. A verified version
    /// goes to the online-learning thread, which moves the served policy to it and answers CATALOGUE_STATE
    /// (``OnlineLearning/installCatalogue(_:)``), so the broker's acknowledgement means the policy serves it; a
    /// refused one is answered here (installed false, and why), so the broker sends it again. An older version
    /// than the installed one is confirmed without replacing it, and held by the online thread for a POLICY that
    /// names it (``OnlineLearningState/hold(_:)``).
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
            state.error = "the catalogue's bytes hash to \(computed), not \(notice.sha256)"
        } else if let installed = catalogue, installed.version >= notice.version {
            state.installed = installed.version == notice.version ? installed.sha256 == computed : true
            if installed.version > notice.version {
                // An older version, sent for a POLICY that names it: held (not served) for that POLICY.
                do {
                    let older = InstalledCatalogue(
                        version: notice.version, sha256: computed, catalogue: try ItemCatalogue(canonical: bytes))
                    actions.append(.online(.hold(older)))
                } catch {
                    state.installed = false
                    state.error = error.description
                }
            }
        } else {
            do {
                let installed = InstalledCatalogue(
                    version: notice.version, sha256: computed, catalogue: try ItemCatalogue(canonical: bytes))
                catalogue = installed
                actions.append(.online(.catalogue(installed)))
                return
            } catch {
                state.error = error.description
            }
        }
        if let error = state.error {
            actions.append(.log(.warning, "catalogue refused", ["version": "\(notice.version)", "error": "\(error)"]))
        }
        let frames = [Header(command: .catalogueState).encoded(), WireJSON.encode(state)]
        actions.append(.send(frames, .bestEffort))
    }
}
