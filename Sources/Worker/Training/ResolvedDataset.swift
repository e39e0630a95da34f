import Crypto
import Foundation
import RecData
import RecModel

/// A job's data as the kernel consumes it: the seeded split, the feature specification to embed
/// in the final checkpoint, and the SHA-256 that identifies the data in every report.
public struct ResolvedDataset: Sendable {
    /// The name in the job spec (`sha256:<hex>`, `obd:random/all`, `synthetic:…`).
    public var name: String
    /// Hex SHA-256 of the uploaded bytes, or of the name for built-ins.
    public var sha256: String
    /// The train/validation split and the shuffle stream.
    public var split: TrainingSplit
    /// The FeatureSpec JSON fitted on the training split (empty for uploads, which carry features).
    public var featureSpec: [UInt8]
    /// An uploaded feature matrix's column names (its header without `label`), which the final checkpoint records
    /// as `input_columns` as `recpool fit` does, so `predict` refuses rows whose columns are in another order; nil
    /// for the rest, whose checkpoints carry their feature specification.
    public var inputColumns: [String]?

    /// The most rows or users a `synthetic:` dataset may ask a worker to simulate.
    public static let maximumSyntheticRows = 2_000_000

    /// Features per row.
    public var inputWidth: Int { split.train.count > 0 ? split.train.inputs.cols : split.validation.inputs.cols }

    /// Creates a resolved dataset.
    public init(name: String, sha256: String, split: TrainingSplit, featureSpec: [UInt8], inputColumns: [String]? = nil) {
        self.name = name
        self.sha256 = sha256
        self.split = split
        self.featureSpec = featureSpec
        self.inputColumns = inputColumns
    }

    /// Parses an uploaded CSV (header, numeric features and a `label` column), as `recpool fit` reads one.
    /// - Throws: ``TrainingError/badDataset(_:)`` naming the problem.
    public static func labeledData(csv bytes: [UInt8], name: String) throws(TrainingError) -> ParsedUpload {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .badDataset("\(name) is not UTF-8 text")
        }
        let data: LabeledData
        let columns: [String]?
        do throws(CSVError) {
            let csv = try NumericCSV.parse(text, path: name, headerRequired: true)
            data = try csv.labeledData()
            columns = csv.header?.filter { $0 != "label" }
        } catch {
            throw .badDataset(error.description)
        }
        guard data.count > 0, data.inputs.cols > 0 else {
            throw .badDataset("\(name) has no rows or no feature columns")
        }
        return ParsedUpload(data: data, columns: columns?.count == data.inputs.cols ? columns : nil)
    }

    /// Resolves an uploaded dataset already parsed to rows.
    public static func upload(
        _ upload: ParsedUpload, sha256: String, seed: UInt64, validationFraction: Double
    ) -> ResolvedDataset {
        ResolvedDataset(
            name: "sha256:\(sha256)", sha256: sha256,
            split: TrainingSplit(data: upload.data, validationFraction: validationFraction, seed: seed), featureSpec: [],
            inputColumns: upload.columns)
    }

    /// Resolves a built-in dataset (`obd:…` or `synthetic:…`) through RecData's ``RecData/DatasetResolver``:
    /// the logged impressions split by time (train 60% / validation 10%; the test 30% is left out), the extended
    /// ``RecData/FeatureSpec`` fitted on the training part only, each impression labelled with its click.
    /// `validationFraction` is not used: logs are split by time, the same split as every command.
    /// - Parameters:
    ///   - name: The specifier.
    ///   - seed: The job's seed (the split).
    ///   - validationFraction: The job's held-out fraction.
    ///   - obdDirectory: Where the `obd` sample lives.
    /// - Throws: ``TrainingError/unknownDataset(_:)`` or ``TrainingError/badDataset(_:)``.
    public static func builtIn(
        _ name: String, seed: UInt64, validationFraction: Double, obdDirectory: String
    ) throws(TrainingError) -> ResolvedDataset {
        let specifier: DatasetSpecifier
        do throws(DataError) {
            specifier = try DatasetSpecifier(parsing: name)
        } catch {
            throw .unknownDataset(
                "'\(name)': expected sha256:<hex> of an uploaded CSV, obd:{random,bts}/{all,men,women} "
                    + "or synthetic:KEY=VALUE,… (\(error.description))")
        }
        if case .synthetic(let config, let rows, _) = specifier,
            rows > maximumSyntheticRows || config.users > maximumSyntheticRows || config.items > 100_000
        {
            throw .badDataset(
                "'\(name)' is larger than a worker simulates (at most \(maximumSyntheticRows) rows and users)")
        }
        if case .csv = specifier {
            throw .unknownDataset("'\(name)': a worker does not read files by path; upload the CSV instead")
        }
        let logged: SplitDataset
        do throws(DataError) {
            guard case .logs(let split, _, _) = try DatasetResolver(obdDirectory: obdDirectory).resolve(name) else {
                throw .invalidSpecification("'\(name)' is not a log")
            }
            logged = split
        } catch {
            // The worker reads the sample from its own disk: a worker started elsewhere than the client failed the job
            // naming a relative path, with no word of whose disk or how to point it at the data.
            var hint = ""
            if case .obd = specifier {
                let absolute = URL(fileURLWithPath: obdDirectory).standardizedFileURL.path
                hint = " (this worker reads the Open Bandit Dataset from \(absolute) on its own host; start it with "
                    + "RECPOOL_DATA_DIR naming the folder that holds obd/, or upload the log instead)"
            }
            throw .badDataset("'\(name)': \(error.description)\(hint)")
        }
        return try fromLogs(logged, name: name, sha256: sha256Hex(Array(name.utf8)), seed: seed)
    }

    /// Resolves a shop's uploaded log with its catalogue and schema through RecData's ``RecData/DatasetResolver``,
    /// split by time like every command.
    /// - Throws: ``TrainingError/badDataset(_:)`` naming the problem (a missing catalogue frame, a column the
    ///   schema does not name, a bad field).
    public static func shopLogs(
        logs: [UInt8], sha256: String, catalogue: [UInt8]?, catalogueName: String, schema: String, seed: UInt64
    ) throws(TrainingError) -> ResolvedDataset {
        guard let catalogue, !catalogue.isEmpty else {
            throw .badDataset("the job has a schema but the assignment carries no catalogue \(catalogueName)")
        }
        if catalogueName.hasPrefix("sha256:"), sha256Hex(catalogue) != catalogueName.dropFirst(7).lowercased() {
            throw .badDataset("the catalogue bytes hash to \(sha256Hex(catalogue)), the job names \(catalogueName)")
        }
        let logged: SplitDataset
        do throws(DataError) {
            logged = try DatasetResolver(obdDirectory: "").logs(
                logBytes: logs, catalogueBytes: catalogue, schemaText: schema, name: "sha256:\(sha256)")
        } catch {
            throw .badDataset(error.description)
        }
        return try fromLogs(logged, name: "sha256:\(sha256)", sha256: sha256, seed: seed)
    }

    /// Training and validation rows of a log split by time, with the extended ``RecData/FeatureSpec`` fitted on the
    /// training part only; the test part never reaches a worker's training.
    static func fromLogs(_ logged: SplitDataset, name: String, sha256: String, seed: UInt64) throws(TrainingError)
        -> ResolvedDataset
    {
        let rows: TrainingRows
        let specBytes: [UInt8]
        do throws(FeatureSpecError) {
            rows = try logged.trainingRows(name: name)
            specBytes = try rows.spec.encoded()
        } catch let error where error.isEmptyTrainingPart {
            throw .badDataset(error.description)
        } catch {
            throw .badDataset("'\(name)': cannot fit the feature specification: \(error)")
        }
        return ResolvedDataset(
            name: name, sha256: sha256,
            split: TrainingSplit(
                train: rows.train, validation: rows.validation, seed: seed, validationCold: rows.validationCold),
            featureSpec: specBytes)
    }
}

/// Lower-case hex SHA-256 of `bytes`.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in SHA256.hash(data: bytes) {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension FeatureSpecError {
    /// Whether the error is a log's too-small training part (its text already names the log).
    var isEmptyTrainingPart: Bool {
        if case .emptyTrainingPart = self { return true }
        return false
    }
}

/// An uploaded feature matrix parsed to rows: the labelled rows and the header's feature column names (nil when the
/// header does not name one column per feature).
public struct ParsedUpload: Sendable {
    /// The rows and their labels.
    public var data: LabeledData
    /// The feature columns' names, in order.
    public var columns: [String]?
}
