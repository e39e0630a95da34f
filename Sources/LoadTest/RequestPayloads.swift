import Foundation
import RecData
import RecModel
import RecWire

/// Builds the request payloads a load test sends.
public enum RequestPayloads {
    /// `count` tensors of `batch` random rows of `width` features in [−1, 1), from a seeded generator.
    public static func randomScore(batch: Int, width: Int, count: Int = 16, seed: UInt64 = 7) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let values = (0..<(batch * width)).map { _ in Float(rng.uniform(-1, 1)) }
            return Tensor(rows: batch, cols: width, values: values).encoded()
        }
    }

    /// Tensors of `batch` rows each, drawn in order from a dataset and built by a ``FeatureSpec``
    /// fitted on it (so rows look like what the served model sees). Returns the payloads and the width.
    /// - Parameter servedSpec: the served model's own feature specification (from its checkpoint); rows are
    ///   then built exactly as that model expects them. Without one, a specification is fitted on `data`.
    public static func datasetScore(
        _ data: BanditDataset, batch: Int, count: Int = 16, servedSpec: FeatureSpec? = nil
    ) throws -> ([[UInt8]], Int) {
        let spec = try servedSpec ?? FeatureSpec.fit(on: data)
        var row = 0
        let payloads = (0..<count).map { _ in
            var values: [Float] = []
            values.reserveCapacity(batch * spec.width)
            for _ in 0..<batch {
                spec.append(example(data, row), to: &values)
                row = (row + 1) % data.rows
            }
            return Tensor(rows: batch, cols: spec.width, values: values).encoded()
        }
        return (payloads, spec.width)
    }

    /// RECOMMEND documents: with a dataset, each user's raw features and a few viewed items taken
    /// from the logs; without one, brand-new users with no features and no events.
    public static func recommend(_ data: BanditDataset?, count: Int = 64, top: Int = 10) -> [[UInt8]] {
        guard let data, data.rows > 0 else { return [WireJSON.encode(RecommendQuery(top: top))] }
        return (0..<count).map { i in
            let row = (i * 7919) % data.rows
            let events = (0..<(i % 3)).map { k in
                ViewEvent(item: data.action[(row + k) % data.rows], seconds: 5 + Double(k) * 10)
            }
            return WireJSON.encode(
                RecommendQuery(userFeatures: data.userContext(row), events: events, top: top))
        }
    }

    private static func example(_ data: BanditDataset, _ row: Int) -> RawExample {
        var affinity: [Int: Double] = [:]
        for entry in data.affinity.entries(row) { affinity[entry.column] = Double(entry.value) }
        return RawExample(
            userFeatures: data.userContext(row), item: data.action[row], position: data.position[row],
            affinity: affinity)
    }
}
