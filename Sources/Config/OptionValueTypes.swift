import ArgumentParser
import RecWire

/// Which options of a command hold text (`String`, `String?` or `[String]`), found by reflecting on the command's
/// property wrappers, `@OptionGroup`s included. ArgumentParser's own description of a command names no value types,
/// and any TOML scalar has a text form: without this, `id = 1e300` in a configuration file became the worker id
/// `"1e+300"` and `state-dir = -1` the folder `-1`, where a string was due. An option with a custom long name is not
/// matched (it is never refused for its type, as before).
enum OptionValueTypes {
    /// The keys (long names, as ArgumentParser derives them from property names) of `command`'s text options.
    static func textKeys(of command: any ParsableArguments.Type) -> Set<String> {
        var keys = Set<String>()
        collect(command.init(), into: &keys, depth: 0)
        return keys
    }

    private static func collect(_ instance: Any, into keys: inout Set<String>, depth: Int) {
        guard depth < 8 else { return }
        for child in Mirror(reflecting: instance).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            let wrapper = type(of: child.value)
            if let option = wrapper as? any OptionValueProbe.Type {
                if option.holdsText { keys.insert(kebabCase(String(label.dropFirst()))) }
            } else if let group = wrapper as? any OptionGroupProbe.Type {
                collect(group.groupType.init(), into: &keys, depth: depth + 1)
            }
        }
    }

    /// `curveServerKey` → `curve-server-key`, `stateDir` → `state-dir`: ArgumentParser's long name for a property,
    /// the words as the wire's JSON keys split them (``WireJSON/snakeCase(_:)``), joined by `-`.
    static func kebabCase(_ name: String) -> String {
        WireJSON.snakeCase(name).replacingOccurrences(of: "_", with: "-")
    }
}

/// An `@Option` wrapper's value type, seen through reflection.
protocol OptionValueProbe {
    /// Whether the option's value is text: `String`, `String?` or `[String]`.
    static var holdsText: Bool { get }
}

extension Option: OptionValueProbe {
    static var holdsText: Bool { Value.self == String.self || Value.self == String?.self || Value.self == [String].self }
}

/// An `@OptionGroup` wrapper's group type, seen through reflection.
protocol OptionGroupProbe {
    /// The group's type, whose own options belong to the command.
    static var groupType: any ParsableArguments.Type { get }
}

extension OptionGroup: OptionGroupProbe {
    static var groupType: any ParsableArguments.Type { Value.self }
}
