import ArgumentParser
import Foundation
import RecClient
import RecData
import RecModel
import RecTransport
import RecWire

/// `recpool catalogue upload|list|show|add|retire`: the broker's catalogue registry (docs/ONLINE.md, "Your own
/// catalogue").
struct CatalogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "Register a shop's item catalogue with the broker, list and show its versions, add and retire items.",
        discussion: """
            upload, add and retire wait 15 s for the broker unless --timeout-ms says otherwise: the broker waits up to \
            10 s for every worker to confirm a change. After a shorter wait a change the broker goes on to make is \
            reported as timed out, with a reminder to check `recpool catalogue list` before a retry.
            """,
        subcommands: [
            CatalogueUploadCommand.self, CatalogueListCommand.self, CatalogueShowCommand.self,
            CatalogueAddCommand.self, CatalogueRetireCommand.self,
        ])
}

/// Options of every `recpool catalogue` subcommand.
struct CatalogueOutputOptions: ParsableArguments {
    @OptionGroup var connection: BrokerOptions

    @Flag(help: "Print the reply as one JSON object (every key present; docs/PROTOCOL.md, \"Catalogues\").")
    var json = false

    /// Connects, runs one CONTROL request and prints its reply.
    func run<T: Codable>(
        _ request: ControlRequest, bytes: [UInt8]? = nil, as type: T.Type, timeoutMs: UInt64? = nil,
        render: (T) -> String
    ) async throws {
        let client = try await connection.connect()
        defer { client.close() }
        let reply = try await Self.control(client, request, bytes: bytes, as: type, timeoutMs: timeoutMs)
        CommandOutput.printLine(json ? try JSONOutput.encode(reply) : render(reply))
    }

    /// Runs one CONTROL request; a change (``changes``) that times out is reported as one the broker may still make.
    static func control<T: Codable>(
        _ client: RecPoolClient, _ request: ControlRequest, bytes: [UInt8]? = nil, as type: T.Type, timeoutMs: UInt64?
    ) async throws -> T {
        do {
            return try await client.control(request, bytes: bytes, as: type, timeoutMs: timeoutMs)
        } catch {
            guard case .timedOut(let id, let ms) = error as? ClientError,
                let operation = request.operation, Self.changes.contains(operation)
            else { throw error }
            // A change the broker took may still be stored after the wait (a catalogue of 200,000 items took 16–33 s
            // after a restart; a worker that does not confirm holds the answer for the broker's whole confirm wait):
            // "timed out" read as "not done", and a retry was then refused as already done.
            throw CommandFailure(
                "request \(id) timed out after \(ms) ms; the broker may still make the change (it answers once every "
                    + "worker confirmed it, or after its --catalogue-confirm-timeout-ms, 10 s by default, and a large "
                    + "catalogue takes longer to store): check `recpool catalogue list` before you retry, and give "
                    + "--timeout-ms more than the broker's confirm wait to see its answer", exitCode: .unreachable)
        }
    }

    /// The operations that change the registry: a timeout does not say they were not made.
    static let changes: Set<ControlOperation> = [.catalogueUpload, .catalogueAdd, .catalogueRetire]

    /// The wait for a change every worker must confirm (``BrokerOptions/changeTimeoutMs``): `--timeout-ms` when
    /// given, otherwise 15 s, as the broker waits up to 10 s for the workers.
    var changeTimeoutMs: UInt64 { connection.changeTimeoutMs }
}

/// `recpool catalogue upload items.csv --schema shop.toml`.
struct CatalogueUploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a catalogue CSV read with a schema's [catalogue] section as a new catalogue version.",
        discussion: """
            The file is checked here first (the same reader the broker uses), then uploaded in checksummed chunks; \
            the broker stores the catalogue in its canonical encoding, named by SHA-256, and sends it to every worker.
            """)

    @Argument(help: "The catalogue CSV (default: the schema's [catalogue] file).")
    var file: String?

    @Option(help: "The shop's schema (TOML) whose [catalogue] section names the item column and features.")
    var schema: String

    @Flag(
        help: """
            Replace the items: the file may drop or reorder the newest version's items (refused without it, as rows \
            never move). While the online policy serves the registry, a file that moves or drops a row is refused even \
            with it, since the policy's coefficients are per row; one that keeps every row in place is taken.
            """)
    var replace = false

    @OptionGroup var options: CatalogueOutputOptions

    func run() async throws {
        try await reportingFailures {
            // Read once: a pipe (`--schema <(…)`) gives its text only once.
            let text = try DataSchema.readText(schema)
            let parsed = try DataSchema.parse(text, path: schema)
            let path = file ?? DatasetResolver.catalogueFile(parsed, schemaPath: schema)
            // Read once and uploaded as read (a pipe, `<(…)`, gives its bytes only once).
            let bytes = try FileProblem.read(path)
            let catalogue = try ItemCatalogue.make(CSVTable.parse(bytes, path: path), schema: parsed.catalogue)  // refused here, naming the line
            let client = try await options.connection.connect()
            defer { client.close() }
            let sha = try await DatasetUpload.upload(bytes: bytes, named: path, client: client)
            let request = ControlRequest(
                .catalogueUpload,
                catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: text, replace: replace ? true : nil))
            let view = try await CatalogueOutputOptions.control(
                client, request, as: CatalogueView.self, timeoutMs: options.changeTimeoutMs)
            CommandOutput.printLine(
                options.json ? try JSONOutput.encode(view)
                    : CatalogueText.render(view) + " (\(catalogue.count) items read from \(path))")
            // The broker has no log to standardise a numeric user feature from: one in its own units (an age in years)
            // is read clipped to ±10, the same for every adult, unless the schema declares how to read it.
            for feature in parsed.logs.userFeatures where feature.kind == .numeric && feature.scale == nil {
                let read = feature.mean.map { "as (x − \($0)) / 1" } ?? "as they are"
                CommandOutput.printError(
                    "recpool: note: user feature '\(feature.name)' is numeric with no scale: the online policy reads its "
                        + "values \(read), clipped to ±10; unless that is near unit scale, declare "
                        + "{ kind = \"numeric\", mean = …, scale = … } (`recpool data schema --infer` drafts them from a log)")
            }
        }
    }
}

/// `recpool catalogue list`.
struct CatalogueListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List every catalogue version.")

    @OptionGroup var options: CatalogueOutputOptions

    func run() async throws {
        try await reportingFailures {
            try await options.run(ControlRequest(.catalogues), as: CatalogueList.self) { list in
                list.catalogues.isEmpty
                    ? "no catalogue is registered" : list.catalogues.map(CatalogueText.render).joined(separator: "\n")
            }
        }
    }
}

/// `recpool catalogue show [VERSION]`.
struct CatalogueShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a catalogue version (the newest by default), its workers and items.")

    @Argument(help: "The version (default: the newest).", transform: VersionNumber.parse)
    var version: UInt64?

    // `.unconditional` here and below: a negative value is read as a value (and then checked), not as a flag.
    @Option(parsing: .unconditional, help: "Items to list, from row --after + 1 (0: none).")
    var items = 20

    @Option(parsing: .unconditional, help: "List items after this row (-1: from the first).")
    var after: Int64 = -1

    @OptionGroup var options: CatalogueOutputOptions

    func validate() throws {
        guard (0...10_000).contains(items) else { throw ValidationError("--items must be in 0...10000, got \(items)") }
        guard after >= -1 else { throw ValidationError("--after must be -1 or a row, got \(after)") }
    }

    func run() async throws {
        try await reportingFailures {
            let request = ControlRequest(.catalogue, version: version, after: after, limit: items)
            try await options.run(request, as: CatalogueShow.self) { show in
                var lines = [CatalogueText.render(show.catalogue)]
                if let names = show.catalogue.featureNames {
                    // A name holding ", " or a quote (a category `bags, small`) is quoted, so the list reads one way.
                    let shown = names.prefix(8).map { name in
                        name.contains(",") || name.contains("\"") || name.hasPrefix(" ") || name.hasSuffix(" ")
                            ? "\"" + name.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : name
                    }.joined(separator: ", ")
                    lines.append("features (\(names.count)): " + shown + (names.count > 8 ? ", …" : ""))
                }
                for replica in show.catalogue.replicas ?? [] {
                    lines.append(
                        "worker \(replica.worker): version \(replica.version.map(String.init) ?? "none")"
                            + (replica.error.map { " (\($0))" } ?? ""))
                }
                for item in show.items {
                    lines.append("  \(item.row)\t\(item.id)\(item.active ? "" : "\tretired")")
                }
                if let next = show.nextAfter { lines.append("more items: --after \(next)") }
                return lines.joined(separator: "\n")
            }
        }
    }
}

/// `recpool catalogue add ID --field name=value …` or `--row-file row.csv`.
struct CatalogueAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add an item (a new catalogue version), acknowledged once every worker has installed it.",
        discussion: """
            Fields are raw values as in the catalogue CSV; a numeric feature must be given, a categorical value the \
            catalogue has never seen encodes as zeros. With --row-file, the file's header names the fields and its \
            one data row holds them (the id column, if present, must match ID).
            """)

    @Argument(help: "The new item's id (SKU); a retired id is not reused.")
    var item: String

    @Option(name: .customLong("field"), help: "A raw field, name=value (repeat).")
    var fields: [String] = []

    @Option(help: "A CSV with a header and one row holding the item's fields.")
    var rowFile: String?

    @OptionGroup var options: CatalogueOutputOptions

    func validate() throws {
        guard !item.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the item id is empty") }
        if let problem = ItemCatalogue.idProblem(item) { throw ValidationError(problem) }
        guard !fields.isEmpty || rowFile != nil else { throw ValidationError("give the item's fields: --field or --row-file") }
        guard fields.isEmpty || rowFile == nil else { throw ValidationError("--field and --row-file do not go together") }
        var names = Set<Substring>()
        for field in fields {
            let name = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard names.insert(name).inserted else { throw ValidationError("--field \(name) is given twice") }
        }
        for field in fields where !field.contains("=") || field.hasPrefix("=") {
            throw ValidationError("--field must be name=value, got \(field)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            var values: [String: String] = [:]
            for field in fields {
                let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard values.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
                    throw CommandFailure("--field \(parts[0]) is given twice", exitCode: .usage)
                }
            }
            if let rowFile {
                let table = try CSVTable.read(path: rowFile)
                guard table.rows.count == 1 else {
                    throw CommandFailure("\(rowFile): needs exactly one data row, has \(table.rows.count)", exitCode: .badInput)
                }
                values = Dictionary(zip(table.header, table.rows[0]), uniquingKeysWith: { first, _ in first })
            }
            let request = ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: item, fields: values))
            try await options.run(request, as: CatalogueView.self, timeoutMs: options.changeTimeoutMs, render: CatalogueText.render)
        }
    }
}

/// `recpool catalogue retire ID`.
struct CatalogueRetireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire",
        abstract: "Retire an item (a new catalogue version); once this returns, no slate holds it.")

    @Argument(help: "The item's id (SKU).")
    var item: String

    @OptionGroup var options: CatalogueOutputOptions

    func validate() throws {
        guard !item.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the item id is empty") }
        // Only what no id may hold on the wire: a retire names ids earlier builds stored (of any length, with an
        // invisible format character), and the broker answers NOT_FOUND for one it does not hold.
        if let problem = WireText.nameProblem(item, field: "the item id") { throw ValidationError(problem) }
    }

    func run() async throws {
        try await reportingFailures {
            let request = ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: item))
            try await options.run(request, as: CatalogueView.self, timeoutMs: options.changeTimeoutMs, render: CatalogueText.render)
        }
    }
}

/// The text form of a catalogue version.
enum CatalogueText {
    /// One line: version, change, sizes, hash and confirmation.
    static func render(_ view: CatalogueView) -> String {
        let change = view.item.map { "\(view.change) \($0)" } ?? view.change
        let parent = view.parent.map { ", parent \($0)" } ?? ""
        var line = "catalogue version \(view.version) (\(change)\(parent)): \(view.items) items, \(view.active) active, "
            + "width \(view.width), sha256 \(view.sha256.prefix(16))"
        if let confirmed = view.confirmed {
            if confirmed, let replicas = view.replicas, replicas.isEmpty {
                // Nothing confirmed it: no worker was there (each installs the served version when it registers).
                line += ", no worker connected to confirm it (each installs it when it registers)"
            } else {
                line += confirmed ? ", confirmed by every worker" : ", not yet confirmed by every worker"
            }
        }
        // Why a worker has not confirmed: the reason it gave when it refused the version.
        for replica in view.replicas ?? [] where view.confirmed == false {
            if let error = replica.error { line += "\nworker \(replica.worker): \(error)" }
        }
        return line
    }
}
