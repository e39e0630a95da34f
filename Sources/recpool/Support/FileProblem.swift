import Foundation

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

    /// Writes `data` to `path`, throwing a ``CommandFailure`` (exit 2) that says why when it cannot.
    static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw CommandFailure("cannot write \(path): \(reason(error, path: path))", exitCode: .badInput)
        }
    }
}
