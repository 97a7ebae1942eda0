import ArgumentParser

/// Options every subcommand takes that may also come before the subcommand's
/// name (`crmctl --socket PATH health`), as in git or kubectl.
/// swift-argument-parser reads a subcommand's options only after its name, so
/// `main` lifts these out of the leading arguments before parsing.
enum GlobalOptions {
    /// `--socket` given before the subcommand. One given after it wins, as a
    /// later flag does.
    nonisolated(unsafe) static var socket: String?

    /// Removes the global options that come before the subcommand from
    /// `arguments`, keeping their values. Anything else (`--help`, an unknown
    /// option) stays for the parser.
    static func extract(from arguments: inout [String]) throws {
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "--" {
            let argument = arguments[index]
            if argument == "--socket" {
                guard index + 1 < arguments.count, !arguments[index + 1].isEmpty else {
                    throw ValidationError("--socket needs a path")
                }
                socket = arguments[index + 1]
                arguments.removeSubrange(index...index + 1)
            } else if argument.hasPrefix("--socket=") {
                let value = String(argument.dropFirst("--socket=".count))
                guard !value.isEmpty else { throw ValidationError("--socket needs a path") }
                socket = value
                arguments.remove(at: index)
            } else {
                index += 1
            }
        }
    }
}
