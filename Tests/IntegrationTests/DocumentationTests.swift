import Foundation
import Synchronization
import Testing

/// A fenced ```sh block of a Markdown document and what its info string asks of the harness.
struct ShellBlock: Sendable, CustomStringConvertible {
    /// The document, relative to the repository root.
    let document: String
    /// The 1-based line of the opening fence.
    let line: Int
    /// The block's text.
    let text: String
    /// The exit status the block must end with (`{exit: N}`; 0 otherwise).
    let expectedExit: Int32
    /// Why the block is not run (`{skip: reason}`); its `recpool*` flags are still checked.
    let skipReason: String?

    var description: String { "\(document):\(line)" }

    /// Every fenced block whose info string starts with `sh`, in document order.
    /// - Throws: `DocumentationError` for an attribute the harness does not know, or a `skip` without reason.
    static func extract(from markdown: String, document: String) throws -> [ShellBlock] {
        var blocks: [ShellBlock] = []
        var open: (line: Int, info: String)? = nil
        var body: [Substring] = []
        for (index, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("```") {
                if let current = open {
                    if current.info == "sh" || current.info.hasPrefix("sh ") {
                        blocks.append(
                            try ShellBlock(
                                document: document, line: current.line, text: body.joined(separator: "\n"),
                                info: String(current.info.dropFirst(2))))
                    }
                    open = nil
                } else {
                    open = (index + 1, line.dropFirst(3).trimmingCharacters(in: .whitespaces))
                    body = []
                }
            } else if open != nil {
                body.append(line)
            }
        }
        return blocks
    }

    private init(document: String, line: Int, text: String, info: String) throws {
        self.document = document
        self.line = line
        self.text = text
        var exit: Int32 = 0
        var skip: String? = nil
        let attributes = info.trimmingCharacters(in: .whitespaces)
        if !attributes.isEmpty {
            guard attributes.hasPrefix("{"), attributes.hasSuffix("}") else {
                throw DocumentationError.badInfo("\(document):\(line): expected ```sh {key: value}, got `\(info)`")
            }
            let inner = attributes.dropFirst().dropLast()
            guard let colon = inner.firstIndex(of: ":") else {
                throw DocumentationError.badInfo("\(document):\(line): expected {exit: N} or {skip: reason}")
            }
            let key = inner[..<colon].trimmingCharacters(in: .whitespaces)
            let value = inner[inner.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "exit":
                guard let code = Int32(value) else {
                    throw DocumentationError.badInfo("\(document):\(line): {exit: N} needs a number")
                }
                exit = code
            case "skip":
                guard !value.isEmpty else {
                    throw DocumentationError.badInfo("\(document):\(line): {skip: …} needs a reason")
                }
                skip = value
            default:
                throw DocumentationError.badInfo("\(document):\(line): unknown attribute `\(key)`")
            }
        }
        expectedExit = exit
        skipReason = skip
    }

    /// The `recpool`, `recpool-broker` and `recpool-worker` invocations of the block: the program,
    /// the words before the first flag (subcommands and positionals) and the long flags used.
    var invocations: [(program: String, words: [String], flags: [String])] {
        // Join continuation lines, drop comments, split commands on ; && || | and &.
        let joined = text.replacingOccurrences(of: "\\\n", with: " ")
        var result: [(String, [String], [String])] = []
        for rawLine in joined.split(separator: "\n") {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let separators = CharacterSet(charactersIn: ";&|")
            for command in line.components(separatedBy: separators) {
                var tokens = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                while let first = tokens.first, first.contains("=") && !first.hasPrefix("-") { tokens.removeFirst() }
                guard let first = tokens.first else { continue }
                let program = (first as NSString).lastPathComponent
                guard ["recpool", "recpool-broker", "recpool-worker"].contains(program) else { continue }
                let rest = tokens.dropFirst()
                let words = Array(rest.prefix { !$0.hasPrefix("-") })
                let flags = rest.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=").first!) }
                result.append((program, words, flags))
            }
        }
        return result
    }
}

enum DocumentationError: Error, CustomStringConvertible {
    case badInfo(String)
    var description: String {
        switch self {
        case .badInfo(let text): text
        }
    }
}

/// Runs every fenced ```sh block of README.md and docs/*.md (docs/ARCHITECTURE.md, "Tests", has the
/// convention). Each document runs in its own network, pid and mount namespaces (`unshare`), so the
/// documents' fixed ports (5555, 5556) and addresses (10.0.0.1–3 and 10.0.0.5 are added to the
/// namespace's loopback) work as written and every process a block leaves in the background ends
/// with the document. Blocks run in order in one fresh directory, each as `bash -euo pipefail`, with
/// the built (debug) binaries first on PATH and in `$B`.
@Suite("Documentation: every ```sh block runs", .serialized)
struct DocumentationTests {
    /// The repository root: the folder holding Package.swift above the build folder.
    static let root: URL = {
        var url = ProcessCluster.binaries
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// README.md and every docs/*.md.
    static let documents: [String] = {
        let folder = root.appendingPathComponent("docs").path
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
    }()

    /// Seconds a block may run, and a whole document.
    static let blockSeconds = 150
    static let documentSeconds = 600

    static func blocks(_ document: String) throws -> [ShellBlock] {
        let text = try String(contentsOf: root.appendingPathComponent(document), encoding: .utf8)
        return try ShellBlock.extract(from: text, document: document)
    }

    @Test("the harness reads fences, attributes and the flags of each command")
    func parsesBlocks() throws {
        let markdown = """
            text
            ```sh
            recpool status --broker tcp://127.0.0.1:5555   # a comment --not-a-flag
            $B/recpool-broker --frontend 'tcp://*:5555' \\
                --curve-key k.key &
            ```
            ```sh {exit: 3}
            X=1 recpool online status --json; echo done
            ```
            ```sh {skip: needs systemd}
            systemctl enable --now recpool-broker
            ```
            ```toml
            a = 1
            ```
            """
        let blocks = try ShellBlock.extract(from: markdown, document: "t.md")
        #expect(blocks.count == 3)
        #expect(blocks.map(\.expectedExit) == [0, 3, 0])
        #expect(blocks.map(\.skipReason) == [nil, nil, "needs systemd"])
        let first = blocks[0].invocations
        #expect(first.map(\.program) == ["recpool", "recpool-broker"])
        #expect(first[0].words == ["status"] && first[0].flags == ["--broker"])
        #expect(first[1].flags == ["--frontend", "--curve-key"])
        #expect(blocks[1].invocations.first?.words == ["online", "status"])
        for bad in ["```sh {skip:}\nx\n```", "```sh {later: 1}\nx\n```", "```sh {exit: x}\nx\n```"] {
            #expect(throws: DocumentationError.self) { try ShellBlock.extract(from: bad, document: "t") }
        }
    }

    @Test(
        "every flag a documented recpool command uses exists (run blocks and skipped ones alike)",
        arguments: documents)
    func flagsExist(document: String) throws {
        var helps: [[String]: String] = [:]
        for block in try Self.blocks(document) {
            for invocation in block.invocations {
                // `--help` after the subcommand words prints that subcommand's options.
                let key = [invocation.program] + invocation.words
                let text: String
                if let cached = helps[key] {
                    text = cached
                } else {
                    let help = try runTool(invocation.program, invocation.words + ["--help"])
                    text = help.stdout + help.stderr
                    helps[key] = text
                }
                for flag in invocation.flags where flag != "--help" {
                    #expect(
                        text.contains(flag + " ") || text.contains(flag + "\n") || text.contains(flag + ","),
                        "\(block): `\(invocation.program) \(invocation.words.joined(separator: " "))` has no \(flag)")
                }
            }
        }
    }

    @Test(
        "every ```sh block of a document runs as written and exits as expected",
        .enabled(if: NamespaceNetwork.permitted, "needs root to give each document its own network namespace"),
        arguments: documents)
    func blocksRun(document: String) async throws {
        let run = await DocumentLanes.shared.result(for: document)
        // One line per block with its time, so slow examples are easy to spot in the test log.
        print(run.log.split(separator: "\n").filter { $0.hasPrefix("::took ") }.joined(separator: "\n"))
        #expect(
            run.status == 0 && run.log.contains("::all blocks passed"),
            "\(document): exit \(run.status)\n\(run.log.suffix(6000))")
    }

    /// Runs one document's blocks in order in fresh namespaces and waits for them (a lane's thread calls it).
    /// - Returns: the driver's exit status and everything the blocks printed; a document with no runnable block
    ///   passes without starting anything, and a failure to set up its folder is status -1 with the error.
    static func runDriver(document: String) -> DocumentRun {
        do {
            let blocks = try Self.blocks(document)
            let runnable = blocks.filter { $0.skipReason == nil }
            guard !runnable.isEmpty else { return DocumentRun(status: 0, log: "::all blocks passed") }
            return try runDriver(document: document, blocks: runnable)
        } catch {
            return DocumentRun(status: -1, log: "\(document): could not prepare its blocks: \(error)")
        }
    }

    private static func runDriver(document: String, blocks runnable: [ShellBlock]) throws -> DocumentRun {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "recpool-docs-\(getpid())-\(document.replacingOccurrences(of: "/", with: "-"))")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(
            at: work.appendingPathComponent("blocks"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        var driver = """
            set -u
            ip link set lo up
            for address in 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.5; do ip addr add "$address/32" dev lo; done
            export B=\(ProcessCluster.binaries.path)
            export PATH="$B:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            export HOME=\(work.path)/home
            mkdir -p "$HOME" \(work.path)/run && cd \(work.path)/run
            run() {
                echo "=== $1"
                started=$SECONDS
                timeout -k 5 \(Self.blockSeconds) bash -euo pipefail "\(work.path)/blocks/$2.sh" < /dev/null
                code=$?
                echo "::took $1 $((SECONDS - started)) s"
                if [ "$code" -ne "$3" ]; then echo "::failed $1: exit $code, expected $3"; exit 1; fi
            }

            """
        for (index, block) in runnable.enumerated() {
            try Data(block.text.utf8).write(to: work.appendingPathComponent("blocks/\(index).sh"))
            driver += "run '\(block)' \(index) \(block.expectedExit)\n"
        }
        driver += "echo '::all blocks passed'\n"
        try Data(driver.utf8).write(to: work.appendingPathComponent("driver.sh"))

        let log = work.appendingPathComponent("output.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = [
            "-k", "10", "\(Self.documentSeconds)", "unshare", "--net", "--pid", "--fork", "--kill-child",
            "--mount-proc", "bash", work.appendingPathComponent("driver.sh").path,
        ]
        // Only what the blocks set: no RECPOOL_* from the test's own environment.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RECPOOL_") }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return DocumentRun(status: process.terminationStatus, log: text)
    }
}

/// What one document's driver did: its exit status and its output.
struct DocumentRun: Sendable {
    let status: Int32
    let log: String
}

/// Runs the documents' drivers two at a time, each on a thread of its own (never on Swift's cooperative pool), and
/// hands each test case its document's result. Every document runs in its own network, pid and mount namespaces,
/// so two documents never share a port or a process. The first request starts every document; the documents with
/// the most runnable blocks start first, so the longest (docs/YOUR-DATA.md, docs/ONLINE.md) run beside the rest
/// instead of after them. This halves the suite's wall time without changing what any block runs.
final class DocumentLanes: Sendable {
    static let shared = DocumentLanes(documents: DocumentationTests.documents, lanes: 2)

    private struct State {
        var started = false
        var queue: [String]
        var results: [String: DocumentRun] = [:]
        var waiters: [String: [CheckedContinuation<DocumentRun, Never>]] = [:]
    }

    private let state: Mutex<State>
    private let lanes: Int

    init(documents: [String], lanes: Int) {
        let weight = Dictionary(
            uniqueKeysWithValues: documents.map { document in
                (document, ((try? DocumentationTests.blocks(document)) ?? []).filter { $0.skipReason == nil }.count)
            })
        // Most runnable blocks first; the documents' own order breaks ties.
        let ordered = documents.enumerated().sorted {
            (weight[$0.element]!, -$0.offset) > (weight[$1.element]!, -$1.offset)
        }.map(\.element)
        state = Mutex(State(queue: ordered))
        self.lanes = lanes
    }

    /// The result of `document`'s driver, starting every lane on the first call.
    func result(for document: String) async -> DocumentRun {
        await withCheckedContinuation { continuation in
            let (ready, start) = state.withLock { state -> (DocumentRun?, Bool) in
                if let done = state.results[document] { return (done, false) }
                state.waiters[document, default: []].append(continuation)
                defer { state.started = true }
                return (nil, !state.started)
            }
            if let ready { continuation.resume(returning: ready) }
            if start {
                for _ in 0..<lanes { Thread { self.drain() }.start() }
            }
        }
    }

    /// One lane: takes the next document until none is left.
    private func drain() {
        while let document = state.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) {
            let run = DocumentationTests.runDriver(document: document)
            let waiting = state.withLock { state in
                state.results[document] = run
                return state.waiters.removeValue(forKey: document) ?? []
            }
            for waiter in waiting { waiter.resume(returning: run) }
        }
    }
}
