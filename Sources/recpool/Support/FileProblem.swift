import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecFiles

/// Words for why a file could not be read or written, from a Foundation error: the operating system's reason
/// (`strerror` of the underlying POSIX error, such as "No such file or directory" or "Is a directory") when the
/// error carries one, else a phrase for its Cocoa code; never Foundation's `NSCocoaErrorDomain error 512` text.
enum FileProblem {
    /// The reason `error` gives, in words.
    /// - Parameter path: The file the operation named, when the error may not say (Foundation reports a directory
    ///   where a file was expected with a bare code).
    static func reason(_ error: any Error, path: String? = nil) -> String {
        let ns = error as NSError
        var isDirectory: ObjCBool = false
        if let path = path ?? (ns.userInfo[NSFilePathErrorKey] as? String),
            FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue
        {
            return "Is a directory"
        }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        guard ns.domain == NSCocoaErrorDomain else { return "\(error)" }
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "No such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: return "Permission denied"
        case .fileWriteOutOfSpace: return "No space left on device"
        case .fileWriteVolumeReadOnly: return "Read-only file system"
        case .fileWriteFileExists: return "File exists"
        case .fileReadCorruptFile, .fileReadInapplicableStringEncoding: return "not readable as text"
        case .fileReadTooLarge: return "too large to read"
        default: return "the operating system refused it (Cocoa error \(ns.code))"
        }
    }

    /// Writes `data` to `path` (``AtomicFile/write(_:to:)``: atomically into a regular file, in place into a device
    /// or pipe, never renamed over one), throwing a ``CommandFailure`` (exit 2) that says why when it cannot. Every
    /// file a command writes goes through here.
    static func write(_ data: Data, to path: String) throws {
        do {
            try AtomicFile.write(Array(data), to: path)
        } catch {
            if error.operation.hasPrefix("open: ") {
                // A FIFO no process reads: the operation says why.
                throw CommandFailure("cannot write \(path): \(AtomicFile.reason(error))", exitCode: .badInput)
            }
            let why = error.operation == "rename onto" && error.errno == .isDirectory ? "Is a directory" : "\(error.errno)"
            throw CommandFailure("cannot write \(path): \(why) (\(error.operation) \(error.path))", exitCode: .badInput)
        }
    }

    /// The bytes of the file at `path` (``AtomicFile/read(_:)``: a pipe is read, a device refused), throwing a
    /// ``CommandFailure`` (exit 2) that says why when it cannot be read (the operating system's reason, never
    /// Foundation's "could not be completed").
    static func read(_ path: String) throws -> [UInt8] {
        do {
            return try AtomicFile.read(path)
        } catch {
            throw CommandFailure("cannot read \(path): \(AtomicFile.reason(error))", exitCode: .badInput)
        }
    }

    /// Writes several outputs of one command as one: pipes and devices first (a FIFO nobody reads fails after its
    /// wait, before any file is written), then regular files; when one fails, the files this call created are removed
    /// again, so a refusal leaves no part of the outputs (a file that existed before is replaced atomically or not at
    /// all, and is kept). A pipe's reader may already have read its part.
    /// - Throws: the ``CommandFailure`` of the output that failed.
    static func writeAll(_ outputs: [(data: Data, path: String)]) throws {
        func isRegularOrAbsent(_ path: String) -> Bool {
            var info = stat()
            return stat(path, &info) != 0 || info.st_mode & S_IFMT == S_IFREG
        }
        let ordered = outputs.filter { !isRegularOrAbsent($0.path) } + outputs.filter { isRegularOrAbsent($0.path) }
        var created: [String] = []
        do {
            for (data, path) in ordered {
                let existed = FileManager.default.fileExists(atPath: path)
                try write(data, to: path)
                if !existed { created.append(path) }
            }
        } catch {
            for path in created { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
    }

    /// Writes `text` as UTF-8 to `path` (``write(_:to:)-swift.type.method``).
    static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}

/// Checks of a path option, made in `validate()` so that a path that can never be used is refused (exit 64) before
/// anything is computed, sent or written, not after a long run or a download.
enum PathOption {
    /// Why `path` (the value of `flag`) cannot name a file to write, or nil: it is empty or blank, names an existing
    /// directory, or its folder does not exist (or is not a folder).
    /// - Parameter createsFolder: the command creates the file's folder itself, so only emptiness is checked.
    static func outputProblem(_ path: String, flag: String, createsFolder: Bool = false) -> String? {
        if let problem = PathName.problem(path, flag: flag, what: "a file") { return problem }
        guard !createsFolder else { return nil }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return "\(flag) \(path) is a directory; name a file"
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            return "\(flag) \(path): the folder \(folder) does not exist"
        }
        guard isDirectory.boolValue else { return "\(flag) \(path): \(folder) is not a folder" }
        return nil
    }

    /// Throws a `ValidationError` (exit 64) for ``outputProblem(_:flag:createsFolder:)`` of each given path.
    static func validateOutputs(_ paths: [(path: String?, flag: String)], createsFolder: Bool = false) throws {
        for (path, flag) in paths {
            guard let path else { continue }
            if let problem = outputProblem(path, flag: flag, createsFolder: createsFolder) {
                throw ValidationError(problem)
            }
        }
    }

    /// Throws a `ValidationError` (exit 64) when an output names the same file as an input or as another output (after
    /// resolving `.`, `..` and symbolic links): `eval --report m.ckpt --model m.ckpt` replaced the checkpoint with
    /// HTML, `data features --out log.csv` the log with its features.
    static func validateDistinct(outputs: [(path: String?, flag: String)], inputs: [(path: String?, flag: String)]) throws {
        func resolved(_ path: String) -> String {
            URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        }
        let named = outputs.compactMap { output in output.path.map { (resolved($0), $0, output.flag) } }
        for (index, (output, text, flag)) in named.enumerated() {
            for (other, _, otherFlag) in named[..<index] where other == output {
                throw ValidationError("\(otherFlag) and \(flag) name the same file, \(text): the second would overwrite the first")
            }
            for case let (input?, inputFlag) in inputs where resolved(input) == output {
                throw ValidationError("\(flag) \(text) is the \(inputFlag) file this command reads: it would be overwritten")
            }
        }
    }

    /// The inputs a `--schema` brings: the schema file and the catalogue CSV its `[catalogue] file` names (resolved
    /// as the loader resolves it, next to the schema). A schema that cannot be read brings only itself: the command
    /// reports it when it reads it. Only a regular file is read here: a pipe (`--schema <(…)`) is read once, by the
    /// command, and its catalogue (if any) is not checked against the outputs.
    static func schemaInputs(_ schema: String?, flag: String = "--schema") -> [(path: String?, flag: String)] {
        guard let schema else { return [] }
        // stat follows a symbolic link (FileManager's attributes describe the link itself).
        var info = stat()
        guard stat(schema, &info) == 0, info.st_mode & S_IFMT == S_IFREG, let parsed = try? DataSchema.read(path: schema)
        else { return [(schema, flag)] }
        return [(schema, flag), (DatasetResolver.catalogueFile(parsed, schemaPath: schema), "catalogue (\(flag)'s [catalogue] file)")]
    }
}
