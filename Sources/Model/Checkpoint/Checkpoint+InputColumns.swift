import Foundation

extension Checkpoint {
    /// The metadata key under which `recpool fit` (and a pool job on an uploaded matrix) records the names of a feature
    /// matrix's columns (its header without
    /// `label`, in order), as a JSON array of strings. A checkpoint with a feature specification names its columns
    /// there instead; one fitted on a matrix without a header records none.
    public static let inputColumnsKey = "input_columns"

    /// The feature-matrix columns the model was fitted on, in order; nil when the checkpoint records none.
    ///
    /// Rows scored with such a model are read by position: a header that names these columns in another order (or
    /// other columns) would put each value in another feature's place, so a reader with a header checks it against
    /// these names.
    /// - Throws: ``CheckpointError/invalidField(field:value:)`` when the recorded value is not a JSON array of as many
    ///   strings as the model has inputs (a damaged file is named, never read as "no names").
    public func inputColumns() throws(CheckpointError) -> [String]? {
        guard let text = metadata[Self.inputColumnsKey] else { return nil }
        let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
        guard let names, names.count == model.network.inputWidth else {
            let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
            throw .invalidField(
                field: "metadata \(Self.inputColumnsKey)",
                value: "'\(shown)' (expected a JSON array of \(model.network.inputWidth) column names)")
        }
        return names
    }

    /// The metadata value recording `names` as ``inputColumns()`` reads them.
    public static func inputColumnsValue(_ names: [String]) -> String {
        let data = (try? JSONEncoder().encode(names)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
