import Foundation
import RecWire

/// How `recpool recommend` prints a reply as text: one line per item with its rank, its catalogue row (and, in a
/// policy's slate, the catalogue's id for it), its score and, in a policy's slate, its propensity.
///
/// Item rows and ranks are 64-bit integers and are written by interpolation, never by `String(format: "%d")`, whose
/// `%d` reads a 32-bit `int`: it kept only an item's low 32 bits (row 9007199254740993 was printed as 1).
public enum RecommendText {
    /// One item of a model's ranking: `" 1. item 42  0.8123"` (the rank, from 1, right-aligned in 2 columns).
    public static func rankedLine(rank: Int, item: Int, score: Double) -> String {
        "\(aligned(rank)). item \(item)  \(String(format: "%.4f", score))"
    }

    /// A policy's reply: the impression id, the version and exploration rule, then the slate with propensities.
    public static func slate(_ reply: PolicyRecommendation) -> String {
        let rule =
            switch reply.exploration.kind {
            case .epsilonGreedy: "epsilon_greedy ε=\(reply.exploration.epsilon)"
            case .softmax: "softmax T=\(reply.exploration.temperature)"
            }
        var lines = [
            "impression \(reply.impressionId)",
            "policy version \(reply.modelVersion), source policy, exploration \(rule)",
        ]
        for item in reply.items {
            // The catalogue's id beside the row, unless the id is the row's number (a catalogue without ids).
            let id = item.id.flatMap { $0 == "\(item.item)" ? nil : " (\($0))" } ?? ""
            lines.append(
                "\(aligned(item.position + 1)). item \(item.item)\(id)  score \(figure(item.score))  "
                    + "propensity \(figure(item.propensity))")
        }
        return lines.joined(separator: "\n")
    }

    /// A score or propensity with four decimals, or, when it is above 0 but below 0.0001, with three significant
    /// digits (`1.23e-07`): an explored item's propensity near 1e-7 printed as `0.0000`, which reads as an item the
    /// policy could never have shown (off-policy estimates divide by it).
    public static func figure(_ value: Double) -> String {
        value != 0 && abs(value) < 0.0001 ? String(format: "%.2e", value) : String(format: "%.4f", value)
    }

    /// `value` right-aligned in 2 columns, as `%2d` aligned it (wider values take the room they need).
    private static func aligned(_ value: Int) -> String {
        let text = "\(value)"
        return String(repeating: " ", count: max(0, 2 - text.count)) + text
    }
}
