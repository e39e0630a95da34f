import Foundation

/// The RecPool programs installed beside this `recpool`: `recpool-broker`, `recpool-worker` and `recpool` itself.
/// Found from `/proc/self/exe` (the running file, symlinks resolved), never from `argv[0]`, which is a bare name when
/// `recpool` was found on `PATH` and would be looked up in the current directory.
enum SiblingPrograms {
    /// The directory holding the running `recpool`.
    static var directory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// The program `name` (`recpool-broker`, `recpool-worker`, `recpool`) beside this one.
    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
}
