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

    /// The most rows or users a `synthetic:` dataset may ask a worker to simulate.
    public static let maximumSyntheticRows = 2_000_000

    /// Features per row.
    public var inputWidth: Int { split.train.count > 0 ? split.train.inputs.cols : split.validation.inputs.cols }

    /// Creates a resolved dataset.
    public init(name: String, sha256: String, split: TrainingSplit, featureSpec: [UInt8]) {
        self.name = name
        self.sha256 = sha256
        self.split = split
        self.featureSpec = featureSpec
    }

    /// Parses an uploaded CSV (header, numeric features and a `label` column), as `recpool fit` reads one.
    /// - Throws: ``TrainingError/badDataset(_:)`` naming the problem.
    public static func labeledData(csv bytes: [UInt8], name: String) throws(TrainingError) -> LabeledData {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .badDataset("\(name) is not UTF-8 text")
        }
        let data: LabeledData
        do throws(CSVError) {
            data = try NumericCSV.parse(text, path: name, headerRequired: true).labeledData()
        } catch {
            throw .badDataset(error.description)
        }
        guard data.count > 0, data.inputs.cols > 0 else {
            throw .badDataset("\(name) has no rows or no feature columns")
        }
        return data
    }

    /// Resolves an uploaded dataset already parsed to rows.
    public static func upload(
        _ data: LabeledData, sha256: String, seed: UInt64, validationFraction: Double
    ) -> ResolvedDataset {
        ResolvedDataset(
            name: "sha256:\(sha256)", sha256: sha256,
            split: TrainingSplit(data: data, validationFraction: validationFraction, seed: seed), featureSpec: [])
    }

    /// Resolves a built-in dataset (`obd:…` or `synthetic:…`): loads the logged impressions, fits
    /// the extended ``RecData/FeatureSpec`` on the training rows of the seeded split only, and
    /// labels each impression with its click.
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
        let logged: BanditDataset
        do throws(DataError) {
            logged = try specifier.load(obdDirectory: obdDirectory)
        } catch {
            throw .badDataset("'\(name)': \(error.description)")
        }
        guard logged.rows > 1 else { throw .badDataset("'\(name)' has fewer than two rows") }
        // The same permutation `LabeledData.split` draws below: fit the spec on its training rows.
        var rng = Xoshiro256(seed: seed)
        let order = rng.permutation(logged.rows)
        let held = Int((validationFraction * Double(logged.rows)).rounded(.down))
        let trainRows = Array(order[0..<(logged.rows - held)])
        let spec: FeatureSpec
        do throws(FeatureSpecError) {
            spec = try FeatureSpec.fit(on: logged.subset(trainRows))
        } catch {
            throw .badDataset("'\(name)': cannot fit the feature specification: \(error)")
        }
        let features = spec.matrix(logged)
        let data = LabeledData(
            inputs: Matrix(rows: features.rows, cols: features.columns, values: features.values),
            targets: logged.reward.map { $0 > 0 ? 1 : 0 })
        let cold = order[(logged.rows - held)...].map { logged.isCold($0) }
        return ResolvedDataset(
            name: name, sha256: sha256Hex(Array(name.utf8)),
            split: TrainingSplit(data: data, validationFraction: validationFraction, seed: seed, validationCold: cold),
            featureSpec: spec.encoded())
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
