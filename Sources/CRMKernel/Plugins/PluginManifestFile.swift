import Foundation

/// The metadata that sits beside a plugin's shared library as
/// `<name>.plugin.json`, so the host can choose and order plugins without
/// running their code (a dlopened Swift image can never be unloaded).
public struct PluginManifestFile: Decodable, Sendable {
    public struct Dependency: Decodable, Sendable {
        public var name: String
        public var version_range: String?
    }

    public var name: String
    public var version: String
    public var abi_version: UInt32
    /// The library's file name, relative to the manifest's folder.
    public var library: String
    public var description: String?
    public var dependencies: [Dependency]?

    static let suffix = ".plugin.json"

    static func read(_ path: String) throws -> PluginManifestFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginLoadError("cannot read manifest \(path)")
        }
        do {
            return try JSONDecoder().decode(PluginManifestFile.self, from: data)
        } catch {
            throw PluginLoadError("manifest \(path) is not valid: \(error)")
        }
    }
}

/// Why a plugin was kept out; the text is shown by `Plugins.List`.
struct PluginLoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
