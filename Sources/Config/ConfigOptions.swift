import ArgumentParser

/// `--config` and `--print-config`, for every command that reads a configuration file. The
/// values themselves are read by ``ConfiguredCommand`` before ArgumentParser runs; these
/// declarations make the flags parse and show in `--help`.
public struct ConfigOptions: ParsableArguments {
    /// The configuration file, read before parsing (see ``ConfigResolver/configPath(arguments:environment:)``).
    @Option(help: "A TOML configuration file (default: $RECPOOL_CONFIG). See docs/OPERATIONS.md.")
    public var config: String?

    /// Print the effective configuration and exit.
    @Flag(help: "Print the effective configuration, with where each value came from, and exit.")
    public var printConfig = false

    /// Creates the defaults.
    public init() {}
}
