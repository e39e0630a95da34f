/// The best click model that sees only what a logged row shows of its user: the simulator's ground truth averaged
/// over the population users who share the row user's observable features.
///
/// A model fitted on the simulator's logs sees a user's categorical features (`user_feature_j`) and whether the user
/// has history (the history's items too, which this reference leaves out), never the hidden interests. Of the users
/// it cannot tell apart, the expected click probability of item `i` in slot `p` is
///
///     P(click | codes, warm, i, p) = mean over the population users u with those codes and that warm flag of
///                                    b_p e^{s_u,i} / (e^{c₀} + b_p e^{s_u,i}),
///
/// which no model of those inputs can beat in expectation (it is the Bayes-optimal predictor of the click given
/// them, with the population as the prior). Its AUC and log-loss on a test split are the ceiling a fitted
/// model's are measured against, below the true click model's (which knows each user's interests).
public struct FeatureOnlyClickModel: Sendable {
    /// The world whose population and items are averaged over.
    public let world: SimulatorWorld
    /// The group of each population user, an index into `members`.
    private let groupOfUser: [Int]
    /// The population users of each group (equal codes and warm flag).
    private let members: [[Int]]

    /// Groups `world`'s population by observable features and warm flag. Cost: one pass over the users.
    public init(world: SimulatorWorld) {
        self.world = world
        let features = world.config.userFeatureCardinalities.count
        var index: [[Int32]: Int] = [:]
        var members: [[Int]] = []
        var groupOfUser: [Int] = []
        groupOfUser.reserveCapacity(world.config.users)
        for user in 0..<world.config.users {
            var key = Array(world.featureCodes[(user * features)..<((user + 1) * features)])
            key.append(world.warm[user] ? 1 : 0)
            let group: Int
            if let known = index[key] {
                group = known
            } else {
                group = members.count
                index[key] = group
                members.append([])
            }
            members[group].append(user)
            groupOfUser.append(group)
        }
        self.groupOfUser = groupOfUser
        self.members = members
    }

    /// The number of population users `user` cannot be told apart from by a model of its features (itself included).
    public func groupSize(user: Int) -> Int { members[groupOfUser[user]].count }

    /// The expected probability that a user looking like population user `user` clicks `item` shown alone in slot
    /// `position`: the mean of ``SimulatorWorld/clickProbability(user:item:position:)`` over `user`'s group.
    /// - Precondition: `user`, `item` and `position` are within the world's population, catalogue and slots.
    public func probability(user: Int, item: Int, position: Int) -> Double {
        let group = members[groupOfUser[user]]
        var sum = 0.0
        for other in group { sum += world.clickProbability(user: other, item: item, position: position) }
        return sum / Double(group.count)
    }
}

extension ClickOracle {
    /// The two reference click probabilities of each row's logged item at its logged slot: the true click model's
    /// (the row's own user) and the feature-only model's (``FeatureOnlyClickModel``), both in (0, 1).
    /// - Parameters:
    ///   - actions: the logged item of each row.
    ///   - positions: the logged slot of each row.
    public func referenceProbabilities(actions: [Int], positions: [Int]) -> (trueModel: [Double], featureOnly: [Double]) {
        let featureOnly = FeatureOnlyClickModel(world: world)
        var truth: [Double] = []
        var seen: [Double] = []
        truth.reserveCapacity(users.count)
        seen.reserveCapacity(users.count)
        for (row, user) in users.enumerated() {
            truth.append(world.clickProbability(user: Int(user), item: actions[row], position: positions[row]))
            seen.append(featureOnly.probability(user: Int(user), item: actions[row], position: positions[row]))
        }
        return (truth, seen)
    }
}
