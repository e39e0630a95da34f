import Foundation

/// One file of the Open Bandit Dataset sample: a logging policy and a campaign, such as `random/all`.
public struct OBDSource: Hashable, Sendable, CustomStringConvertible {
    /// The policy that logged the data.
    public enum Policy: String, Sendable, CaseIterable {
        /// Uniform random over the campaign's items.
        case random
        /// Bernoulli Thompson sampling.
        case bts
    }

    /// The ZOZOTOWN campaign (80, 34 and 46 items).
    public enum Campaign: String, Sendable, CaseIterable {
        /// All items.
        case all
        /// Men's items.
        case men
        /// Women's items.
        case women
    }

    /// The logging policy.
    public var policy: Policy
    /// The campaign.
    public var campaign: Campaign

    /// Creates a source.
    public init(_ policy: Policy, _ campaign: Campaign) {
        self.policy = policy
        self.campaign = campaign
    }

    /// Parses `random/all`, `bts/women`, ...
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let policy = Policy(rawValue: String(parts[0])),
            let campaign = Campaign(rawValue: String(parts[1]))
        else { return nil }
        self.init(policy, campaign)
    }

    /// All six files, in the order `random/{all,men,women}`, `bts/{all,men,women}`.
    public static let all: [OBDSource] = Policy.allCases.flatMap { p in Campaign.allCases.map { OBDSource(p, $0) } }

    /// `random/all` style.
    public var description: String { "\(policy.rawValue)/\(campaign.rawValue)" }

    /// The logged-data file under an `obd` directory.
    public func dataFile(in obdDirectory: String) -> String {
        "\(obdDirectory)/\(policy.rawValue)/\(campaign.rawValue)/\(campaign.rawValue).csv"
    }

    /// The item-context file under an `obd` directory.
    public func itemContextFile(in obdDirectory: String) -> String {
        "\(obdDirectory)/\(policy.rawValue)/\(campaign.rawValue)/item_context.csv"
    }
}
