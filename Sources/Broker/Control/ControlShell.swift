/// A control-plane state machine with no I/O: events in, actions out (``OnlineCore``, ``JobCore``).
protocol ControlCore {
    /// What happens: an input, a tick, or the result of an action the shell performed.
    associatedtype Event
    /// What the shell is to do.
    associatedtype Action
    /// Handles one event and appends the resulting actions to `actions`, in the order to perform them.
    mutating func handle(_ event: Event, nowMs: UInt64, into actions: inout [Action])
}

/// The imperative shell around a ``ControlCore`` (``OnlineCoordinator``, ``JobCoordinator``): it performs
/// the actions on the store and the reactor and decides nothing itself.
protocol ControlShell: AnyObject {
    associatedtype Core: ControlCore
    /// The state machine.
    var core: Core { get set }
    /// Performs one action; one that touches the store feeds its result back through ``run(_:nowMs:)``.
    func perform(_ action: Core.Action, nowMs: UInt64)
}

extension ControlShell {
    /// Feeds `event` to the core and performs what it returns, in order; a store result is fed back at
    /// once, so its actions run before the rest.
    func run(_ event: Core.Event, nowMs: UInt64) {
        var actions: [Core.Action] = []
        core.handle(event, nowMs: nowMs, into: &actions)
        for action in actions { perform(action, nowMs: nowMs) }
    }
}
