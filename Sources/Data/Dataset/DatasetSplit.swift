/// The one split of logged data by time that every command uses: the first `train` fraction of the rows (sorted by
/// timestamp) trains, the next rows validate, the last `test` fraction tests.
///
/// The default is 60% / 10% / 30%. Its test part is exactly obp's: the rows after the first `Int32(n · 0.7)`
/// (Saito et al., "Open Bandit Dataset and Pipeline", 2021), so `eval` keeps obp's last-30% test rows, and the
/// feature specification and the model never see a row of it.
public struct DatasetSplit: Sendable, Equatable, Codable {
    /// The fraction of rows that trains.
    public var train: Double
    /// The fraction of rows that tests (the newest).
    public var test: Double

    /// The default split: 60% train, 10% validation, 30% test.
    public static let standard = DatasetSplit(train: 0.6, test: 0.3)

    /// Creates a split; `train + test` must be at most 1.
    public init(train: Double, test: Double) {
        precondition(train > 0 && test >= 0 && train + test <= 1, "DatasetSplit: fractions out of range")
        self.train = train
        self.test = test
    }

    /// Row counts of the three parts.
    public struct Sizes: Sendable, Equatable, Codable, CustomStringConvertible {
        /// Rows that train (the oldest).
        public var train: Int
        /// Rows that validate (between the two).
        public var validation: Int
        /// Rows that test (the newest).
        public var test: Int

        /// Creates sizes.
        public init(train: Int, validation: Int, test: Int) {
            self.train = train
            self.validation = validation
            self.test = test
        }

        /// `split by time: train 6000 / validation 1000 / test 3000`, the line every command prints.
        public var description: String { "split by time: train \(train) / validation \(validation) / test \(test)" }
    }

    /// The sizes for `rows` rows: test is `rows − Int32(rows · (1 − test))` as obp computes it, train is
    /// `Int(rows · train)`, and validation is what lies between.
    public func sizes(rows: Int) -> Sizes {
        let beforeTest = Int(Int32(clamping: Int(Double(rows) * (1 - test))))
        let trainRows = min(Int(Double(rows) * train), beforeTest)
        return Sizes(train: trainRows, validation: beforeTest - trainRows, test: rows - beforeTest)
    }

    /// The index ranges of the three parts of `rows` time-ordered rows.
    public func ranges(rows: Int) -> (train: Range<Int>, validation: Range<Int>, test: Range<Int>) {
        let s = sizes(rows: rows)
        return (0..<s.train, s.train..<(s.train + s.validation), (s.train + s.validation)..<rows)
    }
}

/// A time-ordered log cut into its three parts by a ``DatasetSplit``.
public struct SplitDataset: Sendable {
    /// The whole log, time-ordered.
    public var all: BanditDataset
    /// The oldest rows: the feature specification and the model are fitted on these only.
    public var train: BanditDataset
    /// The rows between: model selection and the metrics a training job reports.
    public var validation: BanditDataset
    /// The newest rows: `eval` and `data ope` report on these.
    public var test: BanditDataset
    /// The split used.
    public var split: DatasetSplit

    /// Cuts `data` (already sorted by time).
    public init(_ data: BanditDataset, split: DatasetSplit = .standard) {
        let r = split.ranges(rows: data.rows)
        all = data
        train = data.subset(r.train, name: data.name + "[train]")
        validation = data.subset(r.validation, name: data.name + "[validation]")
        test = data.subset(r.test, name: data.name + "[test]")
        self.split = split
    }

    /// The row counts of the parts.
    public var sizes: DatasetSplit.Sizes {
        .init(train: train.rows, validation: validation.rows, test: test.rows)
    }

    /// A part by its name on the command line: `train`, `validation`, `test` or `all`.
    public func part(_ name: String) -> BanditDataset? {
        switch name {
        case "train": return train
        case "validation": return validation
        case "test": return test
        case "all": return all
        default: return nil
        }
    }
}
