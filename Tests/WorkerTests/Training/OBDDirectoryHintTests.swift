import Testing

@testable import Worker

/// A worker started away from the data failed an `obd:` job naming a relative path, with no word of whose disk it
/// read or how to point the worker at the sample.
@Suite("A worker without the Open Bandit Dataset")
struct OBDDirectoryHintTests {
    @Test("an obd: dataset the worker cannot read names the folder it read from and RECPOOL_DATA_DIR")
    func missingSampleIsExplained() {
        do {
            _ = try ResolvedDataset.builtIn(
                "obd:random/all", seed: 1, validationFraction: 0.1, obdDirectory: "no-such-folder/obd")
            Issue.record("resolved an obd: dataset from a folder that does not exist")
        } catch {
            let text = error.description
            #expect(text.hasPrefix("bad dataset: 'obd:random/all': "), "\(text)")
            #expect(text.contains("/no-such-folder/obd on its own host") && text.contains("RECPOOL_DATA_DIR"), "\(text)")
        }
    }
}
