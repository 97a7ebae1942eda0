import ArgumentParser

/// The names a scaffolded plugin uses, derived once from its name and proto
/// package the way crmd, protoc-c and protoc-gen-swift derive theirs.
struct ScaffoldNames {
    /// The plugin's name: crmd's rule, 1-32 lowercase letters and digits, a letter first.
    let plugin: String
    /// The proto package, e.g. "acme.notes.v1": dot-separated lowercase words.
    let package: String

    init(plugin: String, package: String?) throws {
        guard Self.isWord(plugin), plugin.count <= 32 else {
            throw ValidationError("plugin name \"\(plugin)\" must be 1-32 lowercase letters and digits, a letter first")
        }
        let package = package ?? "\(plugin).v1"
        guard package.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isWord) else {
            throw ValidationError("--package \"\(package)\" must be dot-separated words of lowercase letters and digits")
        }
        self.plugin = plugin
        self.package = package
    }

    private static func isWord(_ word: some StringProtocol) -> Bool {
        guard let first = word.first, ("a"..."z").contains(first) else { return false }
        return word.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    private var components: [String] { package.split(separator: ".").map(String.init) }

    /// The service and the Swift target's stem: "Acmenotes".
    var service: String { plugin.prefix(1).uppercased() + plugin.dropFirst() }
    /// "/acme.notes.v1.Acmenotes/", the start of every method's full name.
    var methodPrefix: String { "/\(package).\(service)/" }
    /// The .proto's path under proto/: "acme/notes/v1/acmenotes.proto".
    var protoPath: String { components.joined(separator: "/") + "/\(plugin).proto" }
    /// protoc-c's type prefix: "Acme__Notes__V1__".
    var cTypePrefix: String { components.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "__") + "__" }
    /// protoc-c's function prefix: "acme__notes__v1__".
    var cFunctionPrefix: String { components.joined(separator: "__") + "__" }
    /// protoc-gen-swift's type prefix: "Acme_Notes_V1_".
    var swiftTypePrefix: String { components.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "_") + "_" }
    /// How the .proto names the method option: "(crm.options.v1.method)", or
    /// with a leading dot when a package "crm" inside this one would hide it.
    var methodOption: String { components.dropFirst().contains("crm") ? "(.crm.options.v1.method)" : "(crm.options.v1.method)" }
    /// The Swift plugin's target: "AcmenotesPlugin".
    var swiftTarget: String { service + "Plugin" }
}
