import Foundation

/// A fresh, empty folder under the system's temporary directory, for one test.
///
/// It is not removed when the value goes away (Swift may end a value's life right after its last
/// use, while a child process still writes there): call ``remove()`` in a `defer`, or use
/// ``withTemporaryDirectory(_:_:)``.
public struct TemporaryDirectory: Sendable {
    /// The folder.
    public let url: URL

    /// The folder's path.
    public var path: String { url.path }

    /// Creates `<tmp>/recpool-<label>-<uuid>`.
    /// - Throws: the file system's error when the folder cannot be made.
    public init(_ label: String = "test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The URL of `name` inside the folder (nothing is created).
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Deletes the folder and everything in it; a folder already gone is not an error.
    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` with a fresh temporary folder and removes the folder afterwards, even when `body` throws.
/// - Parameters:
///   - label: part of the folder's name, to tell tests apart in `/tmp`.
///   - body: the test; gets the folder.
/// - Returns: what `body` returns.
/// - Throws: the folder's creation error, or what `body` throws.
public func withTemporaryDirectory<T>(
    _ label: String = "test", _ body: (TemporaryDirectory) async throws -> T
) async throws -> T {
    let directory = try TemporaryDirectory(label)
    defer { directory.remove() }
    return try await body(directory)
}
