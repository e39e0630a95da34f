import BrokerCore
import Foundation
import Logging
import RecData
import RecModel
import RecPolicy
import RecStore
import RecWire

/// The broker's catalogue registry: stores catalogue versions durably (a ``CatalogueRecord`` row and the
/// catalogue's canonical bytes as a blob named by their SHA-256), ships each version to every live worker
/// (CATALOGUE, verified by hash), and acknowledges `catalogue_add` and `catalogue_retire` once every live worker
/// has confirmed the new version (``CatalogueRollout``).
///
/// When the online policy serves the registry's catalogue (`--online-catalogue`), ``refusal(forSlate:)`` names a
/// retired item in a slate before it reaches a client: from the moment a retire is stored, a reply that still
/// holds the item (from a replica that has not installed the version yet) is refused, so once a retire is
/// acknowledged no client sees the item. Runs on the control plane's thread.
final class CatalogueCoordinator {
    let store: RecStore
    let logger: Logger
    let emit: (ControlOutput) -> Void
    /// Whether the online policy's item rows are this registry's rows (so the retire filter applies).
    let servesRegistry: Bool
    private var rollout = CatalogueRollout()
    /// Called with each newly stored version (catalogue, version, SHA-256), before its workers are sent it (the
    /// online policy moves to it).
    var onStored: (ItemCatalogue, UInt64, String, UInt64?) -> Void = { _, _, _, _ in }
    /// The online policy version that moves to a new catalogue version built on `parent` (a pool serving the registry
    /// at that parent), stored as serving it in the version's own transaction; nil when no policy moves.
    var policyToMove: (_ parent: UInt64?) -> UInt64? = { _ in nil }
    /// Asked before a version is stored: why the online policy cannot serve it, or `nil`. A reason refuses the
    /// change (`CONFLICT`), so no version is stored that the policy would silently not serve.
    var refusal: (ItemCatalogue) -> String? = { _ in nil }
    /// The catalogue version the online policy serves (it may be older than the newest, `--online-catalogue N`).
    var servedVersion: () -> UInt64? = { nil }
    /// The last version ``ship(_:to:)`` read from the store (the one a pool serving an earlier version than the newest
    /// sends every worker that registers): read and verified once, not once per worker.
    private var shipped: (record: CatalogueRecord, bytes: [UInt8])?
    /// The newest version: its record, catalogue and canonical bytes.
    private(set) var latest: (record: CatalogueRecord, catalogue: ItemCatalogue, bytes: [UInt8])?

    /// Creates the registry and loads the newest stored version.
    /// - Throws: ``StoreError`` when the store cannot be read or the newest version's blob is missing or damaged.
    init(
        store: RecStore, logger: Logger, servesRegistry: Bool, confirmTimeoutMs: UInt64 = 10_000,
        emit: @escaping (ControlOutput) -> Void
    ) throws {
        self.store = store
        self.logger = logger
        self.servesRegistry = servesRegistry
        self.emit = emit
        rollout.timeoutMs = confirmTimeoutMs
        if let record = try store.catalogue(nil) {
            let bytes: [UInt8]
            if let stored = try? store.blobs.get(record.sha256) {
                bytes = stored
            } else if let rebuilt = Self.rebuiltUpload(record, store: store) {
                // The broker cannot take an upload before it starts, so it repairs the newest version itself when it
                // can: an upload's canonical catalogue is rebuilt from its stored source file and schema, and kept
                // only when it hashes to the name the record gives it.
                logger.warning(
                    "the newest catalogue version's stored file was damaged or missing; rebuilt from its uploaded source",
                    metadata: ["version": "\(record.version)", "sha256": "\(record.sha256)"])
                bytes = rebuilt
            } else {
                do {
                    bytes = try store.blobs.get(record.sha256)
                } catch {
                    // The damage named, with the repair a broker that cannot start allows (the generic advice, to upload
                    // the file again, needs a running broker).
                    throw UnreadableCatalogueVersion(record: record, newest: true, error: error)
                }
            }
            let catalogue = try ItemCatalogue(canonical: bytes)
            // The record's counts are what `catalogue show` and `catalogues` print: they must be the blob's.
            for (column, stored, loaded) in [
                ("items", record.items, catalogue.count), ("active", record.active, catalogue.activeCount),
                ("width", record.width, catalogue.width),
            ] where stored != loaded {
                throw StoreError.corruptColumn(
                    table: "catalogue_versions", row: "version = \(record.version)", column: column,
                    problem: "\(stored), but its stored catalogue holds \(loaded)")
            }
            latest = (record, catalogue, bytes)
        }
        rollout.start(target: latest?.record.version)
    }

    /// Sends workers catalogue version `version`, the one the online policy serves, rather than the newest: a
    /// replica moves its policy to every newer version it installs, and a pool started on an earlier version
    /// (`--online-catalogue N`) showed the newest's items while the broker's policy, its log and its status stayed
    /// on N. Called once the online policy has started, before any worker registers.
    func rollOut(servedVersion version: UInt64) { rollout.start(target: version) }

    /// An upload version's canonical catalogue rebuilt as ``upload(_:nowMs:)`` built it (its source file read with its
    /// schema, the parent version's retired items kept retired) and stored again, or nil when it cannot be: another
    /// kind of version (an add or a retire, whose fields are not stored), an unreadable source or parent, or bytes
    /// that do not hash to the record's SHA-256.
    static func rebuiltUpload(_ record: CatalogueRecord, store: RecStore) -> [UInt8]? {
        guard record.change == .upload, let source = record.sourceSHA256 else { return nil }
        do {
            _ = try store.blobs.get(source)  // verified: a damaged source rebuilds nothing
            let schema: DataSchema = try DataSchema.parse(record.schema, path: "schema")
            var catalogue: ItemCatalogue = try ItemCatalogue.load(path: store.blobs.path(source), schema: schema.catalogue)
            if let parentVersion = record.parent {
                guard let parentRecord: CatalogueRecord = try store.catalogue(parentVersion) else { return nil }
                let parent: ItemCatalogue = try ItemCatalogue(canonical: try store.blobs.get(parentRecord.sha256))
                for row in parent.active.indices where !parent.active[row] {
                    let id: String = parent.ids[row]
                    if let index = catalogue.index(of: id), catalogue.active[index] { try catalogue.retire(id: id) }
                }
            }
            let bytes: [UInt8] = try catalogue.canonicalBytes()
            guard BlobStore.digest(bytes) == record.sha256 else { return nil }
            try store.blobs.put(bytes)
            return bytes
        } catch {
            return nil
        }
    }

    /// Answers a catalogue CONTROL operation.
    func handle(_ call: ControlCall, nowMs: UInt64) {
        do {
            switch call.operation {
            case .catalogueUpload: try upload(call, nowMs: nowMs)
            case .catalogueAdd, .catalogueRetire: try change(call, nowMs: nowMs)
            case .catalogues:
                let list = try store.catalogues().map { view($0, catalogue: nil) }
                answer(call, document: WireJSON.encode(CatalogueList(catalogues: list)))
            case .catalogue: try show(call)
            default: refuse(call, .badRequest, "unknown catalogue operation \(call.request.op)")
            }
        } catch let error as CatalogueRefusal {
            refuse(call, error.status, error.text)
        } catch let error as StoreError {
            switch error {
            case .unknownCatalogue, .missingBlob: refuse(call, .notFound, error.description)
            case .staleCatalogueParent, .corruptBlob: refuse(call, .conflict, error.description)
            default: refuse(call, .internal, error.description)
            }
        } catch {
            refuse(call, .internal, "\(error)")
        }
    }

    /// A worker's CATALOGUE_STATE.
    func handleWorker(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        guard let frame = message.payload.first, let state = try? WireJSON.decode(CatalogueState.self, from: frame)
        else {
            return logger.warning("malformed CATALOGUE_STATE ignored")
        }
        if !state.installed {
            logger.warning(
                "a worker refused a catalogue version",
                metadata: [
                    "worker": "\(rollout.live[identity] ?? "?")", "version": "\(state.version)",
                    "error": "\(state.error ?? "no reason given")",
                ])
        }
        var actions: [CatalogueRollout.Action] = []
        rollout.state(state, from: identity, registered: registered(state.version), nowMs: nowMs, into: &actions)
        perform(actions)
    }

    /// The live workers changed.
    func updateWorkers(_ live: [TrainingWorker], nowMs: UInt64) {
        var actions: [CatalogueRollout.Action] = []
        rollout.workers(live, nowMs: nowMs, into: &actions)
        perform(actions)
    }

    /// Acknowledges changes that waited too long.
    func tick(nowMs: UInt64) {
        var actions: [CatalogueRollout.Action] = []
        rollout.tick(nowMs: nowMs, into: &actions)
        perform(actions)
    }

    /// The catalogue `--online-catalogue` names (`latest` or a version number) and the user features of the schema
    /// it was uploaded with.
    /// - Throws: ``CatalogueRefusal`` naming the problem (no catalogue registered, an unknown version, a bad name).
    func served(_ name: String) throws -> (
        catalogue: ItemCatalogue, userFeatures: [DataSchema.Feature], version: UInt64, sha256: String
    ) {
        let record: CatalogueRecord?
        if name == "latest" {
            record = latest?.record
        } else if let version = UInt64(name) {
            record = try store.catalogue(version)
        } else {
            throw CatalogueRefusal(.badRequest, "--online-catalogue must be a version number or latest, got \(name)")
        }
        guard let record else {
            // The advice for what the registry holds: an upload makes the next version, never the one named.
            guard let newest = latest?.record.version else {
                throw CatalogueRefusal(.notFound, "no catalogue version \(name) is registered (the registry holds none); run `recpool catalogue upload`")
            }
            throw CatalogueRefusal(
                .notFound,
                "no catalogue version \(name) is registered (the registry holds versions 1 to \(newest)); name one of "
                    + "them, or latest (`recpool catalogue list` lists them)")
        }
        let catalogue: ItemCatalogue
        if record.version == latest?.record.version {
            catalogue = latest!.catalogue
        } else {
            let bytes: [UInt8]
            do {
                bytes = try store.blobs.get(record.sha256)
            } catch {
                throw UnreadableCatalogueVersion(record: record, newest: false, error: error)
            }
            catalogue = try ItemCatalogue(canonical: bytes)
        }
        // The schema was checked when the version was stored: one that no longer parses (a damaged byte of the row) is
        // unreadable state, never a reason to serve with online learning off (RECOMMEND from the model).
        let schema: DataSchema
        do {
            schema = try DataSchema.parse(record.schema, path: "catalogue version \(record.version)'s schema")
        } catch {
            throw StoreError.corruptColumn(
                table: "catalogue_versions", row: "version \(record.version)", column: "schema",
                problem: "the stored schema no longer reads: \(error)")
        }
        return (catalogue, schema.logs.userFeatures, record.version, record.sha256)
    }

    /// Sends catalogue version `version` (CATALOGUE, from the store unless it is the newest) to one worker: the
    /// online policy asks for it when a replica refused a POLICY naming a version it does not hold.
    /// - Returns: false when the version is not registered or its blob cannot be read (logged).
    func ship(_ version: UInt64, to worker: [UInt8]) -> Bool {
        do {
            let record: CatalogueRecord
            let bytes: [UInt8]
            if let latest, latest.record.version == version {
                (record, bytes) = (latest.record, latest.bytes)
            } else if let shipped, shipped.record.version == version {
                (record, bytes) = shipped
            } else {
                guard let stored = try store.catalogue(version) else { throw StoreError.unknownCatalogue(version) }
                (record, bytes) = (stored, try store.blobs.get(stored.sha256))
                // Kept: the version an online policy serves below the newest is sent to every worker that registers.
                shipped = (record, bytes)
            }
            let notice = CatalogueInstall(version: record.version, sha256: record.sha256)
            emit(.toWorker(identity: worker, frames: [Header(command: .catalogue).encoded(), WireJSON.encode(notice), bytes]))
            return true
        } catch {
            logger.error("catalogue version cannot be sent", metadata: ["version": "\(version)", "error": "\(error)"])
            return false
        }
    }

    /// Why a slate may not be shown (it holds an item the newest catalogue version retired), or `nil`.
    func refusal(forSlate slate: [Int]) -> String? {
        guard servesRegistry, let latest else { return nil }
        guard let row = slate.first(where: { $0 >= 0 && $0 < latest.catalogue.count && !latest.catalogue.active[$0] })
        else { return nil }
        return "the slate held item \(latest.catalogue.ids[row]), retired in catalogue version \(latest.record.version); retry"
    }

    // MARK: - Operations

    /// Refuses a change while the online policy serves an earlier version than the newest (`--online-catalogue N`):
    /// a change builds on the newest, which this pool does not serve. Stored, it was sent to every replica, which
    /// moved its policy to it while the broker's stayed on N: slates showed items version N does not have, under a
    /// status that said N, and their feedback was refused.
    /// - Throws: ``CatalogueRefusal`` (`CONFLICT`) naming both versions and the restart that allows the change.
    private func refuseUnlessNewestServed(_ call: ControlCall) throws {
        guard let served = servedVersion(), let newest = latest?.record.version, served != newest else { return }
        throw CatalogueRefusal(
            .conflict,
            "the online policy serves catalogue version \(served) (--online-catalogue \(served)), not the newest, "
                + "\(newest): \(call.request.op) builds on the newest, which this pool does not serve; nothing was stored. "
                + "Restart the broker with --online-catalogue latest to serve the newest and change it")
    }

    private func upload(_ call: ControlCall, nowMs: UInt64) throws {
        try refuseUnlessNewestServed(call)
        let arguments = call.request.catalogue
        guard let source = arguments?.sourceSha256, let schemaText = arguments?.schema else {
            throw CatalogueRefusal(.badRequest, "catalogue_upload needs catalogue.source_sha256 and catalogue.schema")
        }
        let sha = source.hasPrefix("sha256:") ? String(source.dropFirst(7)) : source
        guard BlobStore.isName(sha) else {
            throw CatalogueRefusal(
                .badRequest, "catalogue.source_sha256 must be sha256: and 64 lowercase hexadecimal digits")
        }
        guard store.blobs.contains(sha) else {
            throw CatalogueRefusal(.notFound, "no uploaded file sha256:\(sha); upload the catalogue CSV first")
        }
        // Read only what hashes to its name: a damaged copy is quarantined and refused (CONFLICT), never registered.
        try store.blobs.verify(sha)
        var catalogue: ItemCatalogue
        let schema: DataSchema
        do {
            schema = try DataSchema.parse(schemaText, path: "catalogue.schema")
            catalogue = try ItemCatalogue.load(path: store.blobs.path(sha), schema: schema.catalogue)
        } catch {
            let text = error.description.replacingOccurrences(of: store.blobs.path(sha), with: "the catalogue file")
            throw CatalogueRefusal(.badRequest, text)
        }
        // An online policy over this version (now, or after a restart with --online-catalogue) encodes the schema's
        // user features: a schema it could not serve (too many declared values for its interaction features) is
        // refused now, naming why, rather than stored and found out at the next start.
        if let problem = Self.userFeatureProblem(schema.logs.userFeatures, catalogue: catalogue) {
            throw CatalogueRefusal(.badRequest, problem)
        }
        // Rows never move unless the upload says it replaces the items: impressions, logs, exports and warm starts
        // name items by row, so a file that drops an item or lists it at another row would give every later row
        // another item. (A policy serving the registry refuses a replacement too, through `refusal`.)
        if arguments?.replace != true, let latest,
            let problem = Self.movedRow(from: latest.catalogue, to: catalogue, version: latest.record.version)
        {
            // While an online policy serves the registry, --replace is refused too (`refusal`): the hint says how it
            // can be done, not only the flag that would then be refused.
            let hint =
                servesRegistry
                ? "; to replace the items, upload with replace (--replace) from a broker started without "
                    + "--online-catalogue, then restart with --online-catalogue latest (a new lineage): the online policy "
                    + "serving the registry refuses a replacement"
                : "; to replace the items, upload with replace (--replace)"
            throw CatalogueRefusal(.conflict, problem + hint)
        }
        // A CSV without an `active` role has no retired flag, and a file that keeps every row in place (as it must)
        // still lists the items retired since: an acknowledged retire stays retired (retired ids are not reused),
        // never silently undone.
        if let latest {
            for row in latest.catalogue.active.indices where !latest.catalogue.active[row] {
                let id = latest.catalogue.ids[row]
                if let index = catalogue.index(of: id), catalogue.active[index] { try? catalogue.retire(id: id) }
            }
        }
        try register(
            catalogue, change: .upload, item: nil, source: sha, schema: schemaText, call: call, nowMs: nowMs)
    }

    /// Why `next` cannot follow `current` (version `version`), or nil: each of `current`'s items must be at its row
    /// in `next`, which may only add rows after them.
    static func movedRow(from current: ItemCatalogue, to next: ItemCatalogue, version: UInt64) -> String? {
        guard let row = current.ids.indices.first(where: { $0 >= next.count || next.ids[$0] != current.ids[$0] })
        else { return nil }
        let id = current.ids[row]
        let now = next.index(of: id).map { "at row \($0)" } ?? "missing"
        return "item \(id) is row \(row) of catalogue version \(version) and \(now) in the upload: rows never move "
            + "(list every item at its row, retired ones included, and new items after them; retire instead of removing)"
    }

    private func change(_ call: ControlCall, nowMs: UInt64) throws {
        guard let latest else {
            throw CatalogueRefusal(.notFound, "no catalogue is registered; run `recpool catalogue upload` first")
        }
        try refuseUnlessNewestServed(call)
        // An id is read as the catalogue CSV reads one, without surrounding spaces: ` sku-1` is `sku-1`, never a
        // second item beside it.
        guard let item = call.request.catalogue?.item?.trimmingCharacters(in: .whitespaces), !item.isEmpty else {
            throw CatalogueRefusal(.badRequest, "\(call.request.op) needs catalogue.item")
        }
        var catalogue = latest.catalogue
        if call.operation == .catalogueAdd {
            try Self.checkFields(
                call.request.catalogue?.fields ?? [:], item: item, schema: latest.record.schema,
                newRow: latest.catalogue.count)
        }
        do {
            if call.operation == .catalogueAdd {
                try catalogue.add(id: item, fields: call.request.catalogue?.fields ?? [:])
            } else {
                try catalogue.retire(id: item)
            }
        } catch {
            let status: Status = catalogue.index(of: item) == nil && call.operation == .catalogueRetire ? .notFound : .badRequest
            throw CatalogueRefusal(status, Self.reason(error))
        }
        try register(
            catalogue, change: call.operation == .catalogueAdd ? .add : .retire, item: item, source: nil,
            schema: latest.record.schema, call: call, nowMs: nowMs)
    }

    private func show(_ call: ControlCall) throws {
        guard let record = try store.catalogue(call.request.version) else {
            if let version = call.request.version { throw StoreError.unknownCatalogue(version) }
            throw CatalogueRefusal(.notFound, "no catalogue is registered; run `recpool catalogue upload` first")
        }
        let limit = call.request.limit ?? 100
        guard (0...10_000).contains(limit) else {
            throw CatalogueRefusal(.badRequest, "limit must be in 0...10000, got \(limit)")
        }
        // As `recpool catalogue show --after` checks it: −1 (the start) or a row; −2 was read as −1.
        if let after = call.request.after, after < -1 {
            throw CatalogueRefusal(.badRequest, "after must be -1 (the first page) or a row ≥ 0, got \(after)")
        }
        let catalogue: ItemCatalogue
        if record.version == latest?.record.version {
            catalogue = latest!.catalogue
        } else {
            do {
                catalogue = try ItemCatalogue(canonical: store.blobs.get(record.sha256))
            } catch let error as StoreError {
                // The version exists; its file does not, or is damaged: CONFLICT naming the version and the file, as a
                // model version's missing checkpoint is, never NOT_FOUND (which says there is no such version).
                throw CatalogueRefusal(.conflict, Self.unreadableFile(record, error))
            }
        }
        // `after` is the client's: saturate, so Int64.max pages past the end instead of trapping.
        let start = Int(clamping: max((call.request.after ?? -1).addingSaturating(1), 0))
        let end = min(catalogue.count, start.addingSaturating(limit))
        let items = start < end
            ? (start..<end).map { CatalogueItem(row: $0, id: catalogue.ids[$0], active: catalogue.active[$0]) } : []
        let next: Int64? = end < catalogue.count && limit > 0 ? Int64(end - 1) : nil
        answer(call, document: WireJSON.encode(CatalogueShow(catalogue: view(record, catalogue: catalogue), items: items, nextAfter: next)))
    }

    /// Why an earlier version's file cannot be shown, and how it is repaired: uploaded again while it is the newest
    /// upload's content, otherwise only from a backup.
    static func unreadableFile(_ record: CatalogueRecord, _ error: StoreError) -> String {
        let damage: String
        switch error {
        case .missingBlob(let sha): damage = "is missing from the state directory (blobs/\(sha))"
        case .corruptBlob(let sha, let quarantined):
            damage = "is corrupt (blobs/\(sha), checksum mismatch)" + (quarantined ? ", moved to blobs/quarantine" : "")
        default: damage = "cannot be read: \(error)"
        }
        return "catalogue version \(record.version)'s stored file \(damage); an earlier version's file is needed only to "
            + "show or serve that version (--online-catalogue \(record.version)); restore the state directory from a backup "
            + "to have it again (docs/OPERATIONS.md, \"Recovering the state directory\")"
    }

    /// Stores `catalogue` as the newest version and sends it to every live worker; the requester is answered once
    /// they confirmed it.
    private func register(
        _ catalogue: ItemCatalogue, change: CatalogueChange, item: String?, source: String?, schema: String,
        call: ControlCall, nowMs: UInt64
    ) throws {
        // A change is made only to the version the policy serves (``refuseUnlessNewestServed(_:)``).
        if let reason = refusal(catalogue) {
            let serving = servedVersion().map { "catalogue version \($0)" } ?? "its catalogue"
            throw CatalogueRefusal(
                .conflict,
                "the online policy serves \(serving) and cannot serve this one (\(reason)); nothing was stored: keep every "
                    + "row in its place (retire items instead of removing them, append new ones), or upload it with "
                    + "--replace from a broker started without --online-catalogue, then restart with --online-catalogue "
                    + "latest (a new lineage)")
        }
        // Made from the newest version's bytes when this one only appends rows or changes flags (an add, a retire, an
        // upload that keeps every row): the same bytes as a whole encode, without re-encoding every item on the thread
        // that also commits impressions.
        let bytes =
            try latest.map { try catalogue.canonicalBytes(changing: $0.catalogue, bytes: $0.bytes) }
            ?? catalogue.canonicalBytes()
        guard bytes.count <= WireLimits.maximumShippedBytes else {
            // Every worker is sent the version whole, in one message.
            throw CatalogueRefusal(
                .badRequest,
                "the catalogue encodes to \(bytes.count) bytes (\(catalogue.count) items × \(catalogue.width) features); "
                    + "a worker is sent at most \(WireLimits.maximumShippedBytes): use fewer or narrower item features")
        }
        let sha = try store.blobs.put(bytes)
        let record = try store.registerCatalogue(
            CatalogueRecord(
                version: 0, parent: latest?.record.version, change: change, item: item, sha256: sha,
                sourceSHA256: source, schema: schema, items: catalogue.count, active: catalogue.activeCount,
                width: catalogue.width, createdMs: nowMs),
            movingPolicyVersion: policyToMove(latest?.record.version))
        latest = (record, catalogue, bytes)
        onStored(catalogue, record.version, record.sha256, record.parent)
        logger.info(
            "catalogue version stored",
            metadata: ["version": "\(record.version)", "change": "\(change.rawValue)", "item": "\(item ?? "")"])
        var actions: [CatalogueRollout.Action] = []
        // The policy moved to the new version (or none serves the registry); when it could not (logged), workers keep
        // the version it serves.
        let served = !servesRegistry || servedVersion().map { $0 == record.version } ?? true
        rollout.stored(
            record.version, requester: (call.identity, call.header), served: served, nowMs: nowMs, into: &actions)
        perform(actions)
    }

    // MARK: - Helpers

    /// Refuses an added item's fields that the catalogue does not have (a misspelt feature would otherwise be
    /// dropped without a word) and an id column that names another item (`--row-file`). With a `sku` role the SKU
    /// column is the id, and the `item` column (the log's number of the item) must be `newRow`, the row the item
    /// gets; an `active` field must be 1 (an item is added to be recommended).
    /// - Throws: ``CatalogueRefusal`` (`BAD_REQUEST`) naming the field.
    static func checkFields(_ fields: [String: String], item: String, schema text: String, newRow: Int) throws {
        let roles: DataSchema.Catalogue
        do {
            roles = try DataSchema.parse(text, path: "the catalogue's schema").catalogue
        } catch {
            throw CatalogueRefusal(.internal, "the stored schema does not parse: \(error)")
        }
        let features = roles.itemFeatures.map(\.name)
        let idColumn = roles.sku ?? roles.item
        let known = Set(features + roles.ignore + [roles.item, roles.sku, roles.active].compactMap { $0 })
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw CatalogueRefusal(
                .badRequest,
                "item \(item): the catalogue has no field '\(unknown)' (its features: \(features.joined(separator: ", "))"
                    + "; id column: \(idColumn))")
        }
        if let id = fields[idColumn], id.trimmingCharacters(in: .whitespaces) != item {
            throw CatalogueRefusal(
                .badRequest, "item \(item): the id column \(idColumn) holds '\(id)', another item (it must be \(item) or absent)")
        }
        // Read as the file's item column is (`CSVNumber.wholeNumber`): `2`, `2.0` and `2e0` are row 2 alike.
        if roles.sku != nil, let number = fields[roles.item], CSVNumber.wholeNumber(number) != newRow {
            throw CatalogueRefusal(
                .badRequest,
                "item \(item): the \(roles.item) column holds '\(number)', but the item is added at row \(newRow) (it must be "
                    + "\(newRow) or absent)")
        }
        if let active = roles.active, let flag = fields[active],
            !["1", "true"].contains(flag.trimmingCharacters(in: .whitespaces).lowercased())
        {
            throw CatalogueRefusal(
                .badRequest, "item \(item): the \(active) column holds '\(flag)'; an added item is active (1): retire it after")
        }
    }

    /// Why an online policy over `catalogue` could not serve `userFeatures` (a schema's `[logs.user_features]`), or
    /// nil: a feature takes the name of an exported log column (``ImpressionLogColumns/fixed``), or its interaction
    /// features would be wider than ``PolicyFeatures/maximumWidth``.
    static func userFeatureProblem(_ userFeatures: [DataSchema.Feature], catalogue: ItemCatalogue) -> String? {
        // Stored, served and logged, then refused only when the log was exported, days later.
        if let clash = userFeatures.first(where: { ImpressionLogColumns.fixed.contains($0.name) }) {
            return "user feature '\(clash.name)' has the name of a column the impression log's export writes ("
                + ImpressionLogColumns.fixed.dropFirst().joined(separator: ", ") + "): rename it in the schema"
        }
        let spec = OnlinePolicySpec.make(catalogue: catalogue, userFeatures: userFeatures)
        guard (try? PolicyFeatures(spec: spec)) == nil else { return nil }
        return "the schema's user features make \(spec.userWidth) columns of the online policy's context: its interaction "
            + "features would be wider than \(PolicyFeatures.maximumWidth) columns; declare fewer values (every value "
            + "not listed shares one column) or fewer categorical user features; each value listed is a column of the "
            + "policy's context, a feature without values is 8"
    }

    /// A data error's reason without the "inconsistent dataset" prefix (a catalogue is not a dataset).
    private static func reason(_ error: any Error) -> String {
        if case .inconsistent(let text)? = error as? DataError { return text }
        return "\(error)"
    }

    private func perform(_ actions: [CatalogueRollout.Action]) {
        for action in actions {
            switch action {
            case .install(let worker, let version):
                // The newest from memory; the version an online policy serves, when earlier, from the store.
                _ = ship(version, to: worker)
            case .acknowledge(let identity, let header, let version, let confirmed):
                // The change is stored; only its record could not be read back. The requester still gets an answer
                // (INTERNAL naming the failure), never silence until its deadline.
                let record: CatalogueRecord
                do {
                    guard let stored = try store.catalogue(version) else { throw StoreError.unknownCatalogue(version) }
                    record = stored
                } catch {
                    logger.error(
                        "catalogue version stored but its record cannot be read to acknowledge it",
                        metadata: ["version": "\(version)", "error": "\(error)"])
                    let text =
                        "catalogue version \(version) was stored, but its record cannot be read to acknowledge it: "
                        + "\(error)"
                    emit(
                        .toClient(
                            identity: identity,
                            frames: WireMessage.errorReply(to: header, status: .internal, message: text).frames()))
                    continue
                }
                var document = view(record, catalogue: record.version == latest?.record.version ? latest?.catalogue : nil)
                // A change acknowledged after a later one landed (two clients at once) lists the replicas and its
                // feature names too: they were null, and the operator could not see which worker had not confirmed.
                if document.replicas == nil { document.replicas = replicaList() }
                if document.featureNames == nil { document.featureNames = featureNames(of: record) }
                document.confirmed = confirmed
                if !confirmed {
                    logger.warning(
                        "catalogue version acknowledged before every worker confirmed it",
                        metadata: [
                            "version": "\(version)",
                            "unconfirmed": "\(Self.unconfirmed(document.replicas ?? [], version: version))",
                        ])
                }
                answer(identity, header, document: WireJSON.encode(document))
            }
        }
    }

    /// Each replica that has not confirmed `version`, with why: the reason it refused a version, or the version it
    /// serves while it installs (`w-1: serves 3, installing`); `none` when every listed replica confirmed it, so
    /// the log never carries an empty field.
    static func unconfirmed(_ replicas: [CatalogueReplica], version: UInt64) -> String {
        let pending = replicas.filter { ($0.version ?? 0) < version }.map { replica in
            if let error = replica.error { return "\(replica.worker): refused: \(error)" }
            let serving = replica.version.map { "serves \($0)" } ?? "serves none"
            return "\(replica.worker): \(serving), installing"
        }
        return pending.isEmpty ? "none" : pending.joined(separator: "; ")
    }

    /// What the registry holds for `version`: its SHA-256, nothing, or why its record cannot be read (logged), so a
    /// store that fails is never read as a hash mismatch.
    private func registered(_ version: UInt64) -> CatalogueRollout.Registered {
        if let latest, latest.record.version == version { return .sha256(latest.record.sha256) }
        do {
            guard let record = try store.catalogue(version) else { return .unregistered }
            return .sha256(record.sha256)
        } catch {
            logger.error(
                "a worker's catalogue confirmation cannot be checked: the store cannot read the version's record",
                metadata: ["version": "\(version)", "error": "\(error)"])
            return .unreadable("\(error)")
        }
    }

    /// The client's view of a record (with feature names and replicas when `catalogue` is given).
    /// `confirmed` is given for the version workers are sent (the newest, or the one the online policy serves).
    func view(_ record: CatalogueRecord, catalogue: ItemCatalogue?) -> CatalogueView {
        let replicas = catalogue == nil ? nil : replicaList()
        return CatalogueView(
            version: record.version, parent: record.parent, change: record.change.rawValue, item: record.item,
            sha256: record.sha256, sourceSha256: record.sourceSHA256, items: record.items, active: record.active,
            width: record.width, featureNames: catalogue?.encoding.featureNames, createdMs: record.createdMs,
            confirmed: record.version == rollout.target ? rollout.allConfirmed(record.version) : nil, replicas: replicas)
    }

    /// Every live worker with the catalogue version it confirmed, or why it refused one.
    func replicaList() -> [CatalogueReplica] {
        rollout.live.sorted { $0.value < $1.value }.map { identity, id in
            CatalogueReplica(
                worker: id, version: rollout.confirmed[identity]?.version, sha256: rollout.confirmed[identity]?.sha256,
                error: rollout.refusal(of: identity))
        }
    }

    /// The feature names of `record`'s version: the newest version's, when only adds and retires lie between them
    /// (they keep the encoding); nil otherwise (an upload since may have changed the columns), or when a record on
    /// the way cannot be read.
    func featureNames(of record: CatalogueRecord) -> [String]? {
        guard let latest else { return nil }
        var step = latest.record
        while step.version > record.version {
            guard step.change != .upload, let parent = step.parent, let stored = try? store.catalogue(parent) else {
                return nil
            }
            step = stored
        }
        return step.version == record.version ? latest.catalogue.encoding.featureNames : nil
    }

    private func answer(_ call: ControlCall, document: [UInt8]) { answer(call.identity, call.header, document: document) }

    private func answer(_ identity: [UInt8], _ header: Header, document: [UInt8]) {
        var reply = header.reply(status: .ok)
        reply.command = .control
        emit(.toClient(identity: identity, frames: [reply.encoded(), document]))
    }

    private func refuse(_ call: ControlCall, _ status: Status, _ text: String) {
        emit(.toClient(identity: call.identity, frames: WireMessage.errorReply(to: call.header, status: status, message: text).frames()))
    }
}

/// A catalogue version whose stored file is missing or damaged when the broker starts, named with the repair a broker
/// that cannot start allows: the generic advice (upload the same file again) needs a running broker, only the newest
/// version is rebuilt at start, and only from an upload's stored source file.
struct UnreadableCatalogueVersion: Error, CustomStringConvertible {
    /// The version's record.
    let record: CatalogueRecord
    /// Whether it is the newest version (the one every change builds on).
    let newest: Bool
    /// The store's error reading its file.
    let error: StoreError

    var description: String {
        let damage: String
        switch error {
        case .corruptBlob(let sha, let quarantined):
            damage = "its stored file \(sha) is corrupt (checksum mismatch)"
                + (quarantined ? " and was moved to blobs/quarantine" : "")
        case .missingBlob(let sha): damage = "its stored file \(sha) is missing"
        default: damage = "its stored file cannot be read: \(error)"
        }
        let restore = "restore the state directory from a backup (docs/OPERATIONS.md, \"Recovering the state directory\")"
        guard newest else {
            return "catalogue version \(record.version), which --online-catalogue names, cannot be served: \(damage); only "
                + "the newest version is rebuilt at start: start with --online-catalogue latest (or another version), "
                + "or \(restore)"
        }
        let rebuilt =
            record.change == .upload
            ? "its uploaded source file could not rebuild it either"
            : record.change == .add
                ? "it was made by add, whose fields are not stored, so it cannot be rebuilt"
                : "it was made by retire, which is not rebuilt at start"
        return "catalogue version \(record.version), the newest, cannot be read: \(damage), and \(rebuilt): \(restore)"
    }
}

/// A catalogue request refused with a status and a reason.
struct CatalogueRefusal: Error {
    var status: Status
    var text: String
    init(_ status: Status, _ text: String) {
        self.status = status
        self.text = text
    }
}
