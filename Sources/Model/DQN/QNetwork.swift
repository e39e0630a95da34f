/// The two shapes of Q-network RecPool trains.
public enum QNetworkForm: Sendable, Equatable {
    /// `Q(s, ·)`: the state goes in and one Q-value per action comes out.
    case actionOutputs(actionCount: Int)
    /// `Q(s, a)`: the state concatenated with the item's features goes in and one value comes
    /// out, so an item never seen in training (cold start on the item side) can still be scored.
    case itemInput(itemWidth: Int)
}

/// A Q-function: an ``MLP`` with an identity output, in one of the two ``QNetworkForm``s.
public struct QNetwork: Sendable, Equatable {
    /// The network; its output activation is identity.
    public var network: MLP
    /// Which form the network has.
    public var form: QNetworkForm
    /// State features per row.
    public let stateWidth: Int

    /// Creates a Glorot-initialised Q-network.
    public init(stateWidth: Int, form: QNetworkForm, hiddenSizes: [Int], seed: UInt64) {
        self.stateWidth = stateWidth
        self.form = form
        switch form {
        case .actionOutputs(let n):
            network = MLP(inputWidth: stateWidth, hiddenSizes: hiddenSizes, outputWidth: n, outputActivation: .identity, seed: seed)
        case .itemInput(let w):
            network = MLP(inputWidth: stateWidth + w, hiddenSizes: hiddenSizes, outputWidth: 1, outputActivation: .identity, seed: seed)
        }
    }

    /// Wraps an existing network, checking that its widths fit the form.
    public init(network: MLP, form: QNetworkForm, stateWidth: Int) {
        switch form {
        case .actionOutputs(let n):
            precondition(network.inputWidth == stateWidth && network.outputWidth == n, "QNetwork: widths do not fit the form")
        case .itemInput(let w):
            precondition(network.inputWidth == stateWidth + w && network.outputWidth == 1, "QNetwork: widths do not fit the form")
        }
        self.network = network
        self.form = form
        self.stateWidth = stateWidth
    }

    /// The network's inputs for every (state, item) pair: row `i·n + j` is `states[i] ‖ items[j]`.
    static func pairs(states: Matrix, items: Matrix) -> Matrix {
        let n = items.rows
        var out = [Float]()
        out.reserveCapacity(states.rows * n * (states.cols + items.cols))
        for i in 0..<states.rows {
            let s = states.values[(i * states.cols)..<((i + 1) * states.cols)]
            for j in 0..<n {
                out.append(contentsOf: s)
                out.append(contentsOf: items.values[(j * items.cols)..<((j + 1) * items.cols)])
            }
        }
        return Matrix(rows: states.rows * n, cols: states.cols + items.cols, values: out)
    }

    /// Q-values for a batch of states, `states.rows × actions`.
    /// - Parameter items: The candidate items' features (required for ``QNetworkForm/itemInput(itemWidth:)``).
    public func qValues(states: Matrix, items: Matrix? = nil) -> Matrix {
        switch form {
        case .actionOutputs:
            return network.forward(states)
        case .itemInput:
            guard let items else { preconditionFailure("QNetwork: the item-input form needs candidate items") }
            let q = network.forward(Self.pairs(states: states, items: items))
            return Matrix(rows: states.rows, cols: items.rows, values: q.values)
        }
    }
}
