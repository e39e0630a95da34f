import ArgumentParser
import RecWire

/// Which options of a command hold text (`String`, `String?` or `[String]`), found by reflecting on the command's
/// property wrappers, `@OptionGroup`s included. ArgumentParser's own description of a command names no value types,
/// and any TOML scalar has a text form: without this, `id = 1e300` in a configuration file became the worker id
/// `"1e+300"` and `state-dir = -1` the folder `-1`, where a string was due.
///
/// ArgumentParser describes a command's arguments in the order it reflects them (its own `help` and `version` come
/// after), so the reflected wrappers, in that order, line up with the description's arguments: an option with a
/// custom long name (`--data-dir` for `dataDirectory`) is then matched by position. When the two do not line up,
/// the keys are derived from the property names, and a custom-named option is not matched.
enum OptionValueTypes {
    /// What one reflected wrapper is.
    enum Kind: Equatable {
        /// An `@Option`; `text` when its value is `String`, `String?` or `[String]`.
        case option(text: Bool)
        /// A `@Flag`.
        case flag
        /// An `@Argument` (positional).
        case positional
    }

    /// The keys (long names, as ArgumentParser derives them from property names) of `command`'s text options.
    static func textKeys(of command: any ParsableArguments.Type) -> Set<String> {
        Set(reflected(command).compactMap { $0.kind == .option(text: true) ? kebabCase($0.label) : nil })
    }

    /// The keys of `command`'s text options, lined up with ArgumentParser's description of it: `described` is each
    /// described argument's kind (`option`, `flag`, `positional`) and long name, in the description's order.
    static func textKeys(of command: any ParsableArguments.Type, described: [(kind: String, key: String?)]) -> Set<String> {
        optionKeys(of: command, described: described) { $0.kind == .option(text: true) }
    }

    /// The keys of `command`'s number options (an integer or floating-point value, or an optional or array of one),
    /// lined up as ``textKeys(of:described:)`` lines them up: a configuration file must give them a TOML number.
    static func numberKeys(of command: any ParsableArguments.Type, described: [(kind: String, key: String?)]) -> Set<String> {
        optionKeys(of: command, described: described) { $0.number }
    }

    /// The keys of the options of `command` whose reflected wrapper `matches`, lined up with its description.
    private static func optionKeys(
        of command: any ParsableArguments.Type, described: [(kind: String, key: String?)],
        matching matches: ((kind: Kind, label: String, number: Bool)) -> Bool
    ) -> Set<String> {
        var keys = Set<String>()
        var next = 0
        for wrapper in reflected(command) {
            guard next < described.count else { return textKeys(of: command) }
            let argument = described[next]
            let expected = switch wrapper.kind {
            case .option: "option"
            case .flag: "flag"
            case .positional: "positional"
            }
            guard argument.kind == expected else {
                return Set(reflected(command).compactMap { matches($0) ? kebabCase($0.label) : nil })
            }
            next += 1
            if case .option = wrapper.kind, matches(wrapper), let key = argument.key { keys.insert(key) }
            // A flag with an inversion (`--restore-best` / `--no-restore-best`, `--enable-x` / `--disable-x`) is
            // described twice.
            if wrapper.kind == .flag, let key = argument.key, next < described.count, described[next].kind == "flag",
                let inverse = described[next].key,
                inverse == "no-\(key)" || (key.hasPrefix("enable-") && inverse == "disable-" + key.dropFirst(7))
            {
                next += 1
            }
        }
        return keys
    }

    /// Every option, flag and argument wrapper of `command`, `@OptionGroup`s expanded in place, with its property name.
    static func reflected(_ command: any ParsableArguments.Type) -> [(kind: Kind, label: String, number: Bool)] {
        var out: [(kind: Kind, label: String, number: Bool)] = []
        collect(command.init(), into: &out, depth: 0)
        return out
    }

    private static func collect(_ instance: Any, into out: inout [(kind: Kind, label: String, number: Bool)], depth: Int) {
        guard depth < 8 else { return }
        for child in Mirror(reflecting: instance).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            let wrapper = type(of: child.value)
            let name = String(label.dropFirst())
            if let option = wrapper as? any OptionValueProbe.Type {
                out.append((.option(text: option.holdsText), name, option.holdsNumber))
            } else if wrapper is any FlagProbe.Type {
                out.append((.flag, name, false))
            } else if wrapper is any ArgumentProbe.Type {
                out.append((.positional, name, false))
            } else if let group = wrapper as? any OptionGroupProbe.Type {
                collect(group.groupType.init(), into: &out, depth: depth + 1)
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
    /// Whether the option's value is a number: an integer or floating-point type, or an optional or array of one.
    static var holdsNumber: Bool { get }
}

extension Option: OptionValueProbe {
    static var holdsText: Bool { Value.self == String.self || Value.self == String?.self || Value.self == [String].self }
    static var holdsNumber: Bool { NumberProbe.isNumber(Value.self) }
}

/// Recognises number types through reflection, as ``OptionValueProbe/holdsNumber`` needs.
enum NumberProbe {
    /// Whether `type` is `BinaryInteger` or `BinaryFloatingPoint`, or an `Optional` or `Array` of one.
    static func isNumber(_ type: Any.Type) -> Bool {
        if type is any BinaryInteger.Type || type is any BinaryFloatingPoint.Type { return true }
        if let wrapped = type as? any WrappingProbe.Type { return isNumber(wrapped.wrapped) }
        return false
    }
}

/// An `Optional` or `Array`, seen through reflection: the type it wraps.
protocol WrappingProbe {
    /// The wrapped (element) type.
    static var wrapped: Any.Type { get }
}

extension Optional: WrappingProbe {
    static var wrapped: Any.Type { Wrapped.self }
}

extension Array: WrappingProbe {
    static var wrapped: Any.Type { Element.self }
}

/// An `@OptionGroup` wrapper's group type, seen through reflection.
protocol OptionGroupProbe {
    /// The group's type, whose own options belong to the command.
    static var groupType: any ParsableArguments.Type { get }
}

extension OptionGroup: OptionGroupProbe {
    static var groupType: any ParsableArguments.Type { Value.self }
}

/// A `@Flag` wrapper, seen through reflection.
protocol FlagProbe {}

extension Flag: FlagProbe {}

/// An `@Argument` wrapper, seen through reflection.
protocol ArgumentProbe {}

extension Argument: ArgumentProbe {}
