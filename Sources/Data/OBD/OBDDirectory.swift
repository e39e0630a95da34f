import Foundation

/// Where the Open Bandit Dataset sample lives on disk: the one lookup every command that reads `obd:` names uses.
public enum OBDDirectory {
    /// The `obd` directory.
    ///
    /// - Parameters:
    ///   - dataDirectory: the user's `--data-dir`, if given: its `obd/` child when that exists, else the folder itself.
    ///   - currentDirectory: where the search for `data/obd` starts when `dataDirectory` is nil; it walks up to `/`.
    /// - Returns: The folder found, or `data/obd` (relative) when there is none, so the loader's error names the path.
    public static func locate(dataDirectory: String?, currentDirectory: String = FileManager.default.currentDirectoryPath)
        -> String
    {
        let fm = FileManager.default
        if let dir = dataDirectory { return fm.fileExists(atPath: dir + "/obd") ? dir + "/obd" : dir }
        var url = URL(fileURLWithPath: currentDirectory)
        while url.path != "/" {
            let candidate = url.appendingPathComponent("data/obd").path
            if fm.fileExists(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return "data/obd"
    }
}
