import RecWire

/// Why a load test cannot build SCORE rows that the pool will accept. Each case says what to change.
public enum LoadSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No live worker offers SCORE, so the served width is unknown.
    case noScoringWorker
    /// The live SCORE workers serve models of different widths.
    case mixedWidths([Int])
    /// `--width` names a width no live SCORE worker serves.
    case widthNotServed(requested: Int, served: [Int])
    /// The dataset's feature rows have a width no live SCORE worker serves.
    case datasetWidth(dataset: String, width: Int, served: [Int])

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .noScoringWorker:
            "no live worker offers SCORE, so the served model's input width is unknown (start a worker, or pass --width)"
        case .mixedWidths(let widths):
            "live SCORE workers serve models of widths \(Self.list(widths)); pass --width to load one of them"
        case .widthNotServed(let requested, let served):
            "--width \(requested): the pool serves width \(Self.list(served)); every request would be BAD_REQUEST"
        case .datasetWidth(let dataset, let width, let served):
            "\(dataset) gives rows of \(width) features but the pool serves width \(Self.list(served)); "
                + "every request would be BAD_REQUEST (serve a model trained on this dataset, or drop --dataset)"
        }
    }

    private static func list(_ widths: [Int]) -> String { widths.map(String.init).joined(separator: ", ") }
}

/// The width of the rows a load test sends: the served model's input width, as STATUS reports it.
public enum ServedWidth {
    /// The distinct input widths of the live workers that offer SCORE, ascending.
    public static func widths(in status: StatusDocument) -> [Int] {
        Set(status.workers.filter { $0.services.contains("SCORE") }.map(\.inputWidth)).sorted()
    }

    /// The width to build rows for.
    /// - Parameters:
    ///   - served: ``widths(in:)`` of the pool's STATUS.
    ///   - requested: `--width`, if given.
    ///   - dataset: the dataset's label and the width of its feature rows, when rows come from a dataset.
    /// - Returns: the served width (or `requested` when no worker is live yet and no dataset fixes the width).
    /// - Throws: ``LoadSetupError`` when no width can work: rows of any other width are answered `BAD_REQUEST`.
    public static func resolve(served: [Int], requested: Int?, dataset: (name: String, width: Int)?)
        throws(LoadSetupError) -> Int
    {
        if let dataset {
            guard served.isEmpty || served.contains(dataset.width) else {
                throw .datasetWidth(dataset: dataset.name, width: dataset.width, served: served)
            }
            if let requested, requested != dataset.width {
                throw .widthNotServed(requested: requested, served: [dataset.width])
            }
            return dataset.width
        }
        if let requested {
            guard served.isEmpty || served.contains(requested) else {
                throw .widthNotServed(requested: requested, served: served)
            }
            return requested
        }
        guard let only = served.first else { throw .noScoringWorker }
        guard served.count == 1 else { throw .mixedWidths(served) }
        return only
    }
}

extension LoadSummary {
    /// The share of sent requests that failed or got no reply, `(errors + lost) / sent`; 0 when nothing was sent.
    public var failureFraction: Double {
        sent > 0 ? Double(errorCount + lost) / Double(sent) : 0
    }

    /// Whether errors dominate the run: nothing was sent or completed, or more than `threshold` of the sent
    /// requests failed or were lost. `recpool loadtest` then exits non-zero (its `--max-error-fraction`, 0.5 by
    /// default).
    public func errorsDominate(threshold: Double) -> Bool {
        sent == 0 || completed == 0 || failureFraction > threshold
    }
}
