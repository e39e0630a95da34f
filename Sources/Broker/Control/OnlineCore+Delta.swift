import RecPolicy
import RecWire

/// A stored policy version's statistics the broker keeps whole, to build and apply deltas (``PolicyPackDelta``).
struct HeldPack {
    /// SHA-256 (hex) of the version's encoded pack, as stored.
    var sha256: String
    /// The version's statistics.
    var pack: ParameterPack
}

/// What a replica last reported installing (POLICY_STATE `installed`): the base a POLICY delta may start from.
struct ReplicaBase: Equatable {
    /// The installed version.
    var version: UInt64
    /// SHA-256 (hex) of its installed pack.
    var sha256: String
    /// The registry catalogue version the installed POLICY named (nil: the spec inlined its items).
    var catalogue: CatalogueReference?
}

extension OnlineCore {
    /// Versions whose packs are held (``heldPacks``): the served one and the one before it, which is what the
    /// replicas hold between a sync's store and their `installed` reports.
    static let heldPackVersions = 2

    /// Keeps `bytes` (the encoded pack of `version`, stored under `sha`) for deltas, dropping all but the newest
    /// ``heldPackVersions`` versions.
    mutating func holdPack(version: UInt64, bytes: [UInt8], sha: String) {
        guard let pack = try? ParameterPack(decoding: bytes) else { return }
        heldPacks[version] = HeldPack(sha256: sha, pack: pack)
        for old in heldPacks.keys.sorted(by: >).dropFirst(Self.heldPackVersions) { heldPacks[old] = nil }
    }

    /// Frame 2 of a POLICY of the served version for one replica: the rows changed since the version it reported
    /// installing, when the broker holds that version's pack under the SHA-256 the replica reported and the
    /// POLICY names the catalogue version the replica installed with; the whole pack otherwise (a new replica, a
    /// restart of either side, a version no longer held, a catalogue change, a refused delta) or when the delta
    /// would not be smaller.
    /// - Returns: the bytes and the delta's bucket rows (nil for the whole pack).
    func policyFrame(for identity: [UInt8]) -> (bytes: [UInt8], deltaRows: Int?) {
        guard let base = installedBases[identity], base.catalogue == catalogue,
            let from = heldPacks[base.version], from.sha256 == base.sha256,
            let to = heldPacks[version], to.sha256 == weightsSHA,
            let delta = try? PolicyPackDelta.between(
                base: from.pack, version: base.version, sha256: from.sha256, target: to.pack)
        else { return (pack, nil) }
        let bytes = delta.encoded()
        return bytes.count < pack.count ? (bytes, delta.rows.count) : (pack, nil)
    }

    /// The whole statistics a POLICY_STATE `sync` frame 2 stands for: a whole pack as is, or a delta applied to
    /// the held pack of its base version; either is checked against the report's `weights_sha256`.
    /// - Throws: ``PolicyDeltaError``: `malformed` or a row error for bytes that are neither a pack nor a valid
    ///   delta, `unknownBase` when the delta's base version is not held under its SHA-256, `shaMismatch` when the
    ///   statistics (whole or rebuilt) hash otherwise.
    func syncPack(_ bytes: [UInt8], report: PolicyStateReport) throws(PolicyDeltaError) -> ParameterPack {
        guard PolicyPackDelta.isDelta(bytes) else {
            let pack: ParameterPack
            do {
                pack = try ParameterPack(decoding: bytes)
            } catch {
                throw .malformed("frame 2 is neither a pack nor a delta: \(error)")
            }
            // A whole pack is checked against the hash its report declares, as a rebuilt one is: bytes that do not
            // hash to `weights_sha256` were damaged or are not the statistics the replica meant to send.
            let sha = PolicyWeights.sha256(of: bytes)
            guard sha == report.weightsSha256 else { throw .shaMismatch(expected: report.weightsSha256, got: sha) }
            // Statistics of the served policy's shape, no more: the merge walks the served pack's vectors, so a
            // vector it does not have (`zz`) was dropped unread and the merged version stored under a new number
            // with the weights of the one before.
            do {
                _ = try PolicyWeights.statistics(pack, like: policy)
            } catch {
                throw .malformed("frame 2 is not statistics of the served policy: \(error)")
            }
            return pack
        }
        let delta = try PolicyPackDelta(decoding: bytes)
        guard let base = heldPacks[delta.baseVersion], base.sha256 == delta.baseSha256 else {
            throw .unknownBase(version: delta.baseVersion, sha256: delta.baseSha256, held: heldPacks.keys.max())
        }
        let rebuilt = try delta.apply(to: base.pack, version: delta.baseVersion, sha256: base.sha256)
        let sha = PolicyWeights.sha256(of: rebuilt.encoded())
        guard sha == report.weightsSha256 else { throw .shaMismatch(expected: report.weightsSha256, got: sha) }
        return rebuilt
    }

    /// A replica refused a POLICY delta (POLICY_STATE `delta_refused`): its base is forgotten and the served
    /// version is sent to it again whole.
    mutating func resendWhole(
        to identity: [UInt8], report: PolicyStateReport, nowMs: UInt64, into actions: inout [OnlineAction]
    ) {
        let name = workers.first { $0.identity == identity }?.id ?? "?"
        installedBases[identity] = nil
        guard workers.contains(where: { $0.identity == identity }) else { return }
        actions.append(
            .log(
                .warning, "a replica refused a POLICY delta; sending the whole pack",
                ["worker": "\(name)", "policy_version": "\(report.version)", "error": "\(report.error ?? "")"]))
        install(on: identity, into: &actions)
        // The install drops what it learnt since the last sync: those events go out again after it (also when the
        // rehold ends a sync, whose own installs and LEARN messages then follow this POLICY).
        rehold(identity, nowMs: nowMs, into: &actions)
    }
}
